/**
 * Optimisers over Float32Array parameters, matching torch.optim.
 * @module
 */
export { Adam, PARALLEL_MIN_ELEMENTS, SGD } from "./adam.ts";
export type { AdamOptions, Optimizer, OptimizerState, SgdOptions } from "./adam.ts";
export { type AdamGraphIo, adamScalars, appendAdam } from "./adam_graph.ts";
