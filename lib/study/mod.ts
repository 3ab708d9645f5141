/**
 * The study: presets and flags, the run grid and its shards, the pipeline steps, the analysis and what it
 * hands the report (the results types, provenance).
 * @module
 */
export * from "./config.ts";
export {
  dataStep,
  finishedRuns,
  initialState,
  pretrainStep,
  trainStep,
  type VendorOptions,
} from "./pipeline.ts";
export { type StudyPaths, studyPaths } from "./paths.ts";
export * from "./analyze.ts";
export { convergenceRule, type ConvergenceRun, curveOf, speedRatio, stepsUnder } from "./convergence.ts";
export type {
  ConvergenceRule,
  DatasetInfo,
  EpochRow,
  FinalMetrics,
  GroupSummary,
  InitComparison,
  MissingRun,
  RunResult,
  SimilarityRow,
  SpeedRatio,
  StudyResults,
} from "./results.ts";
export {
  collectProvenance,
  detectGpu,
  type FileHash,
  gitCommit,
  PINNED_VERSIONS,
  type Provenance,
  type ProvenanceOptions,
  rerunCommand,
  shellQuote,
} from "./provenance.ts";
