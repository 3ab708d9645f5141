/**
 * transfusion: transfer learning vs random initialisation on retina photos, reproduced end to end.
 *
 * The pieces a researcher imports: statistics (ROC AUC, DeLong, bootstrap, kappa), representation
 * similarity (SVCCA, PWCCA, CKA), the ONNX graph builder and its reverse-mode differentiation, the models
 * (ResNet-50, Inception-v3, CBR family) and their initialisations, the training runtime, the data pipeline
 * and the report.
 *
 * @example
 * ```ts
 * import { referableAuc } from "./mod.ts";
 * // two photos: grade 0 and grade 3, scored by the summed probability of grades 2-4
 * const probs = [0.9, 0.05, 0.03, 0.01, 0.01, 0.1, 0.1, 0.2, 0.4, 0.2];
 * if (referableAuc(probs, [0, 3]) !== 1) throw new Error("unexpected");
 * ```
 * @module
 */
export * from "./lib/stats/mod.ts";
export * from "./lib/similarity/mod.ts";
export * from "./lib/linalg/mod.ts";
export * from "./lib/graph/mod.ts";
export * from "./lib/autodiff/mod.ts";
export * from "./lib/optim/mod.ts";
export * from "./lib/models/mod.ts";
export * from "./lib/weights/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/data/mod.ts";
export * from "./lib/report/mod.ts";
export * from "./lib/study/mod.ts";
export { Rng } from "./lib/util/random.ts";
export { exists, readJson, sha256File, writeFileAtomic, writeJsonAtomic } from "./lib/util/fs.ts";
export { ProgressBar, type ProgressUpdate } from "./lib/util/progress.ts";
