/**
 * Finite-difference harness for gradient rules. A case builds y = f(inputs) in a fresh graph; the harness
 * forms the scalar loss L = Σ s ⊙ y with a random seed tensor s, asks autodiff for ∇L, and compares the
 * directional derivative ⟨∇L, v⟩ for random directions v with the central difference
 * (L(x + εv) − L(x − εv)) / 2ε, where L(x ± εv) = Σ s ⊙ y is summed in float64 in TypeScript from the y that
 * onnxruntime returns. Every input marked `wrt` is perturbed separately.
 */
import { Graph, typedFrom } from "../../lib/graph/graph.ts";
import type { TensorData } from "../../lib/graph/types.ts";
import type { DType, Value } from "../../lib/graph/types.ts";
import { gradients } from "../../lib/autodiff/gradients.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";
import { Rng } from "../../lib/util/random.ts";

export interface FdInput {
  name: string;
  shape: number[];
  /** Defaults to the case dtype. */
  dtype?: DType;
  /** Fixed data (labels, hand-picked values); default: standard normal draws. */
  data?: TensorData;
  /** Perturb and differentiate this input (default: true for float inputs without fixed data). */
  wrt?: boolean;
  /**
   * Draw a shuffled grid of values 0.05 apart, none within 0.025 of zero, so that no max-pool tie or ReLU
   * kink lies within ε·|v| (< 1e-3) of the point: the function is linear around it.
   */
  separated?: boolean;
}

export interface FdCase {
  name: string;
  dtype: "float32" | "float64";
  inputs: FdInput[];
  build: (g: Graph, v: Record<string, Value>) => Value;
  /** Step size: large (1) is exact for functions linear in the perturbed input; small for smooth ones. */
  eps: number;
  /** Allowed |analytic − numeric| relative to max(|analytic|, |numeric|, floor). */
  rtol: number;
  /** Absolute floor of the comparison scale (guards directional derivatives that are ~0). */
  floor?: number;
  directions?: number;
  seed?: number;
}

export interface FdReport {
  maxErr: number;
  checks: number;
}

function len(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs one case and throws with details when any directional derivative disagrees. */
export async function checkGradients(c: FdCase): Promise<FdReport> {
  const rng = new Rng(c.seed ?? 1234);
  const g = new Graph(c.name.replace(/\W+/g, "_"));
  const vals: Record<string, Value> = {};
  const data: Record<string, TensorData> = {};
  const wrt: Value[] = [];
  for (const inp of c.inputs) {
    const dt = inp.dtype ?? c.dtype;
    const v = g.input(inp.name, dt, inp.shape);
    vals[inp.name] = v;
    const n = len(inp.shape);
    data[inp.name] = inp.data ??
      typedFrom(
        dt,
        inp.separated
          ? rng.shuffle(Array.from({ length: n }, (_, i) => (i - n / 2 + 0.5) * 0.05))
          : Array.from({ length: n }, () => rng.normal()),
      );
    const isFloat = dt === "float32" || dt === "float64";
    if (inp.wrt ?? (isFloat && !inp.data)) wrt.push(v);
  }
  const y = c.build(g, vals);
  const seed = g.input("fd_seed", y.dtype, y.shape);
  const seedData = typedFrom(y.dtype, Array.from({ length: len(y.shape) }, () => rng.normal()));
  const loss = g.op.ReduceSum(g.op.Mul(y, seed), undefined, { keepdims: 0 });
  const grads = gradients(g, loss, wrt);
  g.output(y, "fd_y");
  for (const v of wrt) g.output(grads.get(v.name)!, `fd_grad.${v.name}`);
  const session = await createSession(g.toBytes(), { threads: 1 });
  const run = async (over: Record<string, TensorData>) => {
    const feeds: Record<string, ReturnType<typeof feedTensor>> = { fd_seed: feedTensor(seed, seedData) };
    for (const [k, v] of Object.entries(vals)) feeds[k] = feedTensor(v, over[k] ?? data[k]);
    return await session.run(feeds);
  };
  const lossOf = (yy: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < yy.length; i++) s += seedData[i] as number * yy[i];
    return s;
  };
  const base = await run({});
  let maxErr = 0, checks = 0;
  const failures: string[] = [];
  for (const v of wrt) {
    const grad = base[`fd_grad.${v.name}`].data as Float32Array;
    for (let d = 0; d < (c.directions ?? 3); d++) {
      const dir = Array.from({ length: len(v.shape) }, () => rng.normal());
      let analytic = 0;
      for (let i = 0; i < dir.length; i++) analytic += grad[i] * dir[i];
      const x0 = data[v.name] as Float32Array;
      const plus = typedFrom(v.dtype, Array.from(x0, (x, i) => x + c.eps * dir[i]));
      const minus = typedFrom(v.dtype, Array.from(x0, (x, i) => x - c.eps * dir[i]));
      const lp = lossOf((await run({ [v.name]: plus }))["fd_y"].data as Float32Array);
      const lm = lossOf((await run({ [v.name]: minus }))["fd_y"].data as Float32Array);
      const numeric = (lp - lm) / (2 * c.eps);
      const scale = Math.max(Math.abs(analytic), Math.abs(numeric), c.floor ?? 1e-3);
      const err = Math.abs(analytic - numeric) / scale;
      maxErr = Math.max(maxErr, err);
      checks++;
      if (!(err <= c.rtol)) {
        failures.push(
          `${v.name} dir ${d}: analytic ${analytic} numeric ${numeric} rel err ${err.toExponential(2)}`,
        );
      }
    }
  }
  await session.release();
  if (failures.length) throw new Error(`${c.name}: gradient check failed\n  ${failures.join("\n  ")}`);
  return { maxErr, checks };
}
