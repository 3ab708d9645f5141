/**
 * The training runtime: owns the state dict's Float32Arrays, runs the training step through a stepper
 * (lib/train/stepper.ts: on the host with WebAssembly Adam on the CPU and CUDA, resident on the device with Adam
 * in the graph on WebGPU) and the evaluation graph. On WebGPU the host copies (`state`, `optimizer.state`) are
 * brought up to date by {@linkcode Trainer.sync}, and host values written from outside (a checkpoint loaded)
 * are uploaded by the next step or evaluation.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createSession } from "../graph/session.ts";
import type { Device } from "../graph/device.ts";
import { type EngineBackend, resolveBackend } from "./backend.ts";
import { Adam, type Optimizer } from "../optim/mod.ts";
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
import type { Stepper } from "./stepper.ts";
import { HostStepper } from "./host_stepper.ts";
import { residentOutputs, ResidentStepper } from "./resident_stepper.ts";

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
  #stepper: Stepper;
  // BN's step counters (int64, kept in TypeScript: the graph never reads them)
  #counters: BigInt64Array[] = [];
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
    this.#opts = opts;
    this.#adam = new Adam({ lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0 });
    this.optimizer = this.#adam;
    for (const [name, t] of state) {
      if (name.endsWith("num_batches_tracked")) this.#counters.push(t.data as BigInt64Array);
    }
    const parts = {
      state,
      train,
      session,
      adam: this.#adam,
      batch: opts.batch,
      size: opts.size,
      seed: opts.seed ?? 0,
      device: opts.device,
      threads: opts.threads,
    };
    this.#stepper = train.adam ? new ResidentStepper(parts) : new HostStepper(parts);
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

  /**
   * One training step on a batch: forward, backward, Adam, BN statistics. `x` is N×3×H×W float32, `y` the
   * grades. Returns the loss and logits.
   */
  async step(x: Float32Array, y: Int32Array): Promise<{ loss: number; logits: Float32Array }> {
    const { batch, size } = this.#opts;
    if (x.length !== batch * 3 * size * size) {
      throw new RangeError(`Batch has ${x.length} values, the graph takes ${batch}×3×${size}×${size}`);
    }
    const out = await this.#stepper.step(x, y, this.optimizer.state.step + 1);
    for (const c of this.#counters) c[0] += 1n;
    return out;
  }

  /**
   * Brings `state` and `optimizer.state` up to date with the device-resident state (webgpu; a no-op
   * elsewhere and when nothing changed since the last call). One copy of parameters, BN buffers and Adam's
   * moments to the host, for checkpoints and the final weights; the device state stays in use.
   */
  async sync(): Promise<void> {
    await this.#stepper.sync();
  }

  /**
   * Declares that `state` or `optimizer.state` were written from outside (webgpu): the next step or
   * evaluation uploads them, replacing the device state. Not needed when the optimiser's step count changed.
   */
  hostChanged(): void {
    this.#stepper.hostChanged();
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
    this.#stepper.stateFeeds(eg.inputs, feeds);
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
    await this.#stepper.release();
    await this.#evalSession?.release();
    this.#adam.close();
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
