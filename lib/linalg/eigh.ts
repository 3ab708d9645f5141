/**
 * Symmetric eigendecomposition in TypeScript: Householder tridiagonalisation on the lower triangle, then
 * the implicit QL algorithm (EISPACK tql1/tql2), then the reflectors applied back to the wanted vectors.
 * @module
 */
import type { Matrix } from "./matrix.ts";

/** Eigenvalues (largest first) and, when asked for, unit eigenvectors as the rows of `vectors`. */
export interface SymEig {
  /** eigenvalues, largest first */
  values: Float64Array;
  /** row `i` is the eigenvector of `values[i]`; only the first `count` rows when `count` was given */
  vectors?: Matrix;
}

/** Options of {@linkcode symEig}. */
export interface SymEigOptions {
  /** compute eigenvectors (default true) */
  vectors?: boolean;
  /** keep only the eigenvectors of the `count` largest eigenvalues (default: all) */
  count?: number;
  /** chooses `count` from the eigenvalues (largest first) once they are known; overrides `count` */
  selectCount?: (values: Float64Array) => number;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix (only its lower triangle is read), largest first,
 * as `numpy.linalg.eigh` but in descending order. Accurate to a few ulps of the largest eigenvalue.
 *
 * @example
 * ```ts
 * import { symEig } from "./eigh.ts";
 * import { matrix } from "./matrix.ts";
 * const { values } = symEig(matrix(2, 2, [2, 1, 1, 2]));
 * if (Math.abs(values[0] - 3) > 1e-12 || Math.abs(values[1] - 1) > 1e-12) throw new Error("wrong");
 * ```
 */
export function symEig(a: Matrix, options: SymEigOptions = {}): SymEig {
  const n = a.rows;
  if (a.cols !== n) throw new RangeError(`Matrix must be square, got ${a.rows}×${a.cols}`);
  const wantVectors = options.vectors ?? true;
  if (options.count !== undefined && !(options.count >= 0)) {
    throw new RangeError(`Eigenvector count must be non-negative, got ${options.count}`);
  }
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(a.data[i])) throw new RangeError(`Matrix has a non-finite entry at index ${i}`);
  }
  const w = Float64Array.from(a.data);
  const d = new Float64Array(n), e = new Float64Array(n), hs = new Float64Array(n);
  tridiagonalize(w, n, d, e, hs);
  if (!wantVectors) {
    ql(d, e, null, n);
    const values = d.sort().reverse();
    return { values };
  }
  const z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  ql(d, e, z, n);
  // Descending order, then only the kept rows are back-transformed.
  const order = Array.from(d.keys()).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n);
  for (let r = 0; r < n; r++) values[r] = d[order[r]];
  const count = Math.max(
    0,
    Math.min(n, options.selectCount ? options.selectCount(values) : options.count ?? n),
  );
  const zk = new Float64Array(count * n);
  for (let r = 0; r < count; r++) zk.set(z.subarray(order[r] * n, order[r] * n + n), r * n);
  backTransform(w, n, hs, zk, count);
  return { values, vectors: { rows: count, cols: n, data: zk } };
}

/**
 * Reduces the symmetric matrix in `a` (lower triangle, row-major, overwritten) to tridiagonal form:
 * diagonal `d`, sub-diagonal `e[i]` = T(i, i−1). Row `i` keeps the reflector that zeroed it, `hs[i]` its norm.
 */
function tridiagonalize(a: Float64Array, n: number, d: Float64Array, e: Float64Array, hs: Float64Array) {
  const u = new Float64Array(n), p = new Float64Array(n);
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1, ri = i * n;
    let h = 0;
    let scale = 0;
    if (l > 0) { for (let k = 0; k <= l; k++) scale += Math.abs(a[ri + k]); }
    if (l === 0 || scale === 0) {
      e[i] = a[ri + l];
    } else {
      for (let k = 0; k <= l; k++) {
        const v = a[ri + k] / scale;
        a[ri + k] = v;
        h += v * v;
      }
      const f = a[ri + l];
      const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      a[ri + l] = f - g;
      for (let k = 0; k <= l; k++) {
        u[k] = a[ri + k];
        p[k] = 0;
      }
      // p = A u from the lower triangle only: row j gives its dot product and scatters its transpose part.
      for (let j = 0; j <= l; j++) {
        const rj = j * n, uj = u[j];
        let s = 0;
        for (let k = 0; k < j; k++) {
          const v = a[rj + k];
          s += v * u[k];
          p[k] += v * uj;
        }
        p[j] += s + a[rj + j] * uj;
      }
      let kk = 0;
      for (let k = 0; k <= l; k++) {
        p[k] /= h;
        kk += u[k] * p[k];
      }
      const hh = kk / (h + h);
      for (let k = 0; k <= l; k++) p[k] -= hh * u[k];
      for (let j = 0; j <= l; j++) {
        const rj = j * n, uj = u[j], pj = p[j];
        for (let k = 0; k <= j; k++) a[rj + k] -= uj * p[k] + pj * u[k];
      }
    }
    hs[i] = h;
  }
  for (let j = 0; j < n; j++) d[j] = a[j * n + j];
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); rotates the rows of `z` (row i = vector of d[i]) when given. */
function ql(d: Float64Array, e: Float64Array, z: Float64Array | null, n: number) {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error("Symmetric eigendecomposition did not converge");
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (z !== null) {
            const r0 = i * n, r1 = r0 + n;
            for (let k = 0; k < n; k++) {
              const zh = z[r1 + k], zi = z[r0 + k];
              z[r1 + k] = s * zi + c * zh;
              z[r0 + k] = c * zi - s * zh;
            }
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** Applies Q = H(n−1)···H(1) to each of the `count` rows of `z`, a few rows per pass over the reflectors. */
function backTransform(a: Float64Array, n: number, hs: Float64Array, z: Float64Array, count: number) {
  const B = 8;
  for (let r0 = 0; r0 < count; r0 += B) {
    const r1 = Math.min(count, r0 + B);
    for (let i = 1; i < n; i++) {
      const h = hs[i];
      if (h === 0) continue;
      const ri = i * n;
      for (let r = r0; r < r1; r++) {
        const zr = r * n;
        let s = 0;
        for (let k = 0; k < i; k++) s += a[ri + k] * z[zr + k];
        s /= h;
        if (s === 0) continue;
        for (let k = 0; k < i; k++) z[zr + k] -= s * a[ri + k];
      }
    }
  }
}

/**
 * How many leading directions explain a `keep` share of the variance (eigenvalues largest first, negative
 * ones counted as 0), capped at `maxDims`; 0 when nothing varies. SVCCA's 99 % rule.
 */
export function varianceCount(values: Float64Array, keep: number, maxDims?: number): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += Math.max(0, values[i]);
  if (total === 0) return 0;
  let cum = 0, k = 0;
  while (k < values.length) {
    cum += Math.max(0, values[k++]);
    if (cum >= keep * total) break;
  }
  return maxDims !== undefined ? Math.min(k, maxDims) : k;
}
