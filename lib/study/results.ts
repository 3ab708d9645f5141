/**
 * What the analysis hands the report: every finished run's curves and test metrics, the statistics between
 * inits, the representation similarities and what is missing. The report computes nothing a reader could
 * not check from these numbers (means, sds, Holm adjustment and steps-to-target only).
 * @module
 */
import type { BestEpoch, EpochMetrics } from "../train/run_files.ts";
import type { StudyConfig } from "./config.ts";
import type { Provenance } from "./provenance.ts";
import type { MeanStd } from "../stats/summary.ts";

/** One evaluation during training (a row of a run's `metrics.csv`, written by lib/train/fit.ts). */
export type EpochRow = EpochMetrics;

/** The test-set metrics of a finished run (as in the training loop's `done.json`). */
export interface FinalMetrics {
  /** test-set AUC of referable DR (grade ≥ 2 vs 0-1), 0..1 */
  aucReferable: number;
  /** test-set one-vs-rest macro AUC over the five grades, 0..1 */
  aucMacro: number;
  /** test-set quadratic weighted kappa over grades 0..4 */
  kappa: number;
  /** number of test photos, when known */
  testCount?: number;
}

/** One finished run of the grid. */
export interface RunResult {
  /** `<model>-<init>-s<seed>` (the run folder's name) */
  id: string;
  /** model registry name, e.g. "resnet50" */
  model: string;
  /** init name, e.g. "transfer" */
  init: string;
  /** the run's seed */
  seed: number;
  /** held-out evaluations in training order */
  rows: EpochRow[];
  /** metrics of the finished model on the test set */
  final: FinalMetrics;
  /** with a model-selection split (MedMNIST's val): the epoch chosen on it and the test metrics there */
  best?: BestEpoch;
  /**
   * steps until the held-out AUC first reached the target, on the curve and to the target of its model's
   * {@linkcode ConvergenceRule} (without one: the test referable AUC to `aucTarget`); null if never;
   * computed if absent
   */
  stepsToTarget?: number | null;
  /** wall-clock seconds of the whole run */
  wallSec: number;
  /** device the run used, e.g. "cpu" or "cuda:0" */
  device?: string;
}

/** Two inits of one model compared on the same test set. */
export interface InitComparison {
  /** model registry name, e.g. "resnet50" */
  model: string;
  /** the init under test, e.g. "transfer" */
  a: string;
  /** the reference init, e.g. "random" */
  b: string;
  /** the seed both runs share, or null when the analysis pooled the seeds (e.g. averaged predictions) */
  seed: number | null;
  /** which AUC was compared; default "referable" */
  metric?: "referable" | "macro";
  /** AUC of the `a` run, 0..1 */
  aucA: number;
  /** AUC of the `b` run, 0..1 */
  aucB: number;
  /** DeLong statistic for aucA − aucB */
  z: number;
  /** two-sided DeLong p-value */
  p: number;
  /** bootstrap confidence interval of aucA − aucB */
  ciLow: number;
  /** upper end of the interval */
  ciHigh: number;
  /** confidence level of the interval; default 0.95 */
  ciLevel?: number;
  /** number of bootstrap resamples */
  bootstrapReps?: number;
  /** whose test predictions: the final epoch's (default) or those of the epoch chosen on val ("best") */
  predictions?: "final" | "best";
}

/** Similarity of one layer's representations between two groups of runs. */
export interface SimilarityRow {
  /** model registry name, e.g. "resnet50" */
  model: string;
  /** tap name, e.g. "layer4" or "fc_in" */
  layer: string;
  /** depth order of the layer (figures sort by it); the highest is the final hidden layer */
  layerIndex: number;
  /** "transfer-vs-random", "random-vs-random" (the baseline), "meanvar-vs-random", ... */
  pair: string;
  /** SVCCA mean canonical correlation (99 % variance kept): mean ± sd over run pairs, `n` = pairs */
  svcca: MeanStd;
  /** projection-weighted CCA (Morcos et al. 2018) */
  pwcca: MeanStd;
  /** linear CKA (Kornblith et al. 2019) */
  cka: MeanStd;
  /** probe photos (datapoints) the activations cover, when known */
  probes?: number;
  /**
   * how the measures were computed when the probe set was small against the layer's width (e.g. SVCCA
   * directions capped, PWCCA on PCA-reduced activations), or why one could not be computed; a measure that
   * could not be computed has mean NaN (null in JSON) and n 0
   */
  note?: string;
}

/** Per model and init: the seeds' test metrics and convergence speed, summarised. */
export interface GroupSummary {
  /** model registry name */
  model: string;
  /** init name */
  init: string;
  /** seeds of the finished runs, ascending */
  seeds: number[];
  /** test referable AUC over seeds (0..1) */
  aucReferable: MeanStd;
  /** test macro AUC over seeds (0..1) */
  aucMacro: MeanStd;
  /** test quadratic weighted kappa over seeds */
  kappa: MeanStd;
  /** with a model-selection split: test metrics at the epoch chosen on val, that epoch and its val AUC */
  best?: {
    testAucReferable: MeanStd;
    testAucMacro: MeanStd;
    testKappa: MeanStd;
    epoch: MeanStd;
    valAucMacro: MeanStd;
  };
  /** steps to reach the target AUC per seed (null: never), in `seeds` order */
  stepsToTarget: (number | null)[];
  /** mean steps over the seeds that reached the target, or null when none did */
  meanStepsToTarget: number | null;
  /** an init other than random, beside random-init runs of its model: its steps ÷ random's, seed by seed */
  speed?: SpeedRatio;
  /** the mean test curve: per evaluation step present in every seed, the mean of each test AUC */
  curve: { epoch: number; step: number; testAucReferable: number; testAucMacro: number }[];
}

/** A run of the grid without a finished result. */
export interface MissingRun {
  /** `<model>-<init>-s<seed>` */
  id: string;
  /** model registry name, e.g. "resnet50" */
  model: string;
  /** init name, e.g. "transfer" */
  init: string;
  /** the run's seed */
  seed: number;
  /** e.g. "not started" or "interrupted after epoch 3 of 5" */
  reason: string;
}

/** What the photos were. */
export interface DatasetInfo {
  /** e.g. "synthetic fundus photos (demo)" or "Kaggle EyePACS 2015" */
  name: string;
  /** training photos */
  train: number;
  /** test photos */
  test: number;
  /** photos per grade 0..4 in the whole set used */
  classCounts?: number[];
}

/** Everything the report is written from. */
export interface StudyResults {
  /** the resolved configuration of the study */
  config: StudyConfig;
  /** finished runs */
  runs: RunResult[];
  /** DeLong tests and bootstrap CIs between inits */
  comparisons: InitComparison[];
  /** SVCCA, PWCCA and CKA per model, layer and pair of init groups */
  similarity: SimilarityRow[];
  /** grid runs without a finished result */
  missing: MissingRun[];
  /** what the photos were, when known */
  dataset?: DatasetInfo;
  /** commit, versions, checksums, machine and rerun command */
  provenance: Provenance;
  /**
   * each run's similarity to its own initialisation (activations at init vs after training), summarised over
   * seeds; `pair` is the init's name (Raghu et al.'s "how far did training move each layer")
   */
  initSimilarity?: SimilarityRow[];
  /** per model and init: mean ± sd over seeds of the test metrics, convergence speed, mean curve */
  summary?: GroupSummary[];
  /** things the analysis skipped or changed, in a sentence each (e.g. a run without activations) */
  notes?: string[];
  /** per model: the curve, metric and target its convergence speed (`stepsToTarget`) was counted on */
  convergence?: ConvergenceRule[];
}

/** How a model's convergence speed was measured (one per model of `analysis.json`). */
export interface ConvergenceRule {
  /** model registry name */
  model: string;
  /** the curves the steps are counted on: the val split's (target chosen there) or, without one, test's */
  split: "val" | "test";
  /** which AUC: one-vs-rest macro over the grades, or referable DR (grade ≥ 2 vs 0-1) */
  metric: "macro" | "referable";
  /**
   * how the target was set: "random-best" = 0.5 + `fraction` × (random init's mean best val AUC − 0.5),
   * "fixed" = the study's `aucTarget`
   */
  rule: "random-best" | "fixed";
  /** with "random-best": the fraction of the way from chance to random init's best */
  fraction?: number;
  /** with "random-best": each random seed's best val AUC over all its evaluations, mean ± sd over seeds */
  randomBest?: MeanStd;
  /** the AUC the steps count up to */
  target: number;
  /** training steps of the longest run: a run that never reaches the target did not within this many */
  steps: number;
  /** evaluations on the curve of the run with the fewest (its resolution) */
  evaluations: number;
}

/** One init's convergence against random init's, seed by seed. */
export interface SpeedRatio {
  /** per seed (the group's seed order): steps ÷ random's steps of the same seed; null if either never */
  perSeed: (number | null)[];
  /** mean ± sd over the seeds with a ratio (`n` of them) */
  ratio: MeanStd;
}
