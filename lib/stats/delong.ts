/**
 * Comparing two correlated AUCs measured on the same test set: DeLong's test (the fast midrank algorithm
 * of Sun & Xu 2014) and a paired, class-stratified bootstrap confidence interval of the difference, also for
 * the one-vs-rest macro AUC over grades.
 * @module
 */
import { Rng } from "../util/random.ts";
import { midranks } from "./auc.ts";
import { binaryLabels, checkScores, classLabels, type Numbers } from "./validate.ts";

/** Result of {@linkcode delongTest}. */
export interface DelongResult {
  /** AUC of scoresA */
  aucA: number;
  /** AUC of scoresB */
  aucB: number;
  /** aucA − aucB */
  diff: number;
  /** DeLong variance of aucA */
  varA: number;
  /** DeLong variance of aucB */
  varB: number;
  /** DeLong covariance of aucA and aucB */
  covAB: number;
  /** variance of aucA − aucB */
  varDiff: number;
  /** diff / sqrt(varDiff) */
  z: number;
  /** two-sided p-value of H0: equal AUCs */
  p: number;
}

/** Complementary error function, accurate to ~1e-15 relative (series below 2, continued fraction above). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf Taylor series: Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - sum * 2 / Math.sqrt(Math.PI);
  }
  if (x > 27) return 0;
  // Continued fraction erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), modified Lentz.
  const tiny = 1e-300;
  let f = x, c = x, d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Two-sided normal p-value of a z statistic. */
export function twoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/**
 * DeLong's test that two AUCs on the same labelled set are equal, computed with the midrank algorithm of
 * Sun & Xu (2014) in O(n log n). A zero variance of the difference gives z = 0, p = 1 when the AUCs are
 * equal and z = ±Infinity, p = 0 otherwise.
 *
 * @example
 * ```ts
 * import { delongTest } from "./delong.ts";
 * const r = delongTest([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.8, 0.9], [0.2, 0.1, 0.6, 0.5, 0.4, 0.9]);
 * if (!(r.p > 0 && r.p <= 1) || r.diff <= 0) throw new Error("wrong");
 * ```
 */
export function delongTest(
  labels: ArrayLike<number | boolean>,
  scoresA: Numbers,
  scoresB: Numbers,
): DelongResult {
  const y = binaryLabels("labels", labels);
  checkScores("scoresA", scoresA, y.length);
  checkScores("scoresB", scoresB, y.length);
  const { m, n } = delongCounts(y);
  const [A, B] = [scoresA, scoresB].map((s) => structuralComponents(y, s, m, n));
  const varA = cov(A.v10, A.v10) / m + cov(A.v01, A.v01) / n;
  const varB = cov(B.v10, B.v10) / m + cov(B.v01, B.v01) / n;
  const covAB = cov(A.v10, B.v10) / m + cov(A.v01, B.v01) / n;
  const varDiff = varA + varB - 2 * covAB;
  const diff = A.auc - B.auc;
  let z: number, p: number;
  if (varDiff > 0) {
    z = diff / Math.sqrt(varDiff);
    p = twoSidedP(z);
  } else {
    z = diff === 0 ? 0 : diff > 0 ? Infinity : -Infinity;
    p = diff === 0 ? 1 : 0;
  }
  return { aucA: A.auc, aucB: B.auc, diff, varA, varB, covAB, varDiff, z, p };
}

/** Result of {@linkcode aucCi}. */
export interface AucCi {
  /** ROC AUC of the scores */
  auc: number;
  /** lower bound, at least 0 */
  lower: number;
  /** upper bound, at most 1 */
  upper: number;
  /** confidence level */
  level: number;
  /** DeLong standard error of the AUC */
  se: number;
}

/**
 * ROC AUC with DeLong's normal confidence interval (pROC's `ci.auc(method = "delong")`): AUC ± z·se, with se
 * from the same structural components as {@linkcode delongTest}, clipped to [0, 1].
 *
 * @example
 * ```ts
 * import { aucCi } from "./delong.ts";
 * const r = aucCi([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.8, 0.9]);
 * if (!(r.lower < r.auc && r.auc < r.upper) || Math.abs(r.auc - 8 / 9) > 1e-12) throw new Error("wrong");
 * ```
 */
export function aucCi(labels: ArrayLike<number | boolean>, scores: Numbers, level = 0.95): AucCi {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const y = binaryLabels("labels", labels);
  checkScores("scores", scores, y.length);
  const { m, n } = delongCounts(y);
  const c = structuralComponents(y, scores, m, n);
  const se = Math.sqrt(cov(c.v10, c.v10) / m + cov(c.v01, c.v01) / n);
  const z = normalQuantile(0.5 + level / 2);
  return {
    auc: c.auc,
    lower: Math.max(0, c.auc - z * se),
    upper: Math.min(1, c.auc + z * se),
    level,
    se,
  };
}

/** The standard normal's p-quantile, p in (0.5, 1): bisection on {@linkcode erfc} to double precision. */
function normalQuantile(p: number): number {
  let lo = 0, hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (1 - erfc(mid / Math.SQRT2) / 2 < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Positives m and negatives n of binary labels; DeLong's variance needs two of each. */
function delongCounts(y: Uint8Array): { m: number; n: number } {
  let m = 0;
  for (let i = 0; i < y.length; i++) m += y[i];
  const n = y.length - m;
  if (m === 0 || n === 0) {
    throw new RangeError(`labels has only one class (${m} positive, ${n} negative): ROC AUC is undefined`);
  }
  if (m < 2 || n < 2) {
    throw new RangeError(
      `labels needs at least 2 positives and 2 negatives for DeLong's variance, got ${m} and ${n}`,
    );
  }
  return { m, n };
}

/** Sample covariance (n − 1) of two equally long arrays. */
function cov(a: Float64Array, b: Float64Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - ma) * (b[i] - mb);
  return s / (a.length - 1);
}

function structuralComponents(y: Uint8Array, s: Numbers, m: number, n: number) {
  const x = new Float64Array(m), yy = new Float64Array(n), z = new Float64Array(m + n);
  let ip = 0, ineg = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i]) x[ip++] = s[i];
    else yy[ineg++] = s[i];
  }
  z.set(x, 0);
  z.set(yy, m);
  const tx = midranks(x), ty = midranks(yy), tz = midranks(z);
  let sum = 0;
  const v10 = new Float64Array(m), v01 = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    sum += tz[i];
    v10[i] = (tz[i] - tx[i]) / n;
  }
  for (let j = 0; j < n; j++) v01[j] = 1 - (tz[m + j] - ty[j]) / m;
  return { auc: (sum - m * (m + 1) / 2) / (m * n), v10, v01 };
}

/** Options of {@linkcode bootstrapAucDiff}. */
export interface BootstrapOptions {
  /** number of resamples (default 2000) */
  resamples?: number;
  /** seed of the project's {@linkcode Rng} (default 0) */
  seed?: number | string;
  /** confidence level of the percentile interval (default 0.95) */
  level?: number;
}

/** Result of {@linkcode bootstrapAucDiff}. */
export interface BootstrapResult {
  /** aucA − aucB on the full set */
  diff: number;
  /** lower percentile bound */
  lower: number;
  /** upper percentile bound */
  upper: number;
  /** confidence level */
  level: number;
  /** resamples drawn */
  resamples: number;
  /** fraction of resamples with aucA − aucB ≤ 0 */
  fractionNotPositive: number;
}

/** The central `level` interval of `diffs` (sorted in place), percentiles interpolated as numpy's default. */
function percentileInterval(diffs: Float64Array, level: number): [number, number] {
  diffs.sort();
  const n = diffs.length, alpha = (1 - level) / 2;
  const q = (p: number) => {
    const h = (n - 1) * p, lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
    return diffs[lo] + (h - lo) * (diffs[hi] - diffs[lo]);
  };
  return [q(alpha), q(1 - alpha)];
}

/** The resample count and interval level of `options` (defaults 2000 and 0.95), checked. */
function bootstrapSettings(options: BootstrapOptions): { resamples: number; level: number } {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  return { resamples, level };
}

/**
 * Paired, class-stratified bootstrap percentile CI of aucA − aucB: each resample draws the positives and the
 * negatives separately with replacement (so every resample keeps both classes and the class balance) and
 * scores the same cases with both models. Percentiles interpolate linearly (numpy's default).
 *
 * @example
 * ```ts
 * import { bootstrapAucDiff } from "./delong.ts";
 * const y = [0, 0, 0, 1, 1, 1], a = [0.1, 0.3, 0.5, 0.4, 0.8, 0.9], b = [0.2, 0.1, 0.6, 0.5, 0.4, 0.9];
 * const r = bootstrapAucDiff(y, a, b, { resamples: 200, seed: 1 });
 * if (!(r.lower <= r.diff && r.diff <= r.upper)) throw new Error("interval");
 * ```
 */
export function bootstrapAucDiff(
  labels: ArrayLike<number | boolean>,
  scoresA: Numbers,
  scoresB: Numbers,
  options: BootstrapOptions = {},
): BootstrapResult {
  const { resamples, level } = bootstrapSettings(options);
  const y = binaryLabels("labels", labels);
  checkScores("scoresA", scoresA, y.length);
  checkScores("scoresB", scoresB, y.length);
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < y.length; i++) (y[i] ? pos : neg).push(i);
  if (pos.length === 0 || neg.length === 0) {
    throw new RangeError(
      `labels has only one class (${pos.length} positive, ${neg.length} negative): ROC AUC is undefined`,
    );
  }
  const N = y.length;
  const orderA = tieGroups(scoresA), orderB = tieGroups(scoresB);
  const w = new Float64Array(N).fill(1);
  const diff = weightedAuc(orderA, y, w) - weightedAuc(orderB, y, w);
  const rng = new Rng(options.seed ?? 0);
  const diffs = new Float64Array(resamples);
  let notPositive = 0;
  for (let r = 0; r < resamples; r++) {
    w.fill(0);
    for (let k = 0; k < pos.length; k++) w[pos[rng.int(pos.length)]]++;
    for (let k = 0; k < neg.length; k++) w[neg[rng.int(neg.length)]]++;
    const d = weightedAuc(orderA, y, w) - weightedAuc(orderB, y, w);
    diffs[r] = d;
    if (d <= 0) notPositive++;
  }
  const [lower, upper] = percentileInterval(diffs, level);
  return {
    diff,
    lower,
    upper,
    level,
    resamples,
    fractionNotPositive: notPositive / resamples,
  };
}

/** Indices sorted by ascending score, and where each run of tied scores ends. */
function tieGroups(s: Numbers): { order: Uint32Array; ends: Uint32Array } {
  const v = Float64Array.from(s);
  const order = new Uint32Array(v.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => v[a] - v[b]);
  const ends: number[] = [];
  for (let i = 0; i < order.length; i++) {
    if (i + 1 === order.length || v[order[i + 1]] !== v[order[i]]) ends.push(i + 1);
  }
  return { order, ends: Uint32Array.from(ends) };
}

/** AUC with case weights (bootstrap multiplicities), ties ½, in one pass over the presorted order. */
function weightedAuc(g: { order: Uint32Array; ends: Uint32Array }, y: Uint8Array, w: Float64Array): number {
  const { order, ends } = g;
  let negBelow = 0, num = 0, wPos = 0, start = 0;
  for (let t = 0; t < ends.length; t++) {
    let p = 0, q = 0;
    for (let k = start; k < ends[t]; k++) {
      const i = order[k];
      if (y[i]) p += w[i];
      else q += w[i];
    }
    num += p * (negBelow + q / 2);
    negBelow += q;
    wPos += p;
    start = ends[t];
  }
  return num / (wPos * negBelow);
}

/** Result of {@linkcode bootstrapMacroAucDiff}: a {@linkcode BootstrapResult} plus the bootstrap's spread. */
export interface MacroBootstrapResult extends BootstrapResult {
  /** macro AUC of A on the full set */
  aucA: number;
  /** macro AUC of B on the full set */
  aucB: number;
  /** sample sd of the resampled differences (the bootstrap standard error) */
  se: number;
}

/**
 * Paired bootstrap percentile CI of the one-vs-rest macro AUC difference of two N×K probability tables
 * (row-major) on the same cases: each resample draws every grade's cases separately with replacement (the
 * class counts stay fixed, so every one-vs-rest problem keeps both sides), and scores them with both models.
 * Every grade must be present. For K = 2 with complementary columns it is {@linkcode bootstrapAucDiff} of
 * column 1, draw for draw.
 *
 * @example
 * ```ts
 * import { bootstrapMacroAucDiff } from "./delong.ts";
 * const y = [0, 0, 1, 1, 2, 2];
 * const a = [0.8, 0.1, 0.1, 0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.1, 0.6, 0.3, 0.1, 0.2, 0.7, 0.2, 0.1, 0.7];
 * const b = [0.4, 0.3, 0.3, 0.3, 0.4, 0.3, 0.3, 0.3, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.4, 0.3, 0.4, 0.3];
 * const r = bootstrapMacroAucDiff(y, a, b, 3, { resamples: 200, seed: 1 });
 * if (!(r.lower <= r.diff && r.diff <= r.upper)) throw new Error("interval");
 * ```
 */
export function bootstrapMacroAucDiff(
  labels: Numbers,
  probsA: Numbers,
  probsB: Numbers,
  numClasses: number,
  options: BootstrapOptions = {},
): MacroBootstrapResult {
  const { resamples, level } = bootstrapSettings(options);
  const y = classLabels("labels", labels, numClasses);
  const N = y.length, K = numClasses;
  checkScores("probsA", probsA, N * K);
  checkScores("probsB", probsB, N * K);
  const byClass: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < N; i++) byClass[y[i]].push(i);
  const absent = byClass.findIndex((c) => c.length === 0);
  if (absent >= 0) {
    throw new RangeError(`labels has no case of class ${absent}: its one-vs-rest AUC is undefined`);
  }
  const column = (p: Numbers, k: number) => Float64Array.from({ length: N }, (_, i) => p[i * K + k]);
  const ovr = Array.from({ length: K }, (_, k) => Uint8Array.from(y, (v) => (v === k ? 1 : 0)));
  const orders = [probsA, probsB].map((p) => Array.from({ length: K }, (_, k) => tieGroups(column(p, k))));
  const macro = (m: number, w: Float64Array) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += weightedAuc(orders[m][k], ovr[k], w);
    return s / K;
  };
  const w = new Float64Array(N).fill(1);
  const aucA = macro(0, w), aucB = macro(1, w);
  const rng = new Rng(options.seed ?? 0);
  const diffs = new Float64Array(resamples);
  let notPositive = 0;
  // the draw order (class K−1 first, down to 0) makes K = 2 draw positives then negatives, as bootstrapAucDiff
  for (let r = 0; r < resamples; r++) {
    w.fill(0);
    for (let k = K - 1; k >= 0; k--) {
      const c = byClass[k];
      for (let j = 0; j < c.length; j++) w[c[rng.int(c.length)]]++;
    }
    const d = macro(0, w) - macro(1, w);
    diffs[r] = d;
    if (d <= 0) notPositive++;
  }
  let mean = 0;
  for (const d of diffs) mean += d / resamples;
  let ss = 0;
  for (const d of diffs) ss += (d - mean) ** 2;
  const [lower, upper] = percentileInterval(diffs, level);
  return {
    aucA,
    aucB,
    diff: aucA - aucB,
    lower,
    upper,
    level,
    resamples,
    fractionNotPositive: notPositive / resamples,
    se: resamples > 1 ? Math.sqrt(ss / (resamples - 1)) : NaN,
  };
}
