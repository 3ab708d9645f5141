/**
 * transfusion: transfer learning vs random initialisation on retina photos, reproduced end to end.
 *
 * The pieces a researcher imports: statistics (ROC AUC, DeLong, bootstrap, kappa), representation
 * similarity (SVCCA, PWCCA, CKA), the ONNX graph builder and its reverse-mode differentiation, the models
 * (ResNet-50, Inception-v3, SqueezeNet 1.1, CBR family) and their initialisations, the training runtime and
 * prediction, the data pipeline and the report.
 *
 * @example Predict a batch with SqueezeNet 1.1 and score it: referable-DR AUC with its 95 % CI
 * ```ts
 * import { aucCi, predictLogits, Rng } from "./mod.ts";
 *
 * // torchvision's SqueezeNet 1.1 with the vendored ImageNet weights (loaded strictly, as load_state_dict)
 * // and a new 5-way head for the grades; a study's run gives its own weights.safetensors instead
 * const weights = new URL("./vendor/squeezenet1_1-imagenet.safetensors", import.meta.url).pathname;
 *
 * // a batch: N×3×S×S float32, normalised as ImageNet's (readInputImages makes one from a folder of photos)
 * const n = 12, size = 64, rng = new Rng(0);
 * const x = Float32Array.from({ length: n * 3 * size * size }, () => rng.normal());
 * const { logits, classes } = await predictLogits(
 *   { model: "squeezenet1_1", weights, classes: 5 },
 *   { x, n, size, names: [] },
 * );
 *
 * // referable DR (grade ≥ 2) scored by p₂ + p₃ + p₄ of the softmax, with DeLong's 95 % interval
 * const grades = [0, 0, 1, 1, 0, 2, 3, 4, 2, 0, 1, 3];
 * const scores = grades.map((_, i) => {
 *   const e = Array.from(logits.subarray(i * classes, (i + 1) * classes), Math.exp);
 *   return (e[2] + e[3] + e[4]) / e.reduce((a, b) => a + b);
 * });
 * const { auc, lower, upper } = aucCi(grades.map((g) => g >= 2), scores);
 * console.log(`referable AUC ${auc.toFixed(3)} [${lower.toFixed(3)}, ${upper.toFixed(3)}]`);
 * if (!(lower <= auc && auc <= upper)) throw new Error("the interval holds the AUC");
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
