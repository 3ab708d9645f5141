/**
 * {@linkcode symEig} on a worker thread, so that independent decompositions (SVCCA's two layers) use both
 * cores. Where a worker cannot start (a host that forbids it), the same computation runs on this thread.
 * @module
 */
import { type SymEig, symEig, varianceCount } from "./eigh.ts";
import type { Matrix } from "./matrix.ts";

/** Options of {@linkcode symEigAsync}: like {@linkcode symEig}'s, with the count rule given as data. */
export interface SymEigAsyncOptions {
  /** compute eigenvectors (default true) */
  vectors?: boolean;
  /** keep the eigenvectors of the `count` largest eigenvalues (default: all) */
  count?: number;
  /** keep as many eigenvectors as explain this share of the variance (see {@linkcode varianceCount}) */
  keepVariance?: number;
  /** cap on the eigenvectors `keepVariance` keeps */
  maxDims?: number;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix, computed on a worker thread (the matrix is copied to
 * it). Same results as {@linkcode symEig}.
 *
 * @example
 * ```ts
 * import { symEigAsync } from "./eigh_async.ts";
 * import { matrix } from "./matrix.ts";
 * const { values } = await symEigAsync(matrix(2, 2, [2, 1, 1, 2]));
 * if (Math.abs(values[0] - 3) > 1e-12) throw new Error("wrong");
 * ```
 */
export async function symEigAsync(a: Matrix, options: SymEigAsyncOptions = {}): Promise<SymEig> {
  if (a.cols !== a.rows) throw new RangeError(`Matrix must be square, got ${a.rows}×${a.cols}`);
  const { keepVariance: keep, maxDims } = options;
  const local = () =>
    symEig(a, {
      vectors: options.vectors,
      count: options.count,
      selectCount: keep !== undefined ? (v) => varianceCount(v, keep, maxDims) : undefined,
    });
  // starting a worker costs tens of milliseconds: small matrices are quicker here
  if (a.rows < 256) return local();
  let worker: Worker;
  try {
    worker = new Worker(new URL("./eigh_worker.ts", import.meta.url), { type: "module" });
  } catch {
    return local();
  }
  const data = Float64Array.from(a.data);
  return await new Promise<SymEig>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<SymEig>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      // a worker that could not load its module: compute here instead
      try {
        resolve(local());
      } catch (err) {
        reject(err);
      }
    };
    worker.postMessage({ n: a.rows, data, vectors: options.vectors, count: options.count, keep, maxDims }, [
      data.buffer,
    ]);
  });
}
