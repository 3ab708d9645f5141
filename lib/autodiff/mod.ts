/**
 * Reverse-mode automatic differentiation over the graph builder's graphs.
 * @module
 */
export { gradients } from "./gradients.ts";
export { DIFFERENTIABLE_OPS, GRAD_RULES } from "./registry.ts";
export { type GradContext, type GradOptions, type GradRule, NO_GRADIENT } from "./rule.ts";
