/**
 * The training runtime: training-step and evaluation graphs from one model definition, a trainer that runs
 * them with onnxruntime-node and Adam on the host (WebAssembly), resumable runs with atomic checkpoints, and
 * the same evaluation-mode graph as a standalone ONNX model (what `predict` runs and `export` writes).
 * @module
 */
export {
  backendFor,
  type EngineBackend,
  type EngineBackendOptions,
  nchwcBlockSize,
  resolveBackend,
} from "./backend.ts";
export { GraphNet, type GraphNetOptions } from "./graph_net.ts";
export { inferenceModel, type InferenceOptions } from "./inference.ts";
export {
  buildEvalGraph,
  buildTrainGraph,
  type EvalGraph,
  type GraphShape,
  largestTensor,
  type ModelFn,
  type TrainGraph,
  type TrainGraphOptions,
  trainGraphOptionsFor,
} from "./step.ts";
export { type EvalResult, Trainer, type TrainerOptions } from "./trainer.ts";
export { assertFiniteGradients, NonFiniteGradientError, NonFiniteLossError } from "./finite.ts";
export { type CheckpointMeta, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export {
  checkWeightsChoice,
  exportRun,
  type InputImages,
  predictLogits,
  type PredictOptions,
  readInputImages,
} from "./predict.ts";
export { runTraining } from "./fit.ts";
export { type Batch as TrainBatch, type Progress, type RunOptions } from "./run_options.ts";
export {
  type BestEpoch,
  type EpochMetrics,
  parseMetricsCsv,
  readRunSummary,
  type RunSummary,
} from "./run_files.ts";
