/**
 * Similarity of two layers as the study measures it: each run's layer decomposed once
 * ({@linkcode prepareLayer}), then SVCCA, PWCCA and linear CKA from the prepared pair with the CCA dimension
 * capped at a quarter of the probe photos ({@linkcode ccaCap}).
 * @module
 */
import { type Matrix, symEigAsync, varianceCount } from "../linalg/mod.ts";
import type { Activations } from "./activations.ts";
import { cca, pwcca, rowsT } from "./cca.ts";
import { linearCka } from "./cka.ts";
import { ccaCap } from "./cap.ts";
import { errorMessage } from "../util/errors.ts";

export { ccaCap };

async function gram(a: Matrix): Promise<Matrix> {
  return await rowsT(a, undefined, "auto");
}

/**
 * One layer's activations made ready for the similarity measures: the raw set (for CKA), the variances of
 * all principal directions (largest first) and the PCA scores (datapoints × k) of the top `k`. Computed once
 * per run and layer, from whichever of the neuron or datapoint Gram matrix is smaller, so that a run taking
 * part in several pairs is decomposed once.
 */
export interface PreparedLayer {
  /** the activations as tapped, datapoints × neurons */
  raw: Activations;
  /** eigenvalues of the activations' scatter matrix, largest first (nonnegative) */
  values: Float64Array;
  /** PCA scores of the top directions, datapoints × `scores.neurons` */
  scores: Activations;
}

/** Decomposes a layer's activations into its top `k` PCA scores (see {@linkcode PreparedLayer}). */
export async function prepareLayer(x: Activations, k: number): Promise<PreparedLayer> {
  const m = x.datapoints, p = x.neurons;
  if (x.data.length !== m * p) {
    throw new RangeError(`activations hold ${x.data.length} values, expected ${m} × ${p}`);
  }
  const c = new Float64Array(m * p);
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += x.data[i * p + j];
    const mu = s / m;
    for (let i = 0; i < m; i++) c[i * p + j] = x.data[i * p + j] - mu;
  }
  const kk = Math.max(0, Math.min(k, m, p));
  const out = new Float64Array(m * kk);
  let values: Float64Array;
  if (p <= m) {
    const t = new Float64Array(p * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) t[j * m + i] = c[i * p + j];
    const e = await symEigAsync(await gram({ rows: p, cols: m, data: t }), { count: kk });
    values = e.values;
    for (let i = 0; i < m; i++) {
      for (let d = 0; d < kk; d++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += c[i * p + j] * e.vectors!.data[d * p + j];
        out[i * kk + d] = s;
      }
    }
  } else {
    const e = await symEigAsync(await gram({ rows: m, cols: p, data: c }), { count: kk });
    values = e.values;
    for (let d = 0; d < kk; d++) {
      const f = Math.sqrt(Math.max(0, values[d]));
      for (let i = 0; i < m; i++) out[i * kk + d] = e.vectors!.data[d * m + i] * f;
    }
  }
  values = values.map((v) => Math.max(0, v));
  return { raw: x, values, scores: { data: out, datapoints: m, neurons: kk } };
}

/**
 * PCA scores of the top `k` principal directions (datapoints × k). They span the subspace CCA would see
 * in those directions.
 */
export async function pcaScores(x: Activations, k: number): Promise<Activations> {
  return (await prepareLayer(x, k)).scores;
}

/** The first `k` columns of a datapoints × n set. */
function firstColumns(a: Activations, k: number): Activations {
  if (k === a.neurons) return a;
  const m = a.datapoints, out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let d = 0; d < k; d++) out[i * k + d] = a.data[i * a.neurons + d];
  return { data: out, datapoints: m, neurons: k };
}

/** One layer pair's similarities; NaN where a measure could not be computed (`note` says why). */
export interface LayerSimilarity {
  /** SVCCA mean canonical correlation */
  svcca: number;
  /** projection-weighted CCA */
  pwcca: number;
  /** linear CKA */
  cka: number;
  /** reductions applied, or why a measure is missing */
  note?: string;
}

/**
 * SVCCA, PWCCA and linear CKA between two prepared layers (same probe photos; prepare with
 * `k = ccaCap(m)`). CCA needs more datapoints than dimensions on both sides together, so with m probe
 * photos each side keeps at most ⌊m/4⌋ directions: SVCCA's 99 %-variance directions are capped there (SVCCA
 * is CCA between the kept directions' scores, as lib/similarity's `svcca` computes it), and PWCCA runs on
 * the top ⌊m/4⌋ PCA directions when a layer has more neurons. CKA uses the raw activations. A measure the
 * similarity library refuses is NaN with the reason in `note`, never a made-up value.
 */
export async function preparedSimilarity(x: PreparedLayer, y: PreparedLayer): Promise<LayerSimilarity> {
  const m = x.raw.datapoints;
  if (y.raw.datapoints !== m) {
    throw new RangeError(`x has ${m} datapoints but y has ${y.raw.datapoints}: they must be the same inputs`);
  }
  const cap = ccaCap(m);
  const notes: string[] = [];
  const why = (what: string, e: unknown) => {
    notes.push(`${what}: ${errorMessage(e).split("\n")[0]}`);
    return NaN;
  };
  let sv: number;
  try {
    const k99 = [varianceCount(x.values, 0.99), varianceCount(y.values, 0.99)];
    if (k99[0] === 0 || k99[1] === 0) {
      throw new RangeError("a side has no neuron that varies over the datapoints");
    }
    const kx = Math.min(k99[0], cap, x.scores.neurons), ky = Math.min(k99[1], cap, y.scores.neurons);
    if (kx < k99[0] || ky < k99[1]) notes.push(`SVCCA directions capped at ${cap}`);
    sv = (await cca(firstColumns(x.scores, kx), firstColumns(y.scores, ky))).mean;
  } catch (e) {
    sv = why("SVCCA", e);
  }
  let pw: number;
  try {
    const rx = x.raw.neurons > cap, ry = y.raw.neurons > cap;
    if (rx || ry) notes.push(`PWCCA on the top ${cap} PCA directions`);
    pw = (await pwcca(
      rx ? firstColumns(x.scores, Math.min(cap, x.scores.neurons)) : x.raw,
      ry ? firstColumns(y.scores, Math.min(cap, y.scores.neurons)) : y.raw,
    )).pwcca;
  } catch (e) {
    pw = why("PWCCA", e);
  }
  const ck = await linearCka(x.raw, y.raw).catch((e) => why("CKA", e));
  return { svcca: sv, pwcca: pw, cka: ck, ...(notes.length ? { note: notes.join("; ") } : {}) };
}

/** {@linkcode preparedSimilarity} of two raw activation sets of the same probe photos. */
export async function layerSimilarity(x: Activations, y: Activations): Promise<LayerSimilarity> {
  const cap = ccaCap(x.datapoints);
  return await preparedSimilarity(await prepareLayer(x, cap), await prepareLayer(y, cap));
}
