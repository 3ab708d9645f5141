/**
 * Quadratic weighted kappa, the Kaggle DR / APTOS metric.
 * @module
 */
import { classLabels, type Numbers } from "./validate.ts";

/**
 * Quadratic weighted Cohen's kappa between two gradings over the full label set 0..numClasses−1 (default 5
 * grades), as `sklearn.metrics.cohen_kappa_score(a, b, labels=range(numClasses), weights="quadratic")`:
 * weights (i−j)²/(K−1)² use the declared K, so a grade absent from both gradings does not change them.
 * Returns NaN when the expected disagreement is 0 (both gradings constant and equal), where kappa is 0/0.
 *
 * @example
 * ```ts
 * import { quadraticWeightedKappa } from "./kappa.ts";
 * const k = quadraticWeightedKappa([0, 1, 2, 4], [0, 1, 2, 4]);
 * if (k !== 1) throw new Error(`got ${k}`);
 * ```
 */
export function quadraticWeightedKappa(a: Numbers, b: Numbers, numClasses = 5): number {
  const ya = classLabels("a", a, numClasses);
  const yb = classLabels("b", b, numClasses);
  if (ya.length !== yb.length) {
    throw new RangeError(`a has ${ya.length} entries but b has ${yb.length}: gradings must be paired`);
  }
  const K = numClasses, n = ya.length;
  const conf = new Float64Array(K * K), ha = new Float64Array(K), hb = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    conf[ya[i] * K + yb[i]]++;
    ha[ya[i]]++;
    hb[yb[i]]++;
  }
  let observed = 0, expected = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      // Unnormalised (i−j)² as scikit-learn: the 1/(K−1)² factor cancels in the ratio.
      const w = (i - j) * (i - j);
      observed += w * conf[i * K + j];
      expected += w * ha[i] * hb[j] / n;
    }
  }
  return 1 - observed / expected;
}
