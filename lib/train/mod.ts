/**
 * The training runtime: training-step and evaluation graphs from one model definition, a trainer that runs
 * them with onnxruntime-node and Adam in TypeScript, resumable runs with atomic checkpoints.
 * @module
 */
export { GraphNet, type GraphNetOptions } from "./graph_net.ts";
export {
  buildEvalGraph,
  buildTrainGraph,
  type EvalGraph,
  type GraphShape,
  type ModelFn,
  type TrainGraph,
} from "./step.ts";
export { type EvalResult, NonFiniteLossError, Trainer, type TrainerOptions } from "./trainer.ts";
export { type CheckpointMeta, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export {
  type Batch as TrainBatch,
  type EpochMetrics,
  type Progress,
  type RunOptions,
  type RunSummary,
  runTraining,
} from "./fit.ts";
