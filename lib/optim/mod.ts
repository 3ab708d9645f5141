/**
 * Optimisers over Float32Array parameters, matching torch.optim.
 * @module
 */
export { Adam, SGD } from "./adam.ts";
export type { AdamOptions, Optimizer, OptimizerState, SgdOptions } from "./adam.ts";
export { type AdamGraphIo, adamScalars, appendAdam } from "./adam_graph.ts";
