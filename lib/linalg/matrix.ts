/**
 * Dense row-major float64 matrices and the products the statistics need, in plain TypeScript.
 * Loops run over contiguous rows (dot products and axpys) because V8 does not vectorise strided access.
 * @module
 */

/** A dense row-major matrix: entry (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  /** number of rows */
  rows: number;
  /** number of columns */
  cols: number;
  /** the entries, row-major */
  data: Float64Array;
}

/**
 * Makes a matrix, zero-filled or over existing data (not copied).
 *
 * @example
 * ```ts
 * import { matrix } from "./matrix.ts";
 * const m = matrix(2, 3, [1, 2, 3, 4, 5, 6]);
 * if (m.data[1 * 3 + 2] !== 6) throw new Error("row-major");
 * ```
 */
export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`Matrix shape must be non-negative integers, got ${rows}×${cols}`);
  }
  if (data === undefined) return { rows, cols, data: new Float64Array(rows * cols) };
  if (data.length !== rows * cols) {
    throw new RangeError(`Matrix data has ${data.length} entries, expected ${rows}×${cols} = ${rows * cols}`);
  }
  return { rows, cols, data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

/** The transpose, as a new matrix (cache-blocked). */
export function transpose(a: Matrix): Matrix {
  const { rows, cols } = a;
  const src = a.data, out = new Float64Array(rows * cols);
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const r = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = src[r + j];
      }
    }
  }
  return { rows: cols, cols: rows, data: out };
}

/**
 * `a · b`.
 *
 * @example
 * ```ts
 * import { matmul, matrix } from "./matrix.ts";
 * const c = matmul(matrix(1, 2, [1, 2]), matrix(2, 1, [3, 4]));
 * if (c.data[0] !== 11) throw new Error("wrong product");
 * ```
 */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new RangeError(`Cannot multiply ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const n = a.rows, k = a.cols, m = b.cols;
  const A = a.data, Bd = b.data, C = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ci = i * m, ai = i * k;
    for (let p = 0; p < k; p++) {
      const v = A[ai + p];
      if (v === 0) continue;
      const bp = p * m;
      for (let j = 0; j < m; j++) C[ci + j] += v * Bd[bp + j];
    }
  }
  return { rows: n, cols: m, data: C };
}

/** `a · bᵀ`: every entry is a dot product of two contiguous rows. With `b` omitted, the symmetric `a · aᵀ`. */
export function matmulRowsT(a: Matrix, b?: Matrix): Matrix {
  const sym = b === undefined;
  const bb = b ?? a;
  if (a.cols !== bb.cols) {
    throw new RangeError(`Cannot multiply ${a.rows}×${a.cols} by (${bb.rows}×${bb.cols})ᵀ`);
  }
  const n = a.rows, m = bb.rows, k = a.cols;
  const A = a.data, Bd = bb.data, C = new Float64Array(n * m);
  // Blocks of the shared dimension keep a panel of rows in cache while every pair is visited.
  const KB = 2048;
  for (let k0 = 0; k0 < k; k0 += KB) {
    const k1 = Math.min(k, k0 + KB);
    for (let i = 0; i < n; i++) {
      const ai = i * k;
      for (let j = sym ? i : 0; j < m; j++) {
        const bj = j * k;
        let s0 = 0, s1 = 0;
        let t = k0;
        for (; t + 1 < k1; t += 2) {
          s0 += A[ai + t] * Bd[bj + t];
          s1 += A[ai + t + 1] * Bd[bj + t + 1];
        }
        if (t < k1) s0 += A[ai + t] * Bd[bj + t];
        C[i * m + j] += s0 + s1;
      }
    }
  }
  if (sym) { for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) C[i * m + j] = C[j * m + i]; }
  return { rows: n, cols: m, data: C };
}

/** Multiplies every entry in place and returns the matrix. */
export function scaleInPlace(a: Matrix, s: number): Matrix {
  const d = a.data;
  for (let i = 0; i < d.length; i++) d[i] *= s;
  return a;
}
