/**
 * Statistics of the study: ROC AUC (binary, referable DR, one-vs-rest macro) equal to scikit-learn's,
 * DeLong's test and a paired stratified bootstrap for two AUCs, quadratic weighted kappa, mean ± sample
 * standard deviation over runs, and steps-to-AUC convergence speed.
 * @module
 */
export { ovrMacroAuc, type OvrOptions, referableAuc, rocAuc, type RocCurve, rocCurve } from "./auc.ts";
export {
  type AucCi,
  aucCi,
  bootstrapAucDiff,
  bootstrapMacroAucDiff,
  type BootstrapOptions,
  type BootstrapResult,
  type DelongResult,
  delongTest,
  erfc,
  type MacroBootstrapResult,
  twoSidedP,
} from "./delong.ts";
export { quadraticWeightedKappa } from "./kappa.ts";
export {
  type CurvePoint,
  finiteMeanStd,
  loggedStepsToReach,
  type MeanStd,
  meanStd,
  stepsToReach,
} from "./summary.ts";
export { type EvaluateOptions, evaluatePredictions, type RunMetrics } from "./evaluate.ts";
export type { Numbers } from "./validate.ts";
