/**
 * The host stepper (CPU, CUDA): the step graph returns the loss, logits, gradients and new BN statistics;
 * the gradient gate checks them, Adam runs on the host (WebAssembly SIMD, a worker thread taking part on large
 * nets: lib/optim/optimizers.ts) over the state dict's arrays, and the BN statistics are copied back. Tensors
 * handed to onnxruntime wrap the existing arrays (no copy).
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { assertFiniteGradients, NonFiniteLossError } from "./finite.ts";
import { maskFeeds, type Stepper, type StepperParts, type StepResult, wrapState } from "./stepper.ts";

/** The step with gradients out and Adam on the host. */
export class HostStepper implements Stepper {
  #p: StepperParts;
  #params = new Map<string, Float32Array>();
  #feeds: Record<string, ort.Tensor> = {};

  /** Binds the training graph's state inputs to the state dict's arrays once. */
  constructor(parts: StepperParts) {
    this.#p = parts;
    const tg = parts.train;
    for (const name of tg.params) this.#params.set(name, parts.state.get(name)!.data as Float32Array);
    wrapState(parts.state, tg.params.concat(tg.buffers), this.#feeds);
  }

  async step(x: Float32Array, y: Int32Array, step: number): Promise<StepResult> {
    const { batch, size, train: tg, session, adam, state, seed } = this.#p;
    const feeds = this.#feeds;
    feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
    feeds[tg.labels] = new ort.Tensor("int64", BigInt64Array.from(y, (v) => BigInt(v)), [batch]);
    maskFeeds(tg, seed, step, feeds);
    const out = await session.run(feeds);
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
    await adam.stepAsync(this.#params, grads);
    for (const [b, o] of tg.bufferOut) {
      (state.get(b)!.data as Float32Array).set(out[o].data as Float32Array);
    }
    return { loss, logits: out[tg.logits].data as Float32Array };
  }

  stateFeeds(names: readonly string[], feeds: Record<string, ort.Tensor>): void {
    wrapState(this.#p.state, names, feeds);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  hostChanged(): void {}

  async release(): Promise<void> {
    await this.#p.session.release();
  }
}
