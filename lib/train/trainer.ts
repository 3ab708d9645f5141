/**
 * The training runtime: owns the state dict's Float32Arrays, runs the training-step graph with
 * onnxruntime-node, applies Adam in TypeScript, copies the new BN statistics back, and runs the evaluation
 * graph. Tensors handed to onnxruntime wrap the existing arrays (no copy).
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createSession, type Device } from "../graph/session.ts";
import { Adam, type Optimizer } from "../optim/mod.ts";
import { Rng } from "../util/random.ts";
import { buildEvalGraph, buildTrainGraph, type EvalGraph, type ModelFn, type TrainGraph } from "./step.ts";
import { loadStateDict, type StateDict } from "../weights/state_dict.ts";

/** Options of {@linkcode Trainer.create}. */
export interface TrainerOptions {
  /** training batch size (the graph's static batch; every training batch must be full) */
  batch: number;
  /** image height and width in pixels (square inputs) */
  size: number;
  /** evaluation batch (default: the training batch) */
  evalBatch?: number;
  /** Adam learning rate; default 1e-3 */
  lr?: number;
  /** Adam's L2 penalty on the gradient; default 0 */
  weightDecay?: number;
  /** onnxruntime execution provider; default "cpu" */
  device?: Device;
  /** onnxruntime intra-op threads; default: onnxruntime's choice (all cores) */
  threads?: number;
  /** seeds the dropout masks (together with the step number) */
  seed?: number;
  /** weight of the auxiliary classifier's loss (Inception-v3); default 0.4 */
  auxWeight?: number;
}

/** What one evaluation pass returns. */
export interface EvalResult {
  /** N×classes softmax probabilities, row-major */
  probs: Float32Array;
  /** number of classes (columns of `probs`) */
  classes: number;
  /** tap name → N×C activations (4-D stages averaged over space) */
  taps: Map<string, { dims: number; data: Float32Array }>;
}

/** Raised when the loss stops being finite; the caller keeps its last good checkpoint. */
export class NonFiniteLossError extends Error {
  /** `step` is the optimiser step (from 1) whose loss came out as `loss` (NaN or ±Infinity). */
  constructor(readonly step: number, readonly loss: number) {
    super(
      `Loss is ${loss} at step ${step}: training stopped, the last checkpoint is intact (try a lower --lr)`,
    );
    this.name = "NonFiniteLossError";
  }
}

/** Trains one model: `step()` per batch, `evaluate()` over a set of images. */
export class Trainer {
  /** the weights and BN buffers, trained in place (the caller's state dict) */
  readonly state: StateDict;
  /** Adam over the trainable parameters; its state is what checkpoints save */
  readonly optimizer: Optimizer;
  #params = new Map<string, Float32Array>();
  // BN's step counters (int64, kept in TypeScript: the graph never reads them)
  #counters: BigInt64Array[] = [];
  #feeds: Record<string, ort.Tensor> = {};
  #trainSession: ort.InferenceSession;
  #train: TrainGraph;
  #evalSession?: ort.InferenceSession;
  #eval?: EvalGraph;
  #model: ModelFn;
  #opts: TrainerOptions;

  private constructor(
    model: ModelFn,
    state: StateDict,
    train: TrainGraph,
    session: ort.InferenceSession,
    opts: TrainerOptions,
  ) {
    this.#model = model;
    this.state = state;
    this.#train = train;
    this.#trainSession = session;
    this.#opts = opts;
    this.optimizer = new Adam({ lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0 });
    for (const name of train.params) this.#params.set(name, state.get(name)!.data as Float32Array);
    for (const [name, t] of state) {
      if (name.endsWith("num_batches_tracked")) this.#counters.push(t.data as BigInt64Array);
    }
    this.#bindStateFeeds(train.params.concat(train.buffers), this.#feeds);
  }

  /** Builds the training graph for `model` and opens its session. `state` is trained in place. */
  static async create(model: ModelFn, state: StateDict, opts: TrainerOptions): Promise<Trainer> {
    // onnxruntime's WebGPU provider has no MaxPool Indices output and its grouped Conv gave wrong im2col
    // columns: there the backward uses the window-slice formulations (equal on CPU, tests/autodiff)
    const train = buildTrainGraph(model, { batch: opts.batch, size: opts.size }, {
      auxWeight: opts.auxWeight,
      grad: opts.device === "webgpu" ? { maxPool: "windows", im2col: "slices" } : {},
    });
    loadStateDict(train.specs, state, { source: "initial weights" }); // strict: throws on any mismatch
    const session = await createSession(train.bytes, { device: opts.device, threads: opts.threads });
    return new Trainer(model, state, train, session, opts);
  }

  /** The training graph (for export or inspection). */
  get trainGraph(): TrainGraph {
    return this.#train;
  }

  #bindStateFeeds(names: string[], feeds: Record<string, ort.Tensor>): void {
    for (const name of names) {
      const t = this.state.get(name)!;
      feeds[name] = new ort.Tensor("float32", t.data as Float32Array, t.shape);
    }
  }

  /**
   * One training step on a batch: forward, backward, Adam, BN statistics. `x` is N×3×H×W float32, `y` the
   * grades. Returns the loss and logits.
   */
  async step(x: Float32Array, y: Int32Array): Promise<{ loss: number; logits: Float32Array }> {
    const { batch, size } = this.#opts;
    const tg = this.#train;
    if (x.length !== batch * 3 * size * size) {
      throw new RangeError(`Batch has ${x.length} values, the graph takes ${batch}×3×${size}×${size}`);
    }
    const step = this.optimizer.state.step + 1;
    const feeds = this.#feeds;
    feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
    feeds[tg.labels] = new ort.Tensor("int64", BigInt64Array.from(y, (v) => BigInt(v)), [batch]);
    if (tg.masks.length) {
      const rng = new Rng(`${this.#opts.seed ?? 0}:dropout:${step}`);
      for (const m of tg.masks) {
        const n = m.shape.reduce((a, b) => a * b, 1), keep = 1 - m.p;
        const mask = new Float32Array(n);
        for (let i = 0; i < n; i++) mask[i] = rng.float() < keep ? 1 / keep : 0;
        feeds[m.name] = new ort.Tensor("float32", mask, m.shape);
      }
    }
    const out = await this.#trainSession.run(feeds);
    const loss = Number((out[tg.loss].data as Float32Array)[0]);
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
    const grads = new Map<string, Float32Array>();
    for (const [p, o] of tg.gradOut) grads.set(p, out[o].data as Float32Array);
    this.optimizer.step(this.#params, grads);
    for (const [b, o] of tg.bufferOut) {
      (this.state.get(b)!.data as Float32Array).set(out[o].data as Float32Array);
    }
    for (const c of this.#counters) c[0] += 1n;
    return { loss, logits: out[tg.logits].data as Float32Array };
  }

  /**
   * Runs the evaluation graph over batches of N×3×H×W images (`n` real images each; a short last batch is
   * padded, which changes nothing since BN in eval mode treats samples independently). Batches larger than
   * the evaluation batch are refused.
   */
  async evaluate(
    batches: AsyncIterable<{ x: Float32Array; n: number }> | Iterable<{ x: Float32Array; n: number }>,
  ): Promise<EvalResult> {
    const size = this.#opts.size, per = 3 * size * size;
    const eb = this.#opts.evalBatch ?? this.#opts.batch;
    if (!this.#evalSession) {
      this.#eval = buildEvalGraph(this.#model, { batch: eb, size });
      this.#evalSession = await createSession(this.#eval.bytes, {
        device: this.#opts.device,
        threads: this.#opts.threads,
      });
    }
    const eg = this.#eval!;
    const feeds: Record<string, ort.Tensor> = {};
    this.#bindStateFeeds(eg.inputs, feeds);
    const probParts: Float32Array[] = [];
    const tapParts = new Map<string, Float32Array[]>();
    let classes = 0, total = 0;
    for await (const b of batches) {
      const m = b.n;
      if (m > eb) throw new RangeError(`Evaluation batch of ${m} images exceeds the graph's ${eb}`);
      let chunk = b.x.subarray(0, m * per);
      if (m < eb) {
        const padded = new Float32Array(eb * per);
        padded.set(chunk);
        chunk = padded;
      }
      feeds[eg.input] = new ort.Tensor("float32", chunk, [eb, 3, size, size]);
      const out = await this.#evalSession.run(feeds);
      const p = out[eg.probs];
      classes = p.dims[1];
      probParts.push((p.data as Float32Array).slice(0, m * classes));
      for (const [name, o] of eg.taps) {
        const t = out[o];
        const list = tapParts.get(name) ?? [];
        list.push((t.data as Float32Array).slice(0, m * t.dims[1]));
        tapParts.set(name, list);
      }
      total += m;
    }
    const taps = new Map<string, { dims: number; data: Float32Array }>();
    for (const [name, parts] of tapParts) {
      const data = concat(parts);
      taps.set(name, { dims: total ? data.length / total : 0, data });
    }
    return { probs: concat(probParts), classes, taps };
  }

  /** Frees the onnxruntime sessions. */
  async release(): Promise<void> {
    await this.#trainSession.release();
    await this.#evalSession?.release();
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
