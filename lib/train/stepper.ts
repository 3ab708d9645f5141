/**
 * The training step behind one interface, in one of two runtimes: the host stepper
 * (lib/train/host_stepper.ts: the step graph returns gradients, Adam runs on the host in WebAssembly, the
 * state stays in the caller's arrays) and the resident stepper (lib/train/resident_stepper.ts: Adam and the BN
 * update in the graph, the state on the device between steps, as on WebGPU). The Trainer
 * (lib/train/trainer.ts) picks one by the training graph it built and keeps the evaluation graph beside it.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import type { Device } from "../graph/device.ts";
import type { Adam } from "../optim/mod.ts";
import { Rng } from "../util/random.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { fillDropoutMask } from "./graph_net.ts";
import type { TrainGraph } from "./step.ts";

/** What one training step returns. */
export interface StepResult {
  /** the batch's loss (finite: a non-finite one throws) */
  loss: number;
  /** N×classes logits, row-major */
  logits: Float32Array;
}

/** What a stepper works with, built by the Trainer. */
export interface StepperParts {
  /** the weights and BN buffers, the caller's state dict */
  state: StateDict;
  /** the training graph */
  train: TrainGraph;
  /** its open session */
  session: ort.InferenceSession;
  /** the optimiser, whose `state` a checkpoint saves */
  adam: Adam;
  /** the graph's static batch */
  batch: number;
  /** image side in pixels */
  size: number;
  /** seeds the dropout masks (with the step number) */
  seed: number;
  /** the session's device (the resident stepper's downloads run there) */
  device?: Device;
  /** onnxruntime intra-op threads */
  threads?: number;
}

/** One way of running the training step; the Trainer holds one. */
export interface Stepper {
  /**
   * One step on a full batch (the Trainer checked its size): forward, backward, Adam, BN statistics;
   * `step` is the optimiser step it takes (from 1). Throws before changing any state on a non-finite loss
   * or gradient.
   */
  step(x: Float32Array, y: Int32Array, step: number): Promise<StepResult>;
  /**
   * Fills `feeds` with the state inputs `names` of another graph (the evaluation graph): the device's
   * tensors where it holds the current state, else the host arrays, wrapped.
   */
  stateFeeds(names: readonly string[], feeds: Record<string, ort.Tensor>): void;
  /** Brings the host state up to date with the device's (a no-op where the state lives on the host). */
  sync(): Promise<void>;
  /** Declares that the host state was written from outside: the next step or evaluation uploads it. */
  hostChanged(): void;
  /** Frees the training session and any device state. */
  release(): Promise<void>;
}

/** Wraps the state dict's arrays `names` as tensors in `feeds` (no copy). */
export function wrapState(
  state: StateDict,
  names: readonly string[],
  feeds: Record<string, ort.Tensor>,
): void {
  for (const name of names) {
    const t = state.get(name)!;
    feeds[name] = new ort.Tensor("float32", t.data as Float32Array, t.shape);
  }
}

/** The dropout masks of optimiser step `step`, drawn from `seed` and the step alone (so a resume redraws them). */
export function maskFeeds(
  tg: TrainGraph,
  seed: number,
  step: number,
  feeds: Record<string, ort.Tensor>,
): void {
  if (tg.masks.length) {
    const rng = new Rng(`${seed}:dropout:${step}`);
    for (const m of tg.masks) {
      const mask = fillDropoutMask(new Float32Array(m.shape.reduce((a, b) => a * b, 1)), m.p, rng);
      feeds[m.name] = new ort.Tensor("float32", mask, m.shape);
    }
  }
}
