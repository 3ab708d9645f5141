/**
 * All per-run metrics of the study from one set of predictions.
 * @module
 */
import { ovrMacroAuc, referableAuc } from "./auc.ts";
import { quadraticWeightedKappa } from "./kappa.ts";
import { classLabels, type Numbers } from "./validate.ts";

/** The per-run metrics of {@linkcode evaluatePredictions}. */
export interface RunMetrics {
  /** AUC of grade ≥ 2 scored by p2 + p3 + p4 */
  aucReferable: number;
  /** one-vs-rest macro AUC over the grades (NaN when a grade is absent and `absentClass` is "nan") */
  aucMacroOvr: number;
  /** quadratic weighted kappa of the argmax grade against the label */
  kappa: number;
  /** fraction of argmax grades equal to the label */
  accuracy: number;
  /** number of predictions */
  n: number;
}

/** Options of {@linkcode evaluatePredictions}. */
export interface EvaluateOptions {
  /** number of grades (default 5) */
  numClasses?: number;
  /**
   * a grade absent from `labels`: "error" (default) throws, "skip" averages the macro AUC over the present
   * grades, "nan" reports NaN for it
   */
  absentClass?: "error" | "skip" | "nan";
}

/**
 * Computes the study's per-run metrics from softmax probabilities `probs` (row-major N×numClasses) and the
 * true grades: referable AUC, one-vs-rest macro AUC, and quadratic weighted kappa of the argmax grade
 * (ties go to the lower grade, as `numpy.argmax`).
 *
 * @example
 * ```ts
 * import { evaluatePredictions } from "./evaluate.ts";
 * const probs = new Float32Array([
 *   0.9, 0.05, 0.05, 0, 0,  0.1, 0.8, 0.1, 0, 0,  0, 0.1, 0.8, 0.1, 0,
 *   0, 0, 0.1, 0.8, 0.1,  0, 0, 0, 0.2, 0.8,  0.6, 0.3, 0.1, 0, 0,
 * ]);
 * const m = evaluatePredictions(probs, [0, 1, 2, 3, 4, 0]);
 * if (m.aucReferable !== 1 || m.kappa !== 1) throw new Error("perfect predictions");
 * ```
 */
export function evaluatePredictions(
  probs: Numbers,
  labels: Numbers,
  options: EvaluateOptions = {},
): RunMetrics {
  const K = options.numClasses ?? 5;
  const y = classLabels("labels", labels, K);
  const n = y.length;
  if (probs.length !== n * K) {
    throw new RangeError(`probs has ${probs.length} entries, expected ${n} rows × ${K} grades = ${n * K}`);
  }
  const pred = new Int32Array(n);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (probs[i * K + c] > probs[i * K + best]) best = c;
    pred[i] = best;
    if (best === y[i]) correct++;
  }
  const absent = options.absentClass ?? "error";
  let aucMacroOvr: number;
  if (absent === "nan") {
    const present = new Set(y);
    aucMacroOvr = present.size === K ? ovrMacroAuc(probs, y, K) : NaN;
  } else {
    aucMacroOvr = ovrMacroAuc(probs, y, K, { absentClass: absent });
  }
  return {
    aucReferable: referableAuc(probs, y),
    aucMacroOvr,
    kappa: quadraticWeightedKappa(y, pred, K),
    accuracy: correct / n,
    n,
  };
}
