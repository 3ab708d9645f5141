/**
 * Optimisers over Float32Array parameters, matching torch.optim.
 * @module
 */
export { Adam, adamScalars, PARALLEL_MIN_ELEMENTS, SGD } from "./optimizers.ts";
export type { AdamOptions, Optimizer, OptimizerState, SgdOptions } from "./optimizers.ts";
export { type AdamGraphIo, appendAdam } from "./adam_graph.ts";
