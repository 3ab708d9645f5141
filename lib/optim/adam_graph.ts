/**
 * Adam as ONNX nodes, for training steps whose state stays on a GPU: the graph takes each parameter's
 * moments as inputs and returns the updated parameter and moments, so nothing but the batch and the loss
 * has to cross to the host. Same arithmetic as {@linkcode Adam} (`torch.optim.Adam`, float32 moments, L2
 * weight decay added to the gradient), with the bias corrections fed per step as two scalars. On the CPU the
 * host {@linkcode Adam} (WebAssembly) stays faster (docs/engine.md: in-graph Adam cost ~1 s per ResNet-50
 * step there).
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Value } from "../graph/types.ts";
import type { AdamOptions } from "./optimizers.ts";

/** The names an in-graph Adam adds to its graph, and where each parameter lies in the flat moments. */
export interface AdamGraphIo {
  /** input name of the float32 scalar lr / (1 − β₁ᵗ) */
  stepSize: string;
  /** input name of the float32 scalar √(1 − β₂ᵗ) */
  bc2Sqrt: string;
  /** input name of the first moments of all parameters, flattened and concatenated ([size]) */
  m: string;
  /** input name of the flat second moments ([size]) */
  v: string;
  /** output name of the updated flat first moments */
  mOut: string;
  /** output name of the updated flat second moments */
  vOut: string;
  /**
   * output name of a float32 scalar that is 0 when every gradient is finite and NaN otherwise (Σ g·0): the
   * gradients stay on the device, so this is what the runtime checks before adopting the update
   */
  gradCheck: string;
  /** total number of parameter values (the length of the flat moments) */
  size: number;
  /** parameter name → its elements in the flat moments */
  offsets: Map<string, { offset: number; length: number }>;
  /** parameter name → output name of its updated value */
  paramOut: Map<string, string>;
}

// WebGPU shaders bind each input and output as a storage buffer (16 per shader on lavapipe): Concat and
// Split over all the parameters of a net go in a tree of at most FANOUT per node.
const FANOUT = 8;

function concatTree(g: Graph, xs: Value[]): Value {
  if (xs.length === 1) return xs[0];
  if (xs.length <= FANOUT) return g.op.Concat(xs, { axis: 0 });
  const per = Math.ceil(xs.length / FANOUT), groups: Value[] = [];
  for (let i = 0; i < xs.length; i += per) groups.push(concatTree(g, xs.slice(i, i + per)));
  return concatTree(g, groups);
}

function splitTree(g: Graph, x: Value, sizes: number[]): Value[] {
  if (sizes.length === 1) return [x];
  if (sizes.length <= FANOUT) return g.op.Split(x, sizes, { axis: 0 });
  const per = Math.ceil(sizes.length / FANOUT), groups: number[][] = [];
  for (let i = 0; i < sizes.length; i += per) groups.push(sizes.slice(i, i + per));
  const parts = splitTree(g, x, groups.map((s) => s.reduce((a, b) => a + b, 0)));
  return groups.flatMap((s, i) => splitTree(g, parts[i], s));
}

/**
 * Appends Adam over all `params` to `g` as one update of their concatenation: m ← β₁m + (1−β₁)g,
 * v ← β₂v + ((1−β₂)g)g, p ← p − stepSize · (m / (√v / bc2Sqrt + ε)), with g ← g + weightDecay · p first when
 * weightDecay ≠ 0 — the same float32 arithmetic per element as per tensor, in 13 elementwise ops for the
 * whole net instead of 13 per tensor (ResNet-50 has 161: dispatches are what a GPU step pays for). The
 * moments are flat inputs `adam.m` / `adam.v` (outputs `new.adam.m` / `new.adam.v`), each parameter's
 * slice given by `offsets`; the new parameters are outputs `new.<p>`. β₁, β₂, ε and the weight decay are
 * constants of the graph; the learning rate enters through the step-size input, so it may change.
 *
 * @example
 * ```ts
 * import { Graph } from "../graph/graph.ts";
 * import { appendAdam } from "./adam_graph.ts";
 * const g = new Graph("adam");
 * const w = g.input("w", "float32", [3]);
 * const io = appendAdam(g, [w], new Map([["w", g.input("grad.w", "float32", [3])]]));
 * if (io.paramOut.get("w") !== "new.w" || io.size !== 3) throw new Error("unexpected");
 * ```
 */
export function appendAdam(
  g: Graph,
  params: readonly Value[],
  grads: ReadonlyMap<string, Value>,
  o: Omit<AdamOptions, "lr"> = {},
): AdamGraphIo {
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8, wd = o.weightDecay ?? 0;
  for (const [k, b] of [["beta1", b1], ["beta2", b2]] as const) {
    if (!(b >= 0 && b < 1)) throw new RangeError(`Adam ${k} must be in [0, 1), got ${b}`);
  }
  if (params.length === 0) throw new RangeError("Adam graph: no parameters");
  const offsets = new Map<string, { offset: number; length: number }>();
  let size = 0;
  for (const p of params) {
    if (!grads.get(p.name)) throw new RangeError(`Adam graph: no gradient for parameter ${p.name}`);
    const length = p.shape.reduce((a, b) => a * b, 1);
    offsets.set(p.name, { offset: size, length });
    size += length;
  }
  const io: AdamGraphIo = {
    stepSize: "adam.step_size",
    bc2Sqrt: "adam.bc2_sqrt",
    m: "adam.m",
    v: "adam.v",
    mOut: "new.adam.m",
    vOut: "new.adam.v",
    gradCheck: "adam.grad_check",
    size,
    offsets,
    paramOut: new Map(),
  };
  const stepSize = g.input(io.stepSize, "float32", []);
  const bc2Sqrt = g.input(io.bc2Sqrt, "float32", []);
  const m = g.input(io.m, "float32", [size]);
  const v = g.input(io.v, "float32", [size]);
  g.scope("adam", () => {
    const c = (x: number) => g.constant(x, "float32");
    const flat = (xs: Value[]) =>
      concatTree(g, xs.map((x) => g.op.Reshape(x, [x.shape.reduce((a, b) => a * b, 1)])));
    const p = flat([...params]);
    const grad = flat(params.map((q) => grads.get(q.name)!));
    g.output(g.op.ReduceSum(g.op.Mul(grad, c(0)), [0], { keepdims: 0 }), io.gradCheck);
    const gr = wd === 0 ? grad : g.op.Add(grad, g.op.Mul(p, c(wd)));
    const m2 = g.op.Add(g.op.Mul(m, c(b1)), g.op.Mul(gr, c(1 - b1)));
    // torch's order of operations, as adam.wat
    const v2 = g.op.Add(g.op.Mul(v, c(b2)), g.op.Mul(g.op.Mul(gr, c(1 - b2)), gr));
    const denom = g.op.Add(g.op.Div(g.op.Sqrt(v2), bc2Sqrt), c(eps));
    const p2 = g.op.Sub(p, g.op.Mul(g.op.Div(m2, denom), stepSize));
    const parts = splitTree(g, p2, params.map((q) => offsets.get(q.name)!.length));
    params.forEach((q, i) => {
      const name = `new.${q.name}`;
      g.output(g.op.Reshape(parts[i], q.shape), name);
      io.paramOut.set(q.name, name);
    });
    g.output(m2, io.mOut);
    g.output(v2, io.vOut);
  });
  return io;
}
