/**
 * The training runtime: owns the state dict's Float32Arrays, runs the training-step graph with
 * onnxruntime-node and the evaluation graph.
 *
 * On the CPU (and CUDA) the step graph returns gradients, Adam runs on the host (WebAssembly SIMD,
 * lib/optim/adam.wat) over the state dict's arrays and the new BN statistics are copied back; tensors handed
 * to onnxruntime wrap the existing arrays (no copy). On webgpu the state is device-resident: the step graph contains Adam and the BN update and
 * returns the new parameters, moments and BN buffers as gpu-buffer tensors that the next step (and the
 * evaluation graph) takes as inputs, so per step only the batch, labels and two Adam scalars go up and the
 * loss and logits come down. The host copies (`state`, `optimizer.state`) are brought up to date by
 * {@linkcode Trainer.sync}, and host values written from outside (a checkpoint loaded) are uploaded by the
 * next step or evaluation.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import {
  createDownloader,
  createSession,
  type Device,
  type Downloader,
  type OutputLocation,
} from "../graph/session.ts";
import { type EngineBackend, resolveBackend } from "./backend.ts";
import { Adam, adamScalars, type Optimizer } from "../optim/mod.ts";
import { Rng } from "../util/random.ts";
import { fillDropoutMask } from "./graph_net.ts";
import { assertFiniteGradients, NonFiniteGradientError } from "./finite.ts";
import {
  buildEvalGraph,
  buildTrainGraph,
  type EvalGraph,
  type ModelFn,
  type TrainGraph,
  trainGraphOptionsFor,
} from "./step.ts";
import { loadStateDict, type StateDict } from "../weights/state_dict.ts";
import type { GradOptions } from "../autodiff/rule.ts";

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
  /**
   * webgpu: the largest tensor the training graph may hold, in bytes; default 2³¹ − 1, the `maxBufferSize`
   * lavapipe's adapter reports (a larger tensor crashed the process there). A larger graph is refused at
   * creation with a one-line error; raise it for an adapter that allows more.
   */
  maxTensorBytes?: number;
  /**
   * webgpu: the layout its convolutions run in (`SessionOptions.layout`: NHWC, onnxruntime's default, adds
   * layout Transposes; NCHW needs none); bench/gpu.ts measures both
   */
  layout?: "NHWC" | "NCHW";
  /**
   * per-conv backward formulations other than the conv plan's fixed ones (bench/tune.ts measures them);
   * default: the plan's. Another choice rounds differently, so a rerun must pass the same one to stay
   * bit-identical.
   */
  convChoice?: GradOptions["convChoice"];
  /**
   * cpu: run the convolutions on onnxruntime's blocked-channel kernels where this processor has them
   * (lib/graph/nchwc.ts; default true). false: the plain kernels, for comparisons. Read only without
   * `backend`.
   */
  nchwc?: boolean;
  /**
   * the backend, resolved once by the caller (lib/train/backend.ts `resolveBackend`); default: resolved here
   * from `device` and `nchwc`
   */
  backend?: EngineBackend;
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

/**
 * Trains one model: `step()` per batch, `evaluate()` over a set of images.
 *
 * On webgpu, `state` and `optimizer.state` are host copies of the device-resident state: call
 * {@linkcode Trainer.sync} before reading them (a checkpoint, the final weights); after writing them from
 * outside with the same optimiser step count, call {@linkcode Trainer.hostChanged} (a changed step count,
 * as a loaded checkpoint has, is noticed by itself).
 */
export class Trainer {
  /** the weights and BN buffers, trained in place (the caller's state dict; on webgpu current after `sync()`) */
  readonly state: StateDict;
  /** Adam over the trainable parameters; its state is what checkpoints save (on webgpu current after `sync()`) */
  readonly optimizer: Optimizer;
  #adam: Adam;
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
  // device-resident state (webgpu): input name → the tensor the next run feeds (gpu-buffer once stepped)
  #dev = new Map<string, ort.Tensor>();
  // the optimiser step the device state belongs to; -1: nothing uploaded. A different step count in
  // optimizer.state means the host state was replaced (a checkpoint loaded): the host is then authoritative.
  #devStep = -1;
  // the device holds newer values than state / optimizer.state
  #hostStale = false;
  #downloader?: Downloader;

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
    this.#adam = new Adam({ lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0 });
    this.optimizer = this.#adam;
    for (const name of train.params) this.#params.set(name, state.get(name)!.data as Float32Array);
    for (const [name, t] of state) {
      if (name.endsWith("num_batches_tracked")) this.#counters.push(t.data as BigInt64Array);
    }
    this.#bindStateFeeds(train.params.concat(train.buffers), this.#feeds);
  }

  /**
   * Builds the training graph for `model` and opens its session. `state` is trained in place. On webgpu
   * the graph has Adam in it and keeps the state on the device ({@linkcode trainGraphOptionsFor}).
   */
  static async create(model: ModelFn, state: StateDict, opts: TrainerOptions): Promise<Trainer> {
    const lr = opts.lr ?? 1e-3;
    if (!(lr > 0)) throw new RangeError(`Learning rate must be positive, got ${lr}`);
    const backend = opts.backend ?? await resolveBackend(opts);
    if (backend.device !== (opts.device ?? "cpu")) {
      throw new RangeError(`Trainer on '${opts.device ?? "cpu"}' was given a '${backend.device}' backend`);
    }
    const graphOpts = trainGraphOptionsFor(backend, {
      auxWeight: opts.auxWeight,
      adam: { weightDecay: opts.weightDecay ?? 0 },
    });
    if (opts.convChoice) graphOpts.grad = { ...graphOpts.grad, convChoice: opts.convChoice };
    const train = buildTrainGraph(model, { batch: opts.batch, size: opts.size }, graphOpts);
    loadStateDict(train.specs, state, { source: "initial weights" }); // strict: throws on any mismatch
    const limit = opts.maxTensorBytes ?? 2 ** 31 - 1;
    if (opts.device === "webgpu" && train.largest.bytes > limit) {
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      const what = `Training graph's tensor ${train.largest.name} needs ${mib(train.largest.bytes)}`;
      throw new RangeError(
        `${what}, above the WebGPU buffer limit of ${mib(limit)}: use a smaller batch (or raise ` +
          "maxTensorBytes where the adapter allows it)",
      );
    }
    const session = await createSession(train.bytes, {
      device: opts.device,
      threads: opts.threads,
      layout: opts.layout,
      outputLocation: train.adam ? residentOutputs(train) : undefined,
    });
    return new Trainer(model, state, train, session, opts);
  }

  /** Whether the state lives on the device between steps (webgpu). */
  get resident(): boolean {
    return this.#train.adam !== undefined;
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
    if (tg.adam) return await this.#residentStep(x, y);
    const step = this.optimizer.state.step + 1;
    const feeds = this.#feeds;
    feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
    feeds[tg.labels] = new ort.Tensor("int64", BigInt64Array.from(y, (v) => BigInt(v)), [batch]);
    this.#maskFeeds(step, feeds);
    const out = await this.#trainSession.run(feeds);
    const loss = Number((out[tg.loss].data as Float32Array)[0]);
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
    const grads = new Map<string, Float32Array>();
    for (const [p, o] of tg.gradOut) grads.set(p, out[o].data as Float32Array);
    const sums = tg.gradSums ? out[tg.gradSums].data as Float32Array : undefined;
    let i = 0;
    for (const [p, gr] of grads) {
      // a non-finite sum: a NaN or ±Infinity entry, or (rarely) finite entries whose sum overflowed
      if (!sums || !Number.isFinite(sums[i++])) assertFiniteGradients(step, new Map([[p, gr]]));
    }
    await this.#adam.stepAsync(this.#params, grads);
    for (const [b, o] of tg.bufferOut) {
      (this.state.get(b)!.data as Float32Array).set(out[o].data as Float32Array);
    }
    for (const c of this.#counters) c[0] += 1n;
    return { loss, logits: out[tg.logits].data as Float32Array };
  }

  // The webgpu step: state tensors in (gpu-buffer after the first step), new state out on the device.
  async #residentStep(x: Float32Array, y: Int32Array): Promise<{ loss: number; logits: Float32Array }> {
    const { batch, size } = this.#opts;
    const tg = this.#train, io = tg.adam!;
    if (!this.#deviceCurrent()) this.#loadFromHost();
    const step = this.optimizer.state.step + 1;
    const feeds: Record<string, ort.Tensor> = Object.fromEntries(this.#dev);
    feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
    feeds[tg.labels] = new ort.Tensor("int32", y, [batch]);
    const { stepSize, bc2Sqrt } = adamScalars(step, this.#adam);
    feeds[io.stepSize] = new ort.Tensor("float32", Float32Array.of(stepSize), []);
    feeds[io.bc2Sqrt] = new ort.Tensor("float32", Float32Array.of(bc2Sqrt), []);
    this.#maskFeeds(step, feeds);
    const out = await this.#trainSession.run(feeds);
    const loss = Number((out[tg.loss].data as Float32Array)[0]);
    const next = new Map<string, ort.Tensor>();
    for (const [p, o] of io.paramOut) next.set(p, out[o]);
    next.set(io.m, out[io.mOut]);
    next.set(io.v, out[io.vOut]);
    for (const [b, o] of tg.bufferOut) next.set(b, out[o]);
    if (!Number.isFinite(loss)) {
      // as on the CPU, a non-finite loss leaves the state of the previous step
      for (const t of next.values()) disposeDevice(t);
      throw new NonFiniteLossError(step, loss);
    }
    const check = (out[io.gradCheck].data as Float32Array)[0];
    if (check !== 0) {
      // and so does a non-finite gradient (which one is not known: the gradients never leave the device)
      for (const t of next.values()) disposeDevice(t);
      throw new NonFiniteGradientError(step, "a parameter (on the device)", check);
    }
    for (const [k, t] of next) {
      const old = this.#dev.get(k);
      if (old) disposeDevice(old);
      this.#dev.set(k, t);
    }
    this.optimizer.state.step = step;
    this.#devStep = step;
    this.#hostStale = true;
    for (const c of this.#counters) c[0] += 1n;
    return { loss, logits: out[tg.logits].data as Float32Array };
  }

  #deviceCurrent(): boolean {
    return this.#dev.size > 0 && this.#devStep === this.optimizer.state.step;
  }

  // Feeds the host state (wrapped; the moments gathered into the graph's flat layout): the next run uploads
  // it. Adam's moments start at zero.
  #loadFromHost(): void {
    const io = this.#train.adam!;
    for (const t of this.#dev.values()) disposeDevice(t);
    this.#dev.clear();
    const host: Record<string, ort.Tensor> = {};
    this.#bindStateFeeds(this.#train.params.concat(this.#train.buffers), host);
    for (const [k, t] of Object.entries(host)) this.#dev.set(k, t);
    const st = this.optimizer.state;
    for (const [moments, name] of [[st.m, io.m], [st.v, io.v]] as const) {
      const flat = new Float32Array(io.size);
      for (const [p, { offset, length }] of io.offsets) {
        let a = moments.get(p);
        if (!a) moments.set(p, a = new Float32Array(length));
        if (a.length !== length) {
          throw new RangeError(`Adam moment of ${p} has ${a.length} elements, the parameter ${length}`);
        }
        flat.set(a, offset);
      }
      this.#dev.set(name, new ort.Tensor("float32", flat, [io.size]));
    }
    this.#devStep = st.step;
    this.#hostStale = false;
  }

  /**
   * Brings `state` and `optimizer.state` up to date with the device-resident state (webgpu; a no-op
   * elsewhere and when nothing changed since the last call). One copy of parameters, BN buffers and Adam's
   * moments to the host, for checkpoints and the final weights; the device state stays in use.
   */
  async sync(): Promise<void> {
    if (!this.#hostStale || !this.#deviceCurrent()) return;
    const io = this.#train.adam!;
    if (!this.#downloader) {
      const shapes = [...this.#dev.keys()].map((name) => ({ name, shape: this.#dev.get(name)!.dims }));
      this.#downloader = await createDownloader(shapes, {
        device: this.#opts.device,
        threads: this.#opts.threads,
      });
    }
    const got = await this.#downloader.run(Object.fromEntries(this.#dev));
    const st = this.optimizer.state;
    for (const name of this.#train.params.concat(this.#train.buffers)) {
      (this.state.get(name)!.data as Float32Array).set(got.get(name)!);
    }
    const m = got.get(io.m)!, v = got.get(io.v)!;
    for (const [p, { offset, length }] of io.offsets) {
      st.m.get(p)!.set(m.subarray(offset, offset + length));
      st.v.get(p)!.set(v.subarray(offset, offset + length));
    }
    this.#hostStale = false;
  }

  /**
   * Declares that `state` or `optimizer.state` were written from outside (webgpu): the next step or
   * evaluation uploads them, replacing the device state. Not needed when the optimiser's step count changed.
   */
  hostChanged(): void {
    this.#devStep = -1;
    this.#hostStale = false;
  }

  #maskFeeds(step: number, feeds: Record<string, ort.Tensor>): void {
    const tg = this.#train;
    if (tg.masks.length) {
      const rng = new Rng(`${this.#opts.seed ?? 0}:dropout:${step}`);
      for (const m of tg.masks) {
        const mask = fillDropoutMask(new Float32Array(m.shape.reduce((a, b) => a * b, 1)), m.p, rng);
        feeds[m.name] = new ort.Tensor("float32", mask, m.shape);
      }
    }
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
      this.#eval = buildEvalGraph(this.#model, { batch: eb, size }, { backend: this.#train.backend });
      this.#evalSession = await createSession(this.#eval.bytes, {
        device: this.#opts.device,
        threads: this.#opts.threads,
        layout: this.#opts.layout,
      });
    }
    const eg = this.#eval!;
    const feeds: Record<string, ort.Tensor> = {};
    // on webgpu the resident tensors, where the device holds the current state
    if (this.#deviceCurrent()) { for (const k of eg.inputs) feeds[k] = this.#dev.get(k)!; }
    else this.#bindStateFeeds(eg.inputs, feeds);
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

  /** Frees the onnxruntime sessions and the device-resident state (call `sync()` first to keep it). */
  async release(): Promise<void> {
    for (const t of this.#dev.values()) disposeDevice(t);
    this.#dev.clear();
    this.#devStep = -1;
    await this.#trainSession.release();
    await this.#evalSession?.release();
    await this.#downloader?.release();
    this.#adam.close();
  }
}

// The resident step's output placement: the state stays on the device, the loss and logits come down.
function residentOutputs(tg: TrainGraph): Record<string, OutputLocation> {
  const loc: Record<string, OutputLocation> = { [tg.loss]: "cpu", [tg.logits]: "cpu" };
  const io = tg.adam!;
  for (const m of [io.paramOut, tg.bufferOut]) {
    for (const o of m.values()) loc[o] = "gpu-buffer";
  }
  loc[io.mOut] = loc[io.vOut] = "gpu-buffer";
  loc[io.gradCheck] = "cpu";
  return loc;
}

function disposeDevice(t: ort.Tensor): void {
  if (t.location === "gpu-buffer") t.dispose();
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
