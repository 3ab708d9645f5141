/**
 * Representation similarity between layers: SVCCA, CCA and PWCCA (google/svcca's definitions), linear CKA
 * (plain and debiased), and conversion of convolutional activations into datapoints × neurons sets.
 * @module
 */
export { type Activations, convActivations, type ConvOptions } from "./activations.ts";
export {
  type Backend,
  cca,
  type CcaOptions,
  type CcaResult,
  pwcca,
  type PwccaResult,
  svcca,
  type SvccaOptions,
  type SvccaResult,
} from "./cca.ts";
export { type CkaOptions, linearCka } from "./cka.ts";
export {
  ccaCap,
  type LayerSimilarity,
  layerSimilarity,
  pcaScores,
  type PreparedLayer,
  preparedSimilarity,
  prepareLayer,
} from "./prepared.ts";
