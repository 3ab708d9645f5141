/**
 * The study: presets and flags, the run grid and its shards, the pipeline steps.
 * @module
 */
export * from "./config.ts";
export {
  dataStep,
  finishedRuns,
  initialState,
  pretrainStep,
  type StudyPaths,
  studyPaths,
  trainStep,
} from "./pipeline.ts";
export * from "./analyze.ts";
