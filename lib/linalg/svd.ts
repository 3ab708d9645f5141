/**
 * Thin singular value decomposition by one-sided Jacobi rotations (Hestenes), accurate for small and
 * tiny singular values alike; meant for matrices up to a few hundred on a side.
 * @module
 */
import { type Matrix, transpose } from "./matrix.ts";

/** A thin SVD: `a = u · diag(s) · vᵀ`, with the singular vectors stored as rows. */
export interface Svd {
  /** singular values, largest first (length r = min(rows, cols)) */
  s: Float64Array;
  /** r × rows: row i is the left singular vector of s[i] */
  u: Matrix;
  /** r × cols: row i is the right singular vector of s[i] */
  v: Matrix;
}

/**
 * Thin SVD of any real matrix.
 *
 * @example
 * ```ts
 * import { svd } from "./svd.ts";
 * import { matrix } from "./matrix.ts";
 * const { s } = svd(matrix(2, 2, [3, 0, 0, -4]));
 * if (Math.abs(s[0] - 4) > 1e-14 || Math.abs(s[1] - 3) > 1e-14) throw new Error("wrong");
 * ```
 */
export function svd(a: Matrix): Svd {
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i])) throw new RangeError(`Matrix has a non-finite entry at index ${i}`);
  }
  if (a.rows < a.cols) {
    const t = svd(transpose(a));
    return { s: t.s, u: t.v, v: t.u };
  }
  // rows ≥ cols: orthogonalise the columns of a, i.e. the rows of b = aᵀ (contiguous), accumulating V.
  const m = a.rows, n = a.cols;
  const b = transpose(a).data; // n rows of length m
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const tol = 1e-15;
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const rp = p * m;
      for (let q = p + 1; q < n; q++) {
        const rq = q * m;
        let alpha = 0, beta = 0, gamma = 0;
        for (let k = 0; k < m; k++) {
          const x = b[rp + k], y = b[rq + k];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let k = 0; k < m; k++) {
          const x = b[rp + k], y = b[rq + k];
          b[rp + k] = c * x - s * y;
          b[rq + k] = s * x + c * y;
        }
        const vp = p * n, vq = q * n;
        for (let k = 0; k < n; k++) {
          const x = v[vp + k], y = v[vq + k];
          v[vp + k] = c * x - s * y;
          v[vq + k] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let k = 0; k < m; k++) ss += b[i * m + k] ** 2;
    norms[i] = Math.sqrt(ss);
  }
  const order = Array.from(norms.keys()).sort((x, y) => norms[y] - norms[x]);
  const s = new Float64Array(n), u = new Float64Array(n * m), vo = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const i = order[r];
    s[r] = norms[i];
    // V was accumulated with rotations applied to its rows pairwise: row i of v holds column i of V.
    for (let k = 0; k < n; k++) vo[r * n + k] = v[i * n + k];
    if (norms[i] > 0) { for (let k = 0; k < m; k++) u[r * m + k] = b[i * m + k] / norms[i]; }
  }
  return { s, u: { rows: n, cols: m, data: u }, v: { rows: n, cols: n, data: vo } };
}
