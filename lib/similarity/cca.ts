/**
 * CCA, SVCCA and PWCCA as defined by google/svcca's `cca_core.get_cca_similarity` (Raghu et al. 2017) and
 * Morcos et al. (2018), computed from covariance matrices with float64 linear algebra.
 * @module
 */
import { matmulRowsT, type Matrix } from "../linalg/matrix.ts";
import { symEig } from "../linalg/eigh.ts";
import { symEigAsync } from "../linalg/eigh_async.ts";
import { svd } from "../linalg/svd.ts";
import { onnxMatmulRowsT } from "../linalg/onnx.ts";
import { type Activations, centredNeuronRows } from "./activations.ts";

/** Where the large covariance products run. */
export type Backend = "auto" | "ts" | "onnx";

/** Options shared by the CCA family. */
export interface CcaOptions {
  /**
   * google/svcca's epsilon (default 1e-10): after the covariances are scaled by their largest entry,
   * neurons (or SVD directions) with variance below epsilon are dropped as near-constant, and epsilon is
   * added to the diagonal before inverting
   */
  epsilon?: number;
  /** "auto" (default) runs products above ~3·10⁸ multiply-adds through onnxruntime, "ts" never, "onnx" always */
  backend?: Backend;
}

/** Result of {@linkcode cca}. */
export interface CcaResult {
  /** canonical correlations, largest first (min of the two retained dimensions) */
  coefficients: Float64Array;
  /** mean canonical correlation */
  mean: number;
  /** retained dimensions of x and y (after the epsilon rule) */
  dims: [number, number];
}

/** Result of {@linkcode svcca}. */
export interface SvccaResult extends CcaResult {
  /** SVD directions kept on each side before the epsilon rule */
  kept: [number, number];
  /** fraction of variance the kept directions explain on each side */
  varianceExplained: [number, number];
}

/** Result of {@linkcode pwcca}. */
export interface PwccaResult extends CcaResult {
  /** projection-weighted mean of the canonical correlations */
  pwcca: number;
  /** normalised weight of each canonical correlation (sums to 1) */
  weights: Float64Array;
  /** which side's canonical variates gave the weights (the one with fewer retained neurons) */
  side: "x" | "y";
}

const ONNX_WORK = 3e8;

/** `a · bᵀ` on the chosen backend. */
export function rowsT(a: Matrix, b: Matrix | undefined, backend: Backend): Promise<Matrix> | Matrix {
  const work = a.rows * (b ?? a).rows * a.cols;
  if (backend === "onnx" || (backend === "auto" && work > ONNX_WORK)) return onnxMatmulRowsT(a, b);
  return matmulRowsT(a, b);
}

/** A symmetric covariance block, dense or (for SVD-reduced data) diagonal. */
type Sym = { kind: "dense"; m: Matrix } | { kind: "diag"; d: Float64Array };

interface Core {
  s: Float64Array;
  /** r × kx left singular vectors of the whitened cross-covariance */
  u?: Matrix;
  v?: Matrix;
  /** kx × kx inverse square root of the (scaled, regularised) x covariance */
  invX?: Matrix;
  invY?: Matrix;
  keepX: number[];
  keepY: number[];
}

function symSize(a: Sym) {
  return a.kind === "dense" ? a.m.rows : a.d.length;
}

function symMaxAbs(a: Sym) {
  const d = a.kind === "dense" ? a.m.data : a.d;
  let mx = 0;
  for (let i = 0; i < d.length; i++) mx = Math.max(mx, Math.abs(d[i]));
  return mx;
}

function symDiag(a: Sym, i: number) {
  return a.kind === "dense" ? a.m.data[i * a.m.cols + i] : a.d[i];
}

/** Inverse square root of the kept block of `a`/scale + eps·I, as pinv followed by a PSD square root. */
function invSqrt(a: Sym, keep: number[], scale: number, eps: number): Matrix {
  const k = keep.length;
  const out = new Float64Array(k * k);
  if (a.kind === "diag") {
    for (let i = 0; i < k; i++) {
      const w = a.d[keep[i]] / scale + eps;
      out[i * k + i] = w > 0 ? 1 / Math.sqrt(w) : 0;
    }
    return { rows: k, cols: k, data: out };
  }
  const c = new Float64Array(k * k), n = a.m.cols;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) c[i * k + j] = a.m.data[keep[i] * n + keep[j]] / scale;
    c[i * k + i] += eps;
  }
  const { values, vectors } = symEig({ rows: k, cols: k, data: c });
  // numpy.linalg.pinv's default cutoff: singular values ≤ 1e-15 × the largest count as zero.
  const cut = 1e-15 * Math.max(Math.abs(values[0]), Math.abs(values[k - 1]));
  const f = values.map((w) => (w > cut ? 1 / Math.sqrt(w) : 0));
  const V = vectors!.data;
  for (let r = 0; r < k; r++) {
    if (f[r] === 0) continue;
    const vr = r * k;
    for (let i = 0; i < k; i++) {
      const vi = V[vr + i] * f[r];
      if (vi === 0) continue;
      for (let j = 0; j < k; j++) out[i * k + j] += vi * V[vr + j];
    }
  }
  return { rows: k, cols: k, data: out };
}

function mul(a: Matrix, b: Matrix): Matrix {
  const n = a.rows, k = a.cols, m = b.cols, out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const v = a.data[i * k + p];
      if (v === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += v * b.data[p * m + j];
    }
  }
  return { rows: n, cols: m, data: out };
}

/** google/svcca's compute_ccas on covariance blocks, with its scaling and epsilon rules. */
function ccaCore(
  sxx: Sym,
  syy: Sym,
  sxy: Matrix,
  eps: number,
  datapoints: number,
  wantVectors: boolean,
  names: [string, string],
): Core {
  const xmax = symMaxAbs(sxx), ymax = symMaxAbs(syy);
  if (xmax === 0) throw new RangeError(`${names[0]} has no neuron that varies over the datapoints`);
  if (ymax === 0) throw new RangeError(`${names[1]} has no neuron that varies over the datapoints`);
  const keepX: number[] = [], keepY: number[] = [];
  for (let i = 0; i < symSize(sxx); i++) if (Math.abs(symDiag(sxx, i)) / xmax >= eps) keepX.push(i);
  for (let i = 0; i < symSize(syy); i++) if (Math.abs(symDiag(syy, i)) / ymax >= eps) keepY.push(i);
  const kx = keepX.length, ky = keepY.length;
  if (kx + ky >= datapoints) {
    throw new RangeError(
      `CCA needs more datapoints than retained neurons on both sides together: ${kx} + ${ky} dimensions ` +
        `against ${datapoints} datapoints would force canonical correlations of 1; ` +
        `use more datapoints, svcca with maxDims, or linearCka`,
    );
  }
  const invX = invSqrt(sxx, keepX, xmax, eps), invY = invSqrt(syy, keepY, ymax, eps);
  const crop = new Float64Array(kx * ky), sc = 1 / Math.sqrt(xmax * ymax);
  for (let i = 0; i < kx; i++) {
    for (let j = 0; j < ky; j++) crop[i * ky + j] = sxy.data[keepX[i] * sxy.cols + keepY[j]] * sc;
  }
  const arr = mul(mul(invX, { rows: kx, cols: ky, data: crop }), invY);
  const r = Math.min(kx, ky);
  if (wantVectors || r <= 400) {
    const d = svd(arr);
    return { s: d.s, u: d.u, v: d.v, invX, invY, keepX, keepY };
  }
  // Large and only the correlations wanted: eigenvalues of the smaller Gram matrix of arr.
  const g = kx <= ky ? matmulRowsT(arr) : matmulRowsT(transposeM(arr));
  const { values } = symEig(g, { vectors: false });
  const s = new Float64Array(r);
  for (let i = 0; i < r; i++) s[i] = Math.sqrt(Math.max(0, values[i]));
  return { s, keepX, keepY };
}

function transposeM(a: Matrix): Matrix {
  const out = new Float64Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j];
  }
  return { rows: a.cols, cols: a.rows, data: out };
}

function mean(s: Float64Array) {
  let t = 0;
  for (let i = 0; i < s.length; i++) t += s[i];
  return t / s.length;
}

function checkPair(x: Activations, y: Activations, eps: number) {
  if (x.datapoints !== y.datapoints) {
    throw new RangeError(
      `x has ${x.datapoints} datapoints but y has ${y.datapoints}: they must be the same inputs`,
    );
  }
  if (!(eps >= 0 && eps < 1)) throw new RangeError(`epsilon must be in [0, 1), got ${eps}`);
}

async function covariances(x: Activations, y: Activations, backend: Backend) {
  const xc = centredNeuronRows("x", x), yc = centredNeuronRows("y", y);
  const m = x.datapoints;
  if (m < 2) throw new RangeError(`x and y need at least 2 datapoints, got ${m}`);
  const f = 1 / (m - 1);
  const scale = (a: Matrix) => {
    for (let i = 0; i < a.data.length; i++) a.data[i] *= f;
    return a;
  };
  return {
    xc,
    yc,
    sxx: scale(await rowsT(xc, undefined, backend)),
    syy: scale(await rowsT(yc, undefined, backend)),
    sxy: scale(await rowsT(xc, yc, backend)),
  };
}

/** CCA and PWCCA's shared start: checks, covariances of the raw neurons, the CCA core. */
async function denseCore(
  x: Activations,
  y: Activations,
  options: CcaOptions,
  wantVectors: boolean,
) {
  const eps = options.epsilon ?? 1e-10;
  checkPair(x, y, eps);
  const c = await covariances(x, y, options.backend ?? "auto");
  const core = ccaCore(
    { kind: "dense", m: c.sxx },
    { kind: "dense", m: c.syy },
    c.sxy,
    eps,
    x.datapoints,
    wantVectors,
    ["x", "y"],
  );
  return { core, c };
}

/**
 * Canonical correlation analysis between two activation sets over the same datapoints, as google/svcca's
 * `get_cca_similarity(acts1.T, acts2.T, epsilon)`: sample covariances, scaled by their largest entry,
 * near-constant neurons dropped, epsilon added to the diagonals, whitened cross-covariance, its singular
 * values. Refuses (RangeError) when the retained neurons of both sides reach the number of datapoints,
 * where CCA would report correlations of 1 that mean nothing.
 *
 * @example
 * ```ts
 * import { cca } from "./cca.ts";
 * const x = { data: [1, 2, 3, 4, 2, 5, 1, 0], datapoints: 8, neurons: 1 };
 * const y = { data: [2, 4, 6, 8, 4, 10, 2, 0], datapoints: 8, neurons: 1 };
 * const r = await cca(x, y);
 * if (Math.abs(r.mean - 1) > 1e-9) throw new Error("y = 2x is perfectly correlated");
 * ```
 */
export async function cca(x: Activations, y: Activations, options: CcaOptions = {}): Promise<CcaResult> {
  const { core } = await denseCore(x, y, options, false);
  return { coefficients: core.s, mean: mean(core.s), dims: [core.keepX.length, core.keepY.length] };
}

/** Options of {@linkcode svcca}. */
export interface SvccaOptions extends CcaOptions {
  /** fraction of variance the kept SVD directions must explain on each side (default 0.99) */
  varianceKept?: number;
  /** upper bound on the directions kept per side, applied after the variance rule */
  maxDims?: number;
}

/**
 * SVCCA (Raghu et al. 2017): centre each neuron, keep the top SVD directions that explain `varianceKept`
 * (default 99 %) of the variance (eigenvalues of the covariance, i.e. squared singular values, largest
 * first, the smallest count whose sum reaches the fraction), then CCA between the two reduced subspaces
 * with google/svcca's epsilon rule; reports the mean canonical correlation and all the coefficients.
 * Large layers run their covariance products through onnxruntime (see `backend`). Refuses when the kept
 * directions of both sides together reach the number of datapoints (set `maxDims`, or use CKA).
 *
 * @example
 * ```ts
 * import { svcca } from "./cca.ts";
 * const x = { data: [1, 0, 2, 1, 3, 5, 4, 2, 0, 1, 5, 3], datapoints: 6, neurons: 2 };
 * const r = await svcca(x, x, { varianceKept: 0.99 });
 * if (Math.abs(r.mean - 1) > 1e-9) throw new Error("a layer is identical to itself");
 * ```
 */
export async function svcca(
  x: Activations,
  y: Activations,
  options: SvccaOptions = {},
): Promise<SvccaResult> {
  const eps = options.epsilon ?? 1e-10;
  const keep = options.varianceKept ?? 0.99;
  const backend = options.backend ?? "auto";
  checkPair(x, y, eps);
  if (!(keep > 0 && keep <= 1)) throw new RangeError(`varianceKept must be in (0, 1], got ${keep}`);
  if (options.maxDims !== undefined && !(Number.isInteger(options.maxDims) && options.maxDims >= 1)) {
    throw new RangeError(`maxDims must be a positive integer, got ${options.maxDims}`);
  }
  const m = x.datapoints;
  if (m < 2) throw new RangeError(`x and y need at least 2 datapoints, got ${m}`);
  const xc = centredNeuronRows("x", x), yc = centredNeuronRows("y", y);
  const f = 1 / (m - 1);
  const reduce = async (c: Matrix, name: string) => {
    const g = await rowsT(c, undefined, backend);
    for (let i = 0; i < g.data.length; i++) g.data[i] *= f;
    // on a worker thread: the two layers' decompositions run on both cores at once
    const eig = await symEigAsync(g, { keepVariance: keep, maxDims: options.maxDims });
    let total = 0, explained = 0;
    for (const v of eig.values) total += Math.max(0, v);
    const k = eig.vectors!.rows;
    for (let i = 0; i < k; i++) explained += Math.max(0, eig.values[i]);
    if (total === 0) throw new RangeError(`${name} has no neuron that varies over the datapoints`);
    return {
      values: eig.values.slice(0, k).map((v) => Math.max(0, v)),
      dirs: eig.vectors!,
      explained: explained / total,
    };
  };
  const [rx, ry] = await Promise.all([reduce(xc, "x"), reduce(yc, "y")]);
  const k1 = rx.dirs.rows, k2 = ry.dirs.rows;
  if (k1 + k2 >= m) {
    throw new RangeError(
      `SVCCA kept ${k1} + ${k2} directions for ${m} datapoints, which forces canonical correlations of 1: ` +
        `use more datapoints or set maxDims below ${Math.floor((m - 1) / 2)}`,
    );
  }
  // Cross-covariance of the reduced data: U1 · (Xc Ycᵀ/(m−1)) · U2ᵀ, computed as (U1 · C) · U2ᵀ.
  const cyx = await rowsT(yc, xc, backend); // p2 × p1 = (Xc Ycᵀ)ᵀ
  const t = await rowsT(rx.dirs, cyx, backend); // k1 × p2 = U1 · Xc Ycᵀ
  const sxy = await rowsT(t, ry.dirs, backend); // k1 × k2
  for (let i = 0; i < sxy.data.length; i++) sxy.data[i] *= f;
  const core = ccaCore(
    { kind: "diag", d: rx.values },
    { kind: "diag", d: ry.values },
    sxy,
    eps,
    m,
    false,
    ["x", "y"],
  );
  return {
    coefficients: core.s,
    mean: mean(core.s),
    dims: [core.keepX.length, core.keepY.length],
    kept: [k1, k2],
    varianceExplained: [rx.explained, ry.explained],
  };
}

/**
 * PWCCA (Morcos et al. 2018): the canonical correlations weighted by how much of the layer's activations
 * each canonical variate accounts for. The variates h_i = u_iᵀ Σxx^(−1/2) (X − μ) of the side with fewer
 * retained neurons (x on a tie, google/svcca's rule) are orthonormalised (QR); weight_i = Σ_j |⟨h_i, x_j⟩|
 * over that side's centred neurons x_j, normalised to sum 1; PWCCA = Σ weight_i ρ_i. This follows the
 * paper; google/svcca's pwcca.py differs in details (it omits Σxx^(−1/2) and re-adds neuron means).
 *
 * @example
 * ```ts
 * import { pwcca } from "./cca.ts";
 * const x = { data: [1, 0, 2, 1, 3, 5, 4, 2, 0, 1, 5, 3], datapoints: 6, neurons: 2 };
 * const r = await pwcca(x, x);
 * if (Math.abs(r.pwcca - 1) > 1e-9) throw new Error("a layer is identical to itself");
 * ```
 */
export async function pwcca(x: Activations, y: Activations, options: CcaOptions = {}): Promise<PwccaResult> {
  const { core, c } = await denseCore(x, y, options, true);
  const useX = core.keepX.length <= core.keepY.length;
  const keep = useX ? core.keepX : core.keepY;
  const dirs = useX ? core.u! : core.v!;
  const inv = useX ? core.invX! : core.invY!;
  const acts = useX ? c.xc : c.yc;
  const m = acts.cols, k = keep.length;
  const kept = new Float64Array(k * m);
  for (let i = 0; i < k; i++) kept.set(acts.data.subarray(keep[i] * m, keep[i] * m + m), i * m);
  const keptM = { rows: k, cols: m, data: kept };
  const h = mul(mul(dirs, inv), keptM); // r × m canonical variates
  orthonormaliseRows(h);
  const proj = matmulRowsT(h, keptM); // r × k
  const r = h.rows;
  const weights = new Float64Array(r);
  let total = 0;
  for (let i = 0; i < r; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.abs(proj.data[i * k + j]);
    weights[i] = s;
    total += s;
  }
  let pw = 0;
  for (let i = 0; i < r; i++) {
    weights[i] /= total;
    pw += weights[i] * core.s[i];
  }
  return {
    coefficients: core.s,
    mean: mean(core.s),
    dims: [core.keepX.length, core.keepY.length],
    pwcca: pw,
    weights,
    side: useX ? "x" : "y",
  };
}

/** Modified Gram-Schmidt on the rows, in order (the Q of a QR of the transpose, up to signs). */
function orthonormaliseRows(a: Matrix) {
  const { rows, cols, data } = a;
  for (let i = 0; i < rows; i++) {
    const ri = i * cols;
    for (let j = 0; j < i; j++) {
      const rj = j * cols;
      let d = 0;
      for (let t = 0; t < cols; t++) d += data[ri + t] * data[rj + t];
      for (let t = 0; t < cols; t++) data[ri + t] -= d * data[rj + t];
    }
    let nn = 0;
    for (let t = 0; t < cols; t++) nn += data[ri + t] ** 2;
    const inv = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    for (let t = 0; t < cols; t++) data[ri + t] *= inv;
  }
}
