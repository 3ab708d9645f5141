/**
 * The study: presets and flags, the run grid and its shards, the pipeline steps, the analysis.
 * @module
 */
export * from "./config.ts";
export { dataStep, finishedRuns, initialState, pretrainStep, trainStep } from "./pipeline.ts";
export { type StudyPaths, studyPaths } from "./paths.ts";
export * from "./analyze.ts";
