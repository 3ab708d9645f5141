/**
 * Linear centred kernel alignment (Kornblith et al. 2019), plain and debiased.
 * @module
 */
import { type Activations, centredNeuronRows } from "./activations.ts";
import { type Backend, rowsT } from "./cca.ts";

/** Options of {@linkcode linearCka}. */
export interface CkaOptions {
  /** use the unbiased HSIC estimator (Song et al. 2012), as Kornblith's `debiased=True` (needs ≥ 4 datapoints) */
  debiased?: boolean;
  /** where the neuron-by-neuron products run (default "auto") */
  backend?: Backend;
}

function frob2(d: Float64Array) {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return s;
}

/**
 * Linear CKA ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on column-centred activations (datapoints × neurons), as
 * Kornblith et al.'s `feature_space_linear_cka`; meaningful even with more neurons than datapoints.
 *
 * @example
 * ```ts
 * import { linearCka } from "./cka.ts";
 * const x = { data: [1, 0, 2, 1, 3, 5, 4, 2], datapoints: 4, neurons: 2 };
 * const c = await linearCka(x, x);
 * if (Math.abs(c - 1) > 1e-12) throw new Error("self-similarity is 1");
 * ```
 */
export async function linearCka(x: Activations, y: Activations, options: CkaOptions = {}): Promise<number> {
  if (x.datapoints !== y.datapoints) {
    throw new RangeError(
      `x has ${x.datapoints} datapoints but y has ${y.datapoints}: they must be the same inputs`,
    );
  }
  const backend = options.backend ?? "auto";
  const xc = centredNeuronRows("x", x), yc = centredNeuronRows("y", y);
  const n = x.datapoints;
  let xy = frob2((await rowsT(xc, yc, backend)).data);
  let nx = frob2((await rowsT(xc, undefined, backend)).data);
  let ny = frob2((await rowsT(yc, undefined, backend)).data);
  if (options.debiased) {
    if (n < 4) throw new RangeError(`debiased CKA needs at least 4 datapoints, got ${n}`);
    const rowsX = new Float64Array(n), rowsY = new Float64Array(n);
    for (let j = 0; j < xc.rows; j++) for (let i = 0; i < n; i++) rowsX[i] += xc.data[j * n + i] ** 2;
    for (let j = 0; j < yc.rows; j++) for (let i = 0; i < n; i++) rowsY[i] += yc.data[j * n + i] ** 2;
    let sx = 0, sy = 0, dxy = 0, dxx = 0, dyy = 0;
    for (let i = 0; i < n; i++) {
      sx += rowsX[i];
      sy += rowsY[i];
      dxy += rowsX[i] * rowsY[i];
      dxx += rowsX[i] * rowsX[i];
      dyy += rowsY[i] * rowsY[i];
    }
    const helper = (v: number, dot: number, a: number, b: number) =>
      v - n / (n - 2) * dot + a * b / ((n - 1) * (n - 2));
    xy = helper(xy, dxy, sx, sy);
    nx = helper(nx, dxx, sx, sx);
    ny = helper(ny, dyy, sy, sy);
  }
  if (!(nx > 0) || !(ny > 0)) throw new RangeError("CKA is undefined: an activation set has no variance");
  return xy / Math.sqrt(nx * ny);
}
