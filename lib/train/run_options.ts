/**
 * What a training run (lib/train/fit.ts `runTraining`) is given: its folder, model, data, epochs and the
 * trainer's options, and what it reports as it goes.
 * @module
 */
import type { ModelFn } from "./step.ts";
import type { StateDict } from "../weights/state_dict.ts";
import type { TrainerOptions } from "./trainer.ts";

/** A batch as the data loader yields it. */
export interface Batch {
  /** n×3×H×W normalised images, row-major */
  x: Float32Array;
  /** the grade of each image */
  y: Int32Array;
  /** number of real images in the batch */
  n: number;
}

/** What `runTraining` (lib/train/fit.ts) needs. */
export interface RunOptions extends TrainerOptions {
  /** the run folder (created if missing) */
  dir: string;
  /** the model definition to train */
  model: ModelFn;
  /** the initial weights; called only when the run does not resume */
  init: () => Promise<StateDict>;
  /** total epochs of the run, including any done before a resume */
  epochs: number;
  /** training batches of an epoch, already shuffled for that epoch (deterministic in `epoch`) */
  trainBatches: (epoch: number) => AsyncIterable<Batch>;
  /** training batches per epoch (for progress and mid-epoch evaluation) */
  stepsPerEpoch: number;
  /** the held-out split, in a fixed order */
  testBatches: () => AsyncIterable<Batch>;
  /**
   * a model-selection split (MedMNIST's val), evaluated after every epoch: the epoch with the best macro
   * AUC on it keeps its test predictions (`predictions-best.csv`) and metrics (`best` in the summary), as
   * MedMNIST reports test AUC at the epoch chosen on val
   */
  valBatches?: () => AsyncIterable<Batch>;
  /** the probe images whose activations the CCA compares (fixed across runs) */
  probeBatches?: () => AsyncIterable<Batch>;
  /**
   * also evaluate test (and val, when given) every this many steps within an epoch (finer convergence
   * curves); 0 = epoch ends only. Only epoch ends compete for the best epoch
   */
  evalEvery?: number;
  /** number of classes of the head (default 5 grades; the demo's source task has more) */
  classes?: number;
  /** resolved configuration, written to config.json */
  config?: Record<string, unknown>;
  /** called after every training step, before each evaluation and at the end */
  onProgress?: (p: Progress) => void;
  /** one-line notices (a damaged checkpoint set aside, leftover temp files removed); default stderr */
  log?: (line: string) => void;
}

/** Progress callback payload. */
export interface Progress {
  /** the epoch under way, from 1 */
  epoch: number;
  /** epochs of the whole run */
  epochs: number;
  /** steps done in this epoch */
  step: number;
  /** training batches per epoch */
  stepsPerEpoch: number;
  /** the latest step's loss (the epoch's mean at "eval" and "done") */
  loss: number;
  /** training throughput of the epoch so far */
  imagesPerSec: number;
  /** "train" while stepping, "eval" after an epoch's steps, "done" at the end */
  phase: "train" | "eval" | "done";
}
