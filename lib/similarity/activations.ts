/**
 * Activation sets as the similarity measures take them, and conversion of convolutional activations.
 * @module
 */
import { Rng } from "../util/random.ts";
import type { Matrix } from "../linalg/matrix.ts";

/** Activations of one layer over a set of inputs: row-major datapoints × neurons (as a model outputs N×C). */
export interface Activations {
  /** row-major values, datapoints × neurons */
  data: ArrayLike<number>;
  /** number of rows (inputs, or input positions) */
  datapoints: number;
  /** number of columns (neurons, or channels) */
  neurons: number;
}

/** Options of {@linkcode convActivations}. */
export interface ConvOptions {
  /** "mean" (default) averages over spatial positions; "flatten" makes each (image, position) a datapoint */
  mode?: "mean" | "flatten";
  /** with "flatten": positions sampled per image without replacement (default: all H×W) */
  positionsPerImage?: number;
  /** with "flatten": seed of the position sample (default 0); equal seeds and shapes give equal datapoints */
  seed?: number | string;
}

/**
 * Turns NCHW convolutional activations into an {@linkcode Activations} set with the C channels as neurons:
 * spatial average pooling (default, N datapoints) or flattening with a seeded subsample of positions
 * (N × positionsPerImage datapoints, image-major).
 *
 * @example
 * ```ts
 * import { convActivations } from "./activations.ts";
 * const a = convActivations(new Float32Array([1, 3, 5, 7]), [1, 1, 2, 2]);
 * if (a.datapoints !== 1 || a.neurons !== 1 || a.data[0] !== 4) throw new Error("mean pooling");
 * ```
 */
export function convActivations(
  data: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  options: ConvOptions = {},
): Activations {
  const [N, C, H, W] = shape;
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`shape must be four positive integers [N, C, H, W], got [${shape.join(", ")}]`);
  }
  const S = H * W;
  if (data.length !== N * C * S) {
    throw new RangeError(`data has ${data.length} entries, expected N·C·H·W = ${N * C * S}`);
  }
  const mode = options.mode ?? "mean";
  if (mode === "mean") {
    const out = new Float64Array(N * C);
    for (let i = 0; i < N; i++) {
      for (let c = 0; c < C; c++) {
        const base = (i * C + c) * S;
        let s = 0;
        for (let k = 0; k < S; k++) s += data[base + k];
        out[i * C + c] = s / S;
      }
    }
    return { data: out, datapoints: N, neurons: C };
  }
  if (mode !== "flatten") throw new RangeError(`mode must be "mean" or "flatten", got ${mode}`);
  const P = options.positionsPerImage ?? S;
  if (!Number.isInteger(P) || P < 1 || P > S) {
    throw new RangeError(`positionsPerImage must be an integer in 1..${S}, got ${P}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const out = new Float64Array(N * P * C);
  const all = Array.from({ length: S }, (_, k) => k);
  for (let i = 0; i < N; i++) {
    const pos = P === S ? all : rng.shuffle(all.slice()).slice(0, P).sort((a, b) => a - b);
    for (let q = 0; q < P; q++) {
      const row = (i * P + q) * C;
      for (let c = 0; c < C; c++) out[row + c] = data[(i * C + c) * S + pos[q]];
    }
  }
  return { data: out, datapoints: N * P, neurons: C };
}

/** Checks an activation set and returns it centred, transposed to neurons × datapoints (rows contiguous). */
export function centredNeuronRows(name: string, a: Activations): Matrix {
  const { datapoints: m, neurons: p, data } = a;
  if (!Number.isInteger(m) || !Number.isInteger(p) || m < 1 || p < 1) {
    throw new RangeError(`${name} must have at least one datapoint and one neuron, got ${m}×${p}`);
  }
  if (data.length !== m * p) {
    throw new RangeError(`${name}.data has ${data.length} entries, expected ${m} datapoints × ${p} neurons`);
  }
  const out = new Float64Array(p * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < p; j++) {
      const v = data[i * p + j];
      if (!Number.isFinite(v)) {
        throw new RangeError(`${name}.data[${i * p + j}] is ${v}, not a finite number`);
      }
      out[j * m + i] = v;
    }
  }
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += out[j * m + i];
    const mean = s / m;
    for (let i = 0; i < m; i++) out[j * m + i] -= mean;
  }
  return { rows: p, cols: m, data: out };
}
