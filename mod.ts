/**
 * transfusion: transfer learning vs random initialisation on retina photos, reproduced end to end.
 *
 * The pieces a researcher imports: statistics (ROC AUC, DeLong, bootstrap, kappa), representation
 * similarity (SVCCA, PWCCA, CKA), the ONNX graph builder and its reverse-mode differentiation, the models
 * (ResNet-50, Inception-v3, CBR family) and their initialisations, the training runtime, and the data pipeline.
 *
 * @example
 * ```ts
 * import { Adam } from "./mod.ts";
 * const opt = new Adam({ lr: 1e-3 });
 * opt.step(new Map([["w", new Float32Array([1])]]), new Map([["w", new Float32Array([1])]]));
 * ```
 * @module
 */
export * from "./lib/optim/mod.ts";
export { Rng } from "./lib/util/random.ts";
export { exists, readJson, writeFileAtomic, writeJsonAtomic } from "./lib/util/fs.ts";
