/**
 * Optimisers that update Float32Array parameters in place, exactly as `torch.optim.Adam` and `torch.optim.SGD`
 * (torch 1.13, single-tensor path) do. They run outside the ONNX graph on the CPU: in-graph Adam measured
 * 1 070 ms/step on ResNet-50 (fresh output allocation) against 65-81 ms for a host loop (docs/engine.md).
 * Adam's arithmetic is the WebAssembly kernel's (lib/optim/adam_kernel.ts); its two-thread path goes through
 * the worker client (lib/optim/adam_worker_client.ts); the in-graph Adam of a resident step is
 * lib/optim/adam_graph.ts.
 * @module
 */
import { adamUpdate, addSteps } from "./adam_kernel.ts";
import { type AdamJob, AdamWorker } from "./adam_worker_client.ts";

/** Hyper-parameters of {@linkcode Adam}; defaults are torch's. */
export interface AdamOptions {
  /** learning rate; default 1e-3 */
  lr?: number;
  /** decay of the first-moment average; default 0.9 */
  beta1?: number;
  /** decay of the second-moment average; default 0.999 */
  beta2?: number;
  /** added to the denominator for numerical stability; default 1e-8 */
  eps?: number;
  /** L2 penalty added to the gradient (torch's `weight_decay`, not AdamW's decoupled decay). */
  weightDecay?: number;
}

/** The optimiser state a checkpoint must keep to resume bit-identically. */
export interface OptimizerState {
  /** which optimiser the state belongs to (SGD keeps no second moment) */
  kind: "adam" | "sgd";
  /** optimiser steps taken so far (Adam's bias correction depends on it) */
  step: number;
  /** per parameter name: first moment (Adam) or momentum buffer (SGD) */
  m: Map<string, Float32Array>;
  /** per parameter name: second moment (Adam only) */
  v: Map<string, Float32Array>;
}

/** Common interface of the optimisers. */
export interface Optimizer {
  /** Applies one update to every parameter that has a gradient; call once per training step. */
  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>): void;
  /** the moments and step count a checkpoint saves and restores */
  readonly state: OptimizerState;
}

/**
 * Adam as `torch.optim.Adam`: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
 *
 * @example
 * ```ts
 * import { Adam } from "./optimizers.ts";
 * const p = new Map([["w", new Float32Array([1, 2])]]);
 * const g = new Map([["w", new Float32Array([0.5, -0.5])]]);
 * new Adam({ lr: 0.1 }).step(p, g);
 * // the first Adam step moves each weight by lr against the gradient's sign
 * if (Math.abs(p.get("w")![0] - 0.9) > 1e-6) throw new Error("unexpected");
 * ```
 */
export class Adam implements Optimizer {
  /** learning rate */
  readonly lr: number;
  /** decay of the first-moment average */
  readonly beta1: number;
  /** decay of the second-moment average */
  readonly beta2: number;
  /** denominator term for numerical stability */
  readonly eps: number;
  /** L2 penalty added to the gradient (0 = none) */
  readonly weightDecay: number;
  /** per-parameter moments and the step count, created lazily on the first step */
  readonly state: OptimizerState = { kind: "adam", step: 0, m: new Map(), v: new Map() };

  /** Throws a RangeError for a non-positive learning rate or a beta outside [0, 1). */
  constructor(o: AdamOptions = {}) {
    this.lr = o.lr ?? 1e-3;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    if (!(this.lr > 0)) throw new RangeError(`Learning rate must be positive, got ${this.lr}`);
    for (const [k, b] of [["beta1", this.beta1], ["beta2", this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`Adam ${k} must be in [0, 1), got ${b}`);
    }
  }

  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>): void {
    if (this.#failed) throw this.#failed;
    const t = ++this.state.step;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this;
    const { stepSize, bc2Sqrt } = adamScalars(t, this);
    for (const [name, g] of grads) {
      const p = checkedParam(params, name, g);
      const [m, v] = this.#moments(name, p.length);
      adamUpdate(p, g, m, v, b1, b2, wd, stepSize, bc2Sqrt, eps);
    }
  }

  /**
   * The same update as {@linkcode Adam.step}, bit for bit, with the larger tensors' moments on a worker thread
   * so that both cores stream memory (the update is bandwidth-bound: ResNet-50's 23.5 M parameters 68 → 46 ms
   * a step on this machine's two cores). The worker takes the gradient and both moments of its share
   * (transferred, not copied) and sends each tensor back as it is done, its step −lr·m̂/(√v̂ + ε) in the
   * gradient's buffer; this thread updates the rest meanwhile and adds those steps to the parameters, which
   * never leave it (they are the caller's arrays, fed to onnxruntime). The gradients passed in are consumed
   * (their buffers detached) and the moments' arrays replaced: read `state` after the promise settles.
   * Runs as {@linkcode Adam.step} with weight decay (the worker would need the parameters), for small nets
   * (below {@linkcode PARALLEL_MIN_ELEMENTS}) and where no worker starts. A worker that fails mid-step has
   * taken moments with it: this optimiser then throws on every later step (resume from a checkpoint).
   * Call {@linkcode Adam.close} when done.
   */
  async stepAsync(params: Map<string, Float32Array>, grads: Map<string, Float32Array>): Promise<void> {
    if (this.#failed) throw this.#failed;
    // all checked before anything moves to the worker
    let total = 0;
    for (const [name, g] of grads) total += checkedParam(params, name, g).length;
    if (this.weightDecay !== 0 || total < PARALLEL_MIN_ELEMENTS) return this.step(params, grads);
    // the worker's share: whole tensors, largest first, that own their buffers (a view cannot be transferred)
    const names = [...grads.keys()].sort((a, b) => grads.get(b)!.length - grads.get(a)!.length);
    const away: string[] = [], here = new Map<string, Float32Array>();
    let share = 0;
    for (const name of names) {
      const g = grads.get(name)!;
      if (share < WORKER_SHARE * total && ownsBuffer(g)) {
        away.push(name);
        share += g.length;
      } else here.set(name, g);
    }
    // one tensor too large to balance (CBR-Small's last conv holds 3/4 of its weights): the worker's share
    // would keep this thread waiting longer than doing it all here
    if (share > (WORKER_SHARE + 0.1) * total) return this.step(params, grads);
    const worker = await this.#startWorker();
    if (!worker) return this.step(params, grads);
    const t = ++this.state.step;
    const { stepSize, bc2Sqrt } = adamScalars(t, this);
    const job: AdamJob = {
      b1: this.beta1,
      b2: this.beta2,
      stepSize,
      bc2Sqrt,
      eps: this.eps,
      g: [],
      m: [],
      v: [],
    };
    for (const name of away) {
      const [m, v] = this.#moments(name, grads.get(name)!.length).map((a) => ownsBuffer(a) ? a : a.slice());
      job.g.push(grads.get(name)!);
      job.m.push(m);
      job.v.push(v);
    }
    const done = worker.run(job, (i, g, m, v) => {
      const name = away[i];
      this.state.m.set(name, m);
      this.state.v.set(name, v);
      addSteps(params.get(name)!, g);
    });
    for (const [name, g] of here) {
      const [m, v] = this.#moments(name, g.length);
      adamUpdate(params.get(name)!, g, m, v, this.beta1, this.beta2, 0, stepSize, bc2Sqrt, this.eps);
    }
    try {
      await done;
    } catch (e) {
      for (const name of away) {
        this.state.m.delete(name);
        this.state.v.delete(name);
      }
      this.#failed = new Error(`Adam's moments are lost (${(e as Error).message}); resume from a checkpoint`);
      throw this.#failed;
    }
  }

  /** Stops the worker {@linkcode Adam.stepAsync} started (a later call starts another). */
  close(): void {
    // as the idle timer does: the next step sees a stopped worker and starts another
    this.#worker?.close();
  }

  #worker?: AdamWorker;
  #noWorker = false;
  #failed?: Error;

  // a worker stopped while idle is started again; one that could not start is not tried again
  async #startWorker(): Promise<AdamWorker | undefined> {
    if (this.#noWorker) return undefined;
    if (!this.#worker?.alive) this.#worker = new AdamWorker();
    if (await this.#worker.ready) return this.#worker;
    this.#worker = undefined;
    this.#noWorker = true;
    return undefined;
  }

  #moments(name: string, n: number): [Float32Array, Float32Array] {
    let m = this.state.m.get(name), v = this.state.v.get(name);
    if (!m || !v) {
      m = new Float32Array(n);
      v = new Float32Array(n);
      this.state.m.set(name, m);
      this.state.v.set(name, v);
    }
    return [m, v];
  }
}

/**
 * Adam's bias corrections at step `t` (from 1), in float64 as torch computes them: {@linkcode Adam} and the
 * in-graph Adam's per-step scalar inputs.
 */
export function adamScalars(
  t: number,
  o: { lr: number; beta1: number; beta2: number },
): { stepSize: number; bc2Sqrt: number } {
  if (!(Number.isInteger(t) && t >= 1)) throw new RangeError(`Adam step must be an integer ≥ 1, got ${t}`);
  return { stepSize: o.lr / (1 - o.beta1 ** t), bc2Sqrt: Math.sqrt(1 - o.beta2 ** t) };
}

/** Fewest parameters for which {@linkcode Adam.stepAsync} splits the update over two threads. */
export const PARALLEL_MIN_ELEMENTS = 1 << 20;

// The worker streams 6 arrays over its share (g, m, v in; m, v, step out), this thread 7 over the rest and 3
// to add the worker's steps; measured even at 0.6 of the elements (ResNet-50: 25 ms here, 18 more waiting).
const WORKER_SHARE = 0.6;

/** The parameter `grads` names, of the gradient's length (a RangeError otherwise). */
function checkedParam(params: Map<string, Float32Array>, name: string, g: Float32Array): Float32Array {
  const p = params.get(name);
  if (!p) throw new RangeError(`Gradient for unknown parameter ${name}`);
  if (p.length !== g.length) {
    throw new RangeError(`Gradient of ${name} has ${g.length} elements, the parameter ${p.length}`);
  }
  return p;
}

function ownsBuffer(a: Float32Array): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength &&
    !(a.buffer instanceof SharedArrayBuffer);
}

/** Hyper-parameters of {@linkcode SGD}; defaults are torch's (no momentum). */
export interface SgdOptions {
  /** learning rate (required, as in torch) */
  lr: number;
  /** momentum factor; default 0 (plain SGD) */
  momentum?: number;
  /** scales the gradient's share of the momentum buffer by 1 − dampening; default 0 */
  dampening?: number;
  /** use Nesterov momentum; default false */
  nesterov?: boolean;
  /** L2 penalty added to the gradient; default 0 */
  weightDecay?: number;
}

/** SGD with momentum as `torch.optim.SGD` (the first step's buffer is the gradient itself). */
export class SGD implements Optimizer {
  /** the options with torch's defaults filled in */
  readonly o: Required<SgdOptions>;
  /** momentum buffers (in `m`; `v` stays empty) and the step count */
  readonly state: OptimizerState = { kind: "sgd", step: 0, m: new Map(), v: new Map() };

  /** Throws a RangeError for a non-positive learning rate. */
  constructor(o: SgdOptions) {
    this.o = {
      lr: o.lr,
      momentum: o.momentum ?? 0,
      dampening: o.dampening ?? 0,
      nesterov: o.nesterov ?? false,
      weightDecay: o.weightDecay ?? 0,
    };
    if (!(o.lr > 0)) throw new RangeError(`Learning rate must be positive, got ${o.lr}`);
  }

  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>): void {
    this.state.step++;
    const { lr, momentum: mu, dampening, nesterov, weightDecay: wd } = this.o;
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) throw new RangeError(`Gradient for unknown parameter ${name}`);
      let buf = this.state.m.get(name);
      const first = !buf;
      if (mu !== 0 && !buf) {
        buf = new Float32Array(p.length);
        this.state.m.set(name, buf);
      }
      for (let i = 0; i < p.length; i++) {
        let d = wd === 0 ? g[i] : g[i] + wd * p[i];
        if (mu !== 0) {
          buf![i] = first ? d : mu * buf![i] + (1 - dampening) * d;
          d = nesterov ? d + mu * buf![i] : buf![i];
        }
        p[i] -= lr * d;
      }
    }
  }
}
