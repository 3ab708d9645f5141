/**
 * ROC curves and ROC AUC as scikit-learn computes them (`roc_curve`, `roc_auc_score`), plus the two AUCs of
 * the study: referable diabetic retinopathy and the one-vs-rest macro AUC over the five grades.
 * @module
 */
import { binaryLabels, checkScores, classLabels, type Numbers } from "./validate.ts";

/** Points of a ROC curve, one per distinct threshold, starting at (0, 0) with threshold +Infinity. */
export interface RocCurve {
  /** false positive rate at each threshold */
  fpr: Float64Array;
  /** true positive rate at each threshold */
  tpr: Float64Array;
  /** score thresholds, decreasing; the first is +Infinity */
  thresholds: Float64Array;
}

function counts(y: Uint8Array): [number, number] {
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i];
  return [pos, y.length - pos];
}

function requireBothClasses(pos: number, neg: number, what: string) {
  if (pos === 0 || neg === 0) {
    throw new RangeError(
      `${what} has only one class (${pos} positive, ${neg} negative): ROC AUC is undefined`,
    );
  }
}

/** Checked 0/1 labels for `scores` and their class counts; both classes must be present. */
function binaryProblem(labels: ArrayLike<number | boolean>, scores: Numbers) {
  const y = binaryLabels("labels", labels);
  checkScores("scores", scores, y.length);
  const [pos, neg] = counts(y);
  requireBothClasses(pos, neg, "labels");
  return { y, pos, neg };
}

/**
 * The ROC curve as `sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)`: thresholds are the
 * distinct scores in decreasing order, preceded by +Infinity. Throws when only one class is present.
 *
 * @example
 * ```ts
 * import { rocCurve } from "./auc.ts";
 * const { fpr, tpr } = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
 * if (fpr.length !== 5 || tpr[4] !== 1) throw new Error("wrong curve");
 * ```
 */
export function rocCurve(labels: ArrayLike<number | boolean>, scores: Numbers): RocCurve {
  const { y, pos, neg } = binaryProblem(labels, scores);
  const order = sortedDescending(scores);
  const fpr = [0], tpr = [0], thr = [Infinity];
  let tp = 0, fp = 0;
  for (let r = 0; r < order.length; r++) {
    const i = order[r];
    if (y[i]) tp++;
    else fp++;
    if (r + 1 === order.length || scores[order[r + 1]] !== scores[i]) {
      fpr.push(fp / neg);
      tpr.push(tp / pos);
      thr.push(scores[i]);
    }
  }
  return { fpr: Float64Array.from(fpr), tpr: Float64Array.from(tpr), thresholds: Float64Array.from(thr) };
}

function sortedDescending(scores: Numbers): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const s = Float64Array.from(scores);
  return order.sort((a, b) => s[b] - s[a]);
}

/**
 * Midranks (1-based, ties share the average rank) of `values`, as `scipy.stats.rankdata`.
 * @internal
 */
export function midranks(values: Numbers): Float64Array {
  const n = values.length;
  const v = Float64Array.from(values);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => v[a] - v[b]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && v[order[j + 1]] === v[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * ROC AUC of binary `labels` (0/1 or booleans) against `scores`, equal to scikit-learn's
 * `roc_auc_score`: the Mann-Whitney probability that a positive outscores a negative, ties counting ½.
 * A set with only one class throws a `RangeError` (scikit-learn raises too) rather than returning NaN, so
 * that a degenerate test split cannot slip into an average.
 *
 * @example
 * ```ts
 * import { rocAuc } from "./auc.ts";
 * const auc = rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
 * if (auc !== 0.75) throw new Error(`got ${auc}`);
 * ```
 */
export function rocAuc(labels: ArrayLike<number | boolean>, scores: Numbers): number {
  const { y, pos, neg } = binaryProblem(labels, scores);
  const ranks = midranks(scores);
  let sum = 0;
  for (let i = 0; i < y.length; i++) if (y[i]) sum += ranks[i];
  return (sum - pos * (pos + 1) / 2) / (pos * neg);
}

/** Checks an N×K probability matrix the way scikit-learn's multi-class AUC does. */
function checkProbabilities(probs: Numbers, n: number, k: number) {
  if (probs.length !== n * k) {
    throw new RangeError(`probs has ${probs.length} entries, expected ${n} rows × ${k} classes = ${n * k}`);
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      const v = probs[i * k + c];
      if (!Number.isFinite(v)) throw new RangeError(`probs[${i * k + c}] is ${v}, not a finite number`);
      s += v;
    }
    // numpy.allclose(1, sum): scikit-learn's test that the rows are probabilities.
    if (!(Math.abs(s - 1) <= 1e-8 + 1e-5)) {
      throw new RangeError(`probs row ${i} sums to ${s}, not 1: pass softmax probabilities`);
    }
  }
}

/** Options of {@linkcode ovrMacroAuc}. */
export interface OvrOptions {
  /** "error" (default, as scikit-learn) throws when a class is absent; "skip" averages over present ones */
  absentClass?: "error" | "skip";
}

/**
 * One-vs-rest macro ROC AUC over `numClasses` classes: the mean over classes c of the AUC of (label = c)
 * against probability column c, as `roc_auc_score(labels, probs, multi_class="ovr", average="macro")`.
 * `probs` is row-major N×numClasses, rows summing to 1.
 *
 * @example
 * ```ts
 * import { ovrMacroAuc } from "./auc.ts";
 * const probs = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7, 0.6, 0.3, 0.1];
 * if (ovrMacroAuc(probs, [0, 1, 2, 0], 3) !== 1) throw new Error("perfect ranking");
 * ```
 */
export function ovrMacroAuc(
  probs: Numbers,
  labels: Numbers,
  numClasses: number,
  options: OvrOptions = {},
): number {
  const y = classLabels("labels", labels, numClasses);
  const n = y.length;
  checkProbabilities(probs, n, numClasses);
  const col = new Float64Array(n), yc = new Uint8Array(n);
  let sum = 0, used = 0;
  for (let c = 0; c < numClasses; c++) {
    let pos = 0;
    for (let i = 0; i < n; i++) {
      col[i] = probs[i * numClasses + c];
      yc[i] = y[i] === c ? 1 : 0;
      pos += yc[i];
    }
    if (pos === 0 || pos === n) {
      if (options.absentClass === "skip") continue;
      throw new RangeError(
        `labels ${pos === 0 ? "lack" : "contain only"} class ${c}: its one-vs-rest AUC is undefined`,
      );
    }
    sum += rocAuc(yc, col);
    used++;
  }
  if (used === 0) throw new RangeError("labels leave no class with a defined one-vs-rest AUC");
  return sum / used;
}

/**
 * The study's referable-DR AUC: label = grade ≥ `threshold` (default 2), score = the summed probability of
 * grades ≥ `threshold`. `probs` is row-major N×numClasses (numClasses = probs.length / labels.length).
 *
 * @example
 * ```ts
 * import { referableAuc } from "./auc.ts";
 * const probs = [0.9, 0.05, 0.05, 0, 0, 0.1, 0.1, 0.5, 0.2, 0.1];
 * if (referableAuc(probs, [0, 3]) !== 1) throw new Error("wrong");
 * ```
 */
export function referableAuc(probs: Numbers, labels: Numbers, threshold = 2): number {
  if (labels.length === 0) throw new RangeError("labels is empty");
  const k = probs.length / labels.length;
  if (!Number.isInteger(k) || k < 2) {
    throw new RangeError(
      `probs has ${probs.length} entries, not a whole number of rows for ${labels.length} labels`,
    );
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold >= k) {
    throw new RangeError(`threshold must be an integer grade in 1..${k - 1}, got ${threshold}`);
  }
  const y = classLabels("labels", labels, k);
  const score = new Float64Array(y.length), bin = new Uint8Array(y.length);
  for (let i = 0; i < y.length; i++) {
    let s = 0;
    // every column, not only the summed ones: a NaN in p₀ means the model's output is broken all the same
    for (let c = 0; c < k; c++) {
      const v = probs[i * k + c];
      if (!Number.isFinite(v)) throw new RangeError(`probs[${i * k + c}] is ${v}, not a finite number`);
      if (c >= threshold) s += v;
    }
    score[i] = s;
    bin[i] = y[i] >= threshold ? 1 : 0;
  }
  return rocAuc(bin, score);
}
