/**
 * The resident stepper (WebGPU): the step graph contains Adam and the BN update and returns the new
 * parameters, moments and BN buffers as gpu-buffer tensors that the next step (and the evaluation graph)
 * takes as inputs, so per step only the batch, labels and two Adam scalars go up and the loss and logits come
 * down. The host copies (the state dict, Adam's `state`) are brought up to date by {@linkcode ResidentStepper.sync},
 * and host values written from outside (a checkpoint loaded) are uploaded by the next step or evaluation.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createDownloader, type Downloader, type OutputLocation } from "../graph/session.ts";
import { adamScalars } from "../optim/mod.ts";
import { NonFiniteGradientError, NonFiniteLossError } from "./finite.ts";
import type { TrainGraph } from "./step.ts";
import { maskFeeds, type Stepper, type StepperParts, type StepResult, wrapState } from "./stepper.ts";

/** The step with Adam in the graph and the state on the device between steps. */
export class ResidentStepper implements Stepper {
  #p: StepperParts;
  // input name → the tensor the next run feeds (gpu-buffer once stepped)
  #dev = new Map<string, ort.Tensor>();
  // the optimiser step the device state belongs to; -1: nothing uploaded. A different step count in
  // adam.state means the host state was replaced (a checkpoint loaded): the host is then authoritative.
  #devStep = -1;
  // the device holds newer values than the state dict / adam.state
  #hostStale = false;
  #downloader?: Downloader;

  /** `parts.train` must carry an in-graph Adam (`TrainGraph.adam`). */
  constructor(parts: StepperParts) {
    if (!parts.train.adam) throw new TypeError("A resident stepper needs a training graph with Adam in it");
    this.#p = parts;
  }

  async step(x: Float32Array, y: Int32Array, step: number): Promise<StepResult> {
    const { batch, size, train: tg, session, adam, seed } = this.#p;
    const io = tg.adam!;
    if (!this.#deviceCurrent()) this.#loadFromHost();
    const feeds: Record<string, ort.Tensor> = Object.fromEntries(this.#dev);
    feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
    feeds[tg.labels] = new ort.Tensor("int32", y, [batch]);
    const { stepSize, bc2Sqrt } = adamScalars(step, adam);
    feeds[io.stepSize] = new ort.Tensor("float32", Float32Array.of(stepSize), []);
    feeds[io.bc2Sqrt] = new ort.Tensor("float32", Float32Array.of(bc2Sqrt), []);
    maskFeeds(tg, seed, step, feeds);
    const out = await session.run(feeds);
    const loss = Number((out[tg.loss].data as Float32Array)[0]);
    const next = new Map<string, ort.Tensor>();
    for (const [p, o] of io.paramOut) next.set(p, out[o]);
    next.set(io.m, out[io.mOut]);
    next.set(io.v, out[io.vOut]);
    for (const [b, o] of tg.bufferOut) next.set(b, out[o]);
    if (!Number.isFinite(loss)) {
      // as on the host, a non-finite loss leaves the state of the previous step
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
    adam.state.step = step;
    this.#devStep = step;
    this.#hostStale = true;
    return { loss, logits: out[tg.logits].data as Float32Array };
  }

  stateFeeds(names: readonly string[], feeds: Record<string, ort.Tensor>): void {
    if (this.#deviceCurrent()) { for (const k of names) feeds[k] = this.#dev.get(k)!; }
    else wrapState(this.#p.state, names, feeds);
  }

  #deviceCurrent(): boolean {
    return this.#dev.size > 0 && this.#devStep === this.#p.adam.state.step;
  }

  // Feeds the host state (wrapped; the moments gathered into the graph's flat layout): the next run uploads
  // it. Adam's moments start at zero.
  #loadFromHost(): void {
    const { train, adam, state } = this.#p;
    const io = train.adam!;
    for (const t of this.#dev.values()) disposeDevice(t);
    this.#dev.clear();
    const host: Record<string, ort.Tensor> = {};
    wrapState(state, train.params.concat(train.buffers), host);
    for (const [k, t] of Object.entries(host)) this.#dev.set(k, t);
    const st = adam.state;
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
   * One copy of parameters, BN buffers and Adam's moments to the host, for checkpoints and the final weights
   * (nothing when nothing changed since the last call); the device state stays in use.
   */
  async sync(): Promise<void> {
    if (!this.#hostStale || !this.#deviceCurrent()) return;
    const { train, adam, state } = this.#p;
    const io = train.adam!;
    if (!this.#downloader) {
      const shapes = [...this.#dev.keys()].map((name) => ({ name, shape: this.#dev.get(name)!.dims }));
      this.#downloader = await createDownloader(shapes, { device: this.#p.device, threads: this.#p.threads });
    }
    const got = await this.#downloader.run(Object.fromEntries(this.#dev));
    const st = adam.state;
    for (const name of train.params.concat(train.buffers)) {
      (state.get(name)!.data as Float32Array).set(got.get(name)!);
    }
    const m = got.get(io.m)!, v = got.get(io.v)!;
    for (const [p, { offset, length }] of io.offsets) {
      st.m.get(p)!.set(m.subarray(offset, offset + length));
      st.v.get(p)!.set(v.subarray(offset, offset + length));
    }
    this.#hostStale = false;
  }

  hostChanged(): void {
    this.#devStep = -1;
    this.#hostStale = false;
  }

  async release(): Promise<void> {
    for (const t of this.#dev.values()) disposeDevice(t);
    this.#dev.clear();
    this.#devStep = -1;
    await this.#p.session.release();
    await this.#downloader?.release();
  }
}

/** The resident step's output placement: the state stays on the device, the loss and logits come down. */
export function residentOutputs(tg: TrainGraph): Record<string, OutputLocation> {
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
