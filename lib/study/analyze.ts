/**
 * The study's analysis step: reads every finished run directory of the grid (all shards), and computes what
 * the report prints — mean ± sd over seeds per model and init, convergence speed, DeLong tests and paired
 * bootstrap CIs between inits, and SVCCA / PWCCA / linear CKA per tapped layer — into `<out>/analysis.json`.
 * A rerun over unchanged run directories returns the stored analysis without recomputing.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  bootstrapAucDiff,
  bootstrapMacroAucDiff,
  delongTest,
  finiteMeanStd,
  meanStd,
  twoSidedP,
} from "../stats/mod.ts";
import { convergenceRule, speedRatio, stepsUnder } from "./convergence.ts";
import {
  type Activations,
  ccaCap,
  type LayerSimilarity,
  type PreparedLayer,
  preparedSimilarity,
  prepareLayer,
} from "../similarity/mod.ts";
import { readSafetensors } from "../weights/safetensors.ts";
import { exists, readJson, readText, sha256File, writeJsonAtomic } from "../util/fs.ts";
import {
  ANALYSIS_VERSION,
  type AnalysisFile,
  analysisPath,
  loadAnalysis,
  storedAnalysis,
} from "./analysis_file.ts";
import { collectProvenance, type Provenance } from "./provenance.ts";
import type {
  ConvergenceRule,
  EpochRow,
  GroupSummary,
  InitComparison,
  MissingRun,
  RunResult,
  SimilarityRow,
} from "./results.ts";
import { baselineModels, runGrid, type RunSpec, type StudyConfig } from "./config.ts";
import { identityDiff, readRunIdentity, runIdentity } from "./run_identity.ts";
import { studyPaths } from "./paths.ts";
import {
  type BestEpoch,
  parseMetricsCsv,
  upgradeBestEpoch,
  upgradeEpochMetrics,
} from "../train/run_files.ts";
import { errorMessage } from "../util/errors.ts";

export { ANALYSIS_VERSION, type AnalysisFile, analysisPath, loadAnalysis };

/** Options of {@linkcode analyzeStudy}. */
export interface AnalyzeOptions {
  /** bootstrap resamples per comparison (default 2000) */
  bootstrapReps?: number;
  /** confidence level of the bootstrap intervals (default 0.95) */
  level?: number;
  /** provenance to store with the results; default: collected from the current directory, no GPU query */
  provenance?: Provenance;
  /** recompute even when `analysis.json` matches the run directories (default false) */
  force?: boolean;
  /** write `<out>/analysis.json` (default true) */
  write?: boolean;
  /** called with a line of progress now and then (e.g. `console.error`) */
  log?: (line: string) => void;
}

// ---------------------------------------------------------------------------------------------------------
// reading run directories

const RUN_FILES = [
  "done.json",
  "predictions.csv",
  "predictions-best.csv",
  "activations.safetensors",
  "activations-init.safetensors",
  "metrics.csv",
] as const;

interface LoadedRun {
  spec: RunSpec;
  dir: string;
  result: RunResult;
  /** held-out grades in file order */
  labels: Int32Array;
  /** row-major N×K probabilities (of the epoch chosen on val when the run has one, else the final epoch) */
  probs: Float64Array;
  classes: number;
  /** whether `probs` are the best-val epoch's */
  best: boolean;
}

/** Parses a run's `predictions.csv` (`index,label,p0,...,pK-1`). */
export function parsePredictions(
  text: string,
  where: string,
): { labels: Int32Array; probs: Float64Array; classes: number } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new RangeError(`${where} is empty`);
  const head = lines[0].split(",").map((s) => s.trim());
  if (head[0] !== "index" || head[1] !== "label" || head.length < 4 || head[2] !== "p0") {
    throw new RangeError(`${where} has header "${lines[0]}", expected index,label,p0,...`);
  }
  const k = head.length - 2, n = lines.length - 1;
  const labels = new Int32Array(n), probs = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const f = lines[i + 1].split(",");
    if (f.length !== k + 2) {
      throw new RangeError(`${where} line ${i + 2} has ${f.length} fields, expected ${k + 2}`);
    }
    const y = Number(f[1]);
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(`${where} line ${i + 2} has label "${f[1]}"`);
    }
    labels[i] = y;
    for (let c = 0; c < k; c++) {
      const p = Number(f[c + 2]);
      if (!Number.isFinite(p)) throw new RangeError(`${where} line ${i + 2} has probability "${f[c + 2]}"`);
      probs[i * k + c] = p;
    }
  }
  return { labels, probs, classes: k };
}

async function statKey(path: string): Promise<string> {
  try {
    const s = await Deno.stat(path);
    return `${s.size}:${s.mtime?.getTime() ?? 0}`;
  } catch {
    return "-";
  }
}

/** Counts the epochs an unfinished run logged, for the missing-run reason. */
async function missingReason(dir: string, epochs: number): Promise<string> {
  if (!(await exists(dir))) return "not started";
  let last = 0;
  try {
    const path = join(dir, "metrics.csv");
    last = parseMetricsCsv(await Deno.readTextFile(path), path).at(-1)?.epoch ?? 0;
  } catch {
    // no metrics yet, or unreadable ones: the run is named missing either way
  }
  return last > 0 ? `interrupted after epoch ${last} of ${epochs}` : "started, no epoch finished";
}

interface DoneJson {
  epochs: number;
  steps: number;
  metrics: EpochRow[];
  final: { aucReferable: number; aucMacro: number; kappa: number };
  wallSec: number;
  best?: BestEpoch;
}

async function loadRun(spec: RunSpec, dir: string): Promise<LoadedRun> {
  const done = await readJson<DoneJson>(join(dir, "done.json"));
  if (!done || typeof done !== "object" || !Array.isArray(done.metrics) || typeof done.final !== "object") {
    throw new RangeError(`${join(dir, "done.json")} lacks metrics or final results`);
  }
  // a run with a model-selection split is compared at the epoch chosen on val, as MedMNIST reports it
  const bestPath = join(dir, "predictions-best.csv");
  const best = done.best !== undefined && await exists(bestPath);
  const predPath = best ? bestPath : join(dir, "predictions.csv");
  const pred = parsePredictions(await readText(predPath), predPath);
  let device: string | undefined;
  try {
    const cfg = await readJson<Record<string, unknown>>(join(dir, "config.json"));
    if (typeof cfg?.device === "string") device = cfg.device;
  } catch {
    // config.json is informative only
  }
  const rows: EpochRow[] = done.metrics.map(upgradeEpochMetrics).map((r) => ({
    epoch: r.epoch,
    step: r.step,
    trainLoss: r.trainLoss,
    testAucReferable: r.testAucReferable,
    testAucMacro: r.testAucMacro,
    testKappa: r.testKappa,
    imagesPerSec: r.imagesPerSec,
    wallSec: r.wallSec,
    ...(r.valAucMacro !== undefined
      ? { valAucReferable: r.valAucReferable, valAucMacro: r.valAucMacro, valKappa: r.valKappa }
      : {}),
  }));
  const result: RunResult = {
    id: spec.id,
    model: spec.model,
    init: spec.init,
    seed: spec.seed,
    rows,
    final: { ...done.final, testCount: pred.labels.length },
    wallSec: done.wallSec,
    ...(device ? { device } : {}),
    ...(done.best ? { best: upgradeBestEpoch(done.best) } : {}),
  };
  return { spec, dir, result, ...pred, best };
}

// ---------------------------------------------------------------------------------------------------------
// summaries

function groupSummary(
  model: string,
  init: string,
  runs: LoadedRun[],
  randomSteps: ReadonlyMap<number, number | null> | null,
): GroupSummary {
  const rs = runs.map((r) => r.result).sort((a, b) => a.seed - b.seed);
  const steps = rs.map((r) => r.stepsToTarget ?? null);
  const reached = steps.filter((s): s is number => s !== null);
  // the mean curve over evaluation steps that every seed has (resumed runs may log a step twice: keep last)
  const bySeed = rs.map((r) => new Map(r.rows.map((row) => [row.step, row])));
  const common = rs.length
    ? [...bySeed[0].keys()].filter((s) => bySeed.every((m) => m.has(s))).sort((a, b) => a - b)
    : [];
  const curve = common.map((step) => {
    const at = bySeed.map((m) => m.get(step)!);
    const avg = (f: (r: EpochRow) => number) => at.reduce((a, r) => a + f(r), 0) / at.length;
    return {
      epoch: avg((r) => r.epoch),
      step,
      testAucReferable: avg((r) => r.testAucReferable),
      testAucMacro: avg((r) => r.testAucMacro),
    };
  });
  return {
    model,
    init,
    seeds: rs.map((r) => r.seed),
    aucReferable: finiteMeanStd(rs.map((r) => r.final.aucReferable)),
    aucMacro: finiteMeanStd(rs.map((r) => r.final.aucMacro)),
    kappa: finiteMeanStd(rs.map((r) => r.final.kappa)),
    ...(rs.length && rs.every((r) => r.best)
      ? {
        best: {
          testAucReferable: finiteMeanStd(rs.map((r) => r.best!.testAucReferable)),
          testAucMacro: finiteMeanStd(rs.map((r) => r.best!.testAucMacro)),
          testKappa: finiteMeanStd(rs.map((r) => r.best!.testKappa)),
          epoch: finiteMeanStd(rs.map((r) => r.best!.epoch)),
          valAucMacro: finiteMeanStd(rs.map((r) => r.best!.valAucMacro)),
        },
      }
      : {}),
    stepsToTarget: steps,
    meanStepsToTarget: reached.length ? meanStd(reached).mean : null,
    ...(init !== "random" && randomSteps
      ? { speed: speedRatio(rs.map((r) => r.seed), steps, randomSteps) }
      : {}),
    curve,
  };
}

// ---------------------------------------------------------------------------------------------------------
// comparisons between inits

/** Unordered init pairs of a model, each oriented `a − b` with random (else the earlier init) as `b`. */
function initPairs(inits: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < inits.length; i++) {
    for (let j = i + 1; j < inits.length; j++) {
      const [x, y] = [inits[i], inits[j]];
      out.push(y === "random" ? [x, y] : [y, x]);
    }
  }
  // comparisons against random first, as the papers make them
  return out.sort((p, q) => (p[1] === "random" ? 0 : 1) - (q[1] === "random" ? 0 : 1));
}

function referable(run: { labels: Int32Array; probs: Float64Array; classes: number }) {
  const n = run.labels.length, k = run.classes;
  const y = new Uint8Array(n), s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = run.labels[i] >= 2 ? 1 : 0;
    let t = 0;
    for (let c = 2; c < k; c++) t += run.probs[i * k + c];
    s[i] = t;
  }
  return { y, s };
}

function sameLabels(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compare(
  model: string,
  a: string,
  b: string,
  seed: number | null,
  y: Uint8Array,
  sa: Float64Array,
  sb: Float64Array,
  reps: number,
  level: number,
): InitComparison {
  const d = delongTest(y, sa, sb);
  const boot = bootstrapAucDiff(y, sa, sb, {
    resamples: reps,
    level,
    seed: `analysis/${model}/${a}-vs-${b}/${seed === null ? "pooled" : seed}`,
  });
  return {
    model,
    a,
    b,
    seed,
    metric: "referable",
    aucA: d.aucA,
    aucB: d.aucB,
    z: d.z,
    p: d.p,
    ciLow: boot.lower,
    ciHigh: boot.upper,
    ciLevel: level,
    bootstrapReps: reps,
  };
}

/**
 * The macro-AUC counterpart of {@linkcode compare}, when every grade is in the test set (else null): a
 * paired grade-stratified bootstrap CI, and z from the bootstrap standard error (DeLong's test covers one
 * binary AUC; the macro AUC averages five one-vs-rest ones on the same photos).
 */
function compareMacro(
  model: string,
  a: string,
  b: string,
  seed: number | null,
  ra: { labels: Int32Array; probs: Float64Array; classes: number },
  pb: Float64Array,
  reps: number,
  level: number,
): InitComparison | null {
  const k = ra.classes;
  if (new Set(ra.labels).size < k) return null;
  const r = bootstrapMacroAucDiff(ra.labels, ra.probs, pb, k, {
    resamples: reps,
    level,
    seed: `analysis/${model}/${a}-vs-${b}/${seed === null ? "pooled" : seed}/macro`,
  });
  const z = r.se > 0 ? r.diff / r.se : r.diff === 0 ? 0 : Math.sign(r.diff) * Infinity;
  return {
    model,
    a,
    b,
    seed,
    metric: "macro",
    aucA: r.aucA,
    aucB: r.aucB,
    z,
    p: r.se > 0 ? twoSidedP(z) : (r.diff === 0 ? 1 : 0),
    ciLow: r.lower,
    ciHigh: r.upper,
    ciLevel: level,
    bootstrapReps: reps,
  };
}

function comparisons(
  model: string,
  inits: readonly string[],
  runs: LoadedRun[],
  reps: number,
  level: number,
  notes: string[],
): InitComparison[] {
  const out: InitComparison[] = [];
  const find = (init: string, seed: number) => runs.find((r) => r.spec.init === init && r.spec.seed === seed);
  for (const [a, b] of initPairs(inits)) {
    const seeds = [...new Set(runs.map((r) => r.spec.seed))].sort((x, y) => x - y);
    const paired: { ra: LoadedRun; rb: LoadedRun }[] = [];
    for (const seed of seeds) {
      const ra = find(a, seed), rb = find(b, seed);
      if (!ra || !rb) continue;
      if (!sameLabels(ra.labels, rb.labels) || ra.classes !== rb.classes) {
        notes.push(`${ra.spec.id} and ${rb.spec.id} were tested on different photos: not compared.`);
        continue;
      }
      const A = referable(ra), B = referable(rb);
      try {
        const at = ra.best && rb.best ? { predictions: "best" as const } : {};
        out.push({ ...compare(model, a, b, seed, A.y, A.s, B.s, reps, level), ...at });
        const macro = compareMacro(model, a, b, seed, ra, rb.probs, reps, level);
        if (macro) out.push({ ...macro, ...at });
        paired.push({ ra, rb });
      } catch (e) {
        notes.push(`${ra.spec.id} vs ${rb.spec.id}: ${errorMessage(e)}; not compared.`);
      }
    }
    if (paired.length < 2) continue;
    // pooled over seeds: each init's seed-averaged predicted probabilities (an ensemble per init) on the
    // shared test set, so one test summarises the seeds without picking one of them
    const n = paired[0].ra.labels.length, k = paired[0].ra.classes;
    const mean = (which: "ra" | "rb") => {
      const p = new Float64Array(n * k);
      for (const pr of paired) for (let i = 0; i < p.length; i++) p[i] += pr[which].probs[i] / paired.length;
      return p;
    };
    const pa = mean("ra"), pb = mean("rb");
    const labels = paired[0].ra.labels;
    const A = referable({ labels, probs: pa, classes: k }), B = referable({ labels, probs: pb, classes: k });
    try {
      const at = paired.every((p) => p.ra.best && p.rb.best) ? { predictions: "best" as const } : {};
      out.push({ ...compare(model, a, b, null, A.y, A.s, B.s, reps, level), ...at });
      const macro = compareMacro(model, a, b, null, { labels, probs: pa, classes: k }, pb, reps, level);
      if (macro) out.push({ ...macro, ...at });
    } catch (e) {
      notes.push(`${model} ${a} vs ${b} pooled over seeds: ${errorMessage(e)}.`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// representation similarity

/** A run's tapped activations: layer name → datapoints × neurons, in the file's (depth) order. */
type Taps = Map<string, Activations>;

async function readTaps(path: string): Promise<Taps> {
  const dict = await readSafetensors(path);
  const out: Taps = new Map();
  for (const [name, t] of dict) {
    if (t.shape.length !== 2 || !(t.data instanceof Float32Array)) {
      throw new RangeError(`${path}: tap ${name} has shape [${t.shape}], expected [probes, channels] float`);
    }
    out.set(name, { data: t.data, datapoints: t.shape[0], neurons: t.shape[1] });
  }
  return out;
}

/** The name of a comparison between two inits' runs: `<a>-vs-<b>` with random (else the earlier) as b. */
function pairName(a: string, b: string): string {
  return `${a}-vs-${b}`;
}

interface SimJob {
  pair: string;
  x: string; // run id
  y: string;
}

function similarityJobs(inits: readonly string[], runs: LoadedRun[]): SimJob[] {
  const jobs: SimJob[] = [];
  const seeds = [...new Set(runs.map((r) => r.spec.seed))].sort((a, b) => a - b);
  const id = (init: string, seed: number) =>
    runs.find((r) => r.spec.init === init && r.spec.seed === seed)?.spec.id;
  // cross-init pairs share a seed (same data order and head draw): only the init differs
  for (const [a, b] of initPairs(inits)) {
    for (const s of seeds) {
      const x = id(a, s), y = id(b, s);
      if (x && y) jobs.push({ pair: pairName(a, b), x, y });
    }
  }
  // the baseline: two random inits with different seeds, trained alike
  if (inits.includes("random")) {
    for (let i = 0; i < seeds.length; i++) {
      for (let j = i + 1; j < seeds.length; j++) {
        const x = id("random", seeds[i]), y = id("random", seeds[j]);
        if (x && y) jobs.push({ pair: "random-vs-random", x, y });
      }
    }
  }
  return jobs;
}

interface SimAcc {
  layerIndex: number;
  probes: number;
  svcca: number[];
  pwcca: number[];
  cka: number[];
  notes: Set<string>;
}

function accRows(model: string, acc: Map<string, Map<string, SimAcc>>): SimilarityRow[] {
  const rows: SimilarityRow[] = [];
  for (const [pair, layers] of acc) {
    for (const [layer, a] of layers) {
      rows.push({
        model,
        layer,
        layerIndex: a.layerIndex,
        pair,
        probes: a.probes,
        svcca: finiteMeanStd(a.svcca),
        pwcca: finiteMeanStd(a.pwcca),
        cka: finiteMeanStd(a.cka),
        ...(a.notes.size ? { note: [...a.notes].join("; ") } : {}),
      });
    }
  }
  return rows.sort((p, q) => p.layerIndex - q.layerIndex || p.pair.localeCompare(q.pair));
}

function addSim(
  acc: Map<string, Map<string, SimAcc>>,
  pair: string,
  layer: string,
  index: number,
  probes: number,
  s: LayerSimilarity,
) {
  const byLayer = acc.get(pair) ?? new Map<string, SimAcc>();
  acc.set(pair, byLayer);
  const a = byLayer.get(layer) ??
    { layerIndex: index, probes, svcca: [], pwcca: [], cka: [], notes: new Set<string>() };
  byLayer.set(layer, a);
  a.svcca.push(s.svcca);
  a.pwcca.push(s.pwcca);
  a.cka.push(s.cka);
  if (s.note) a.notes.add(s.note);
}

async function similarityOfModel(
  model: string,
  inits: readonly string[],
  runs: LoadedRun[],
  notes: string[],
  log: (line: string) => void,
): Promise<{ similarity: SimilarityRow[]; initSimilarity: SimilarityRow[] }> {
  const finals = new Map<string, Taps>(), initial = new Map<string, Taps>();
  for (const r of runs) {
    const f = join(r.dir, "activations.safetensors"), i = join(r.dir, "activations-init.safetensors");
    if (await exists(f)) {
      try {
        finals.set(r.spec.id, await readTaps(f));
      } catch (e) {
        notes.push(
          `${r.spec.id}: ${errorMessage(e)}; left out of the similarity analysis.`,
        );
      }
    } else notes.push(`${r.spec.id} has no activations.safetensors; left out of the similarity analysis.`);
    if (await exists(i)) {
      try {
        initial.set(r.spec.id, await readTaps(i));
      } catch (e) {
        notes.push(
          `${r.spec.id}: ${errorMessage(e)}; no similarity to its initialisation.`,
        );
      }
    }
  }
  // depth order: the order of the taps in the first run's file (the model taps them input → output)
  const order = new Map<string, number>();
  for (const t of finals.values()) {
    for (const name of t.keys()) if (!order.has(name)) order.set(name, order.size);
  }

  const between = new Map<string, Map<string, SimAcc>>();
  const own = new Map<string, Map<string, SimAcc>>();
  const jobs = similarityJobs(inits, runs.filter((r) => finals.has(r.spec.id)));
  const mismatch = new Set<string>();
  // layer by layer, each run's decomposition computed once and dropped after the layer
  for (const [layer, index] of order) {
    const cache = new Map<string, Promise<PreparedLayer>>();
    const prepared = (key: string, a: Activations) => {
      if (!cache.has(key)) cache.set(key, prepareLayer(a, ccaCap(a.datapoints)));
      return cache.get(key)!;
    };
    const pairUp = async (
      acc: Map<string, Map<string, SimAcc>>,
      pair: string,
      kx: string,
      x: Activations | undefined,
      ky: string,
      y: Activations | undefined,
    ) => {
      if (!x || !y) return;
      if (x.datapoints !== y.datapoints) {
        mismatch.add(`${model} layer ${layer}: runs hold different numbers of probe photos; not compared.`);
        return;
      }
      let s: LayerSimilarity;
      try {
        // both decompositions at once: each runs on its own worker thread
        const [px, py] = await Promise.all([prepared(kx, x), prepared(ky, y)]);
        s = await preparedSimilarity(px, py);
      } catch (e) {
        const msg = errorMessage(e).split("\n")[0];
        s = { svcca: NaN, pwcca: NaN, cka: NaN, note: msg };
      }
      addSim(acc, pair, layer, index, x.datapoints, s);
    };
    for (const job of jobs) {
      await pairUp(
        between,
        job.pair,
        job.x,
        finals.get(job.x)!.get(layer),
        job.y,
        finals.get(job.y)!.get(layer),
      );
    }
    for (const r of runs) {
      const id = r.spec.id;
      await pairUp(
        own,
        r.spec.init,
        `${id}/init`,
        initial.get(id)?.get(layer),
        id,
        finals.get(id)?.get(layer),
      );
    }
    log(`similarity: ${model} ${layer} done`);
  }
  notes.push(...mismatch);
  return { similarity: accRows(model, between), initSimilarity: accRows(model, own) };
}

// ---------------------------------------------------------------------------------------------------------
// the whole study

async function fingerprint(config: StudyConfig, reps: number, level: number): Promise<string> {
  const h = createHash("sha256");
  // every setting a run's result or the analysis follows from; not where or how fast it ran
  const { out: _o, shard: _s, threads: _t, device: _d, retrain: _r, preset: _p, ...settings } = config;
  h.update(JSON.stringify({ v: ANALYSIS_VERSION, settings, reps, level }));
  for (const spec of runGrid(config)) {
    const dir = join(config.out, spec.id);
    h.update(`\n${spec.id}`);
    for (const f of RUN_FILES) h.update(` ${await statKey(join(dir, f))}`);
  }
  return h.digest("hex");
}

/**
 * Analyses the study in `config.out`: every run of the grid (all shards) with a `done.json` is loaded, the
 * others are named as missing with the reason. Computes, per model and init, mean ± sd over seeds of the
 * final test AUCs and kappa, the mean held-out curve and the steps to reach the convergence target
 * (lib/study/convergence.ts: chosen on val when the runs have a val split, else `config.aucTarget`); per model
 * and pair of inits, DeLong's test and a paired class-stratified bootstrap CI of the referable-AUC
 * difference for each seed's runs (same test photos), plus one pooled comparison of the seed-averaged
 * predictions; per tapped layer, SVCCA, PWCCA and linear CKA for each pair of inits (same seed), for
 * random-vs-random (different seeds, the baseline), and each run against its own initialisation. Writes
 * `<out>/analysis.json` atomically; when that file already matches the run directories (sizes and
 * modification times) it is returned as it is.
 *
 * @example
 * ```ts ignore
 * import { analyzeStudy } from "./analyze.ts";
 * import { resolveConfig } from "./config.ts";
 * const results = await analyzeStudy(resolveConfig(["--out", "out"], { requireInputs: false }));
 * ```
 */
export async function analyzeStudy(config: StudyConfig, options: AnalyzeOptions = {}): Promise<AnalysisFile> {
  const reps = options.bootstrapReps ?? 2000;
  const level = options.level ?? 0.95;
  const log = options.log ?? (() => {});
  if (!Number.isInteger(reps) || reps < 1) {
    throw new RangeError(`bootstrapReps must be a whole number ≥ 1, got ${reps}`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`level must lie in (0, 1), got ${level}`);
  const t0 = performance.now();
  const path = analysisPath(config);
  const print = await fingerprint(config, reps, level);
  if (!options.force && await exists(path)) {
    try {
      const old = await loadAnalysis(path);
      if (old.analysis?.fingerprint === print) {
        log(`analysis: ${path} is up to date`);
        return old;
      }
    } catch {
      // unreadable or stale: recompute
    }
  }

  const grid = runGrid(config);
  const loaded: LoadedRun[] = [];
  const missing: MissingRun[] = [];
  const notes: string[] = [];
  const p = studyPaths(config);
  const cacheHash = async (dir: string) => {
    const f = join(dir, "manifest.json");
    return await exists(f) ? await sha256File(f) : undefined;
  };
  const caches = { main: await cacheHash(p.cache), baseline: await cacheHash(p.baselineCache) };
  for (const spec of grid) {
    const dir = join(config.out, spec.id);
    if (!(await exists(join(dir, "done.json")))) {
      missing.push({ ...spec, reason: await missingReason(dir, config.epochs) });
      continue;
    }
    // a run trained with other settings (other data, probe photos, epochs …) is not this study's
    const baseline = baselineModels(config).includes(spec.model);
    const size = baseline ? (config.baselineSize ?? config.size) : config.size;
    const want = runIdentity(config, spec, size, { cache: baseline ? caches.baseline : caches.main });
    const diff = identityDiff(await readRunIdentity(dir) ?? {}, want);
    if (diff.length) {
      missing.push({ ...spec, reason: `trained with other settings: ${diff.join(", ")}` });
      continue;
    }
    try {
      loaded.push(await loadRun(spec, dir));
    } catch (e) {
      missing.push({ ...spec, reason: `finished but unreadable: ${errorMessage(e)}` });
    }
  }
  log(`analysis: ${loaded.length} of ${grid.length} runs finished`);

  const summary: GroupSummary[] = [];
  const convergence: ConvergenceRule[] = [];
  const comps: InitComparison[] = [];
  const similarity: SimilarityRow[] = [];
  const initSimilarity: SimilarityRow[] = [];
  // models and their inits as the grid has them (a random-only baseline model has one init)
  for (const model of [...new Set(grid.map((r) => r.model))]) {
    const mine = loaded.filter((r) => r.spec.model === model);
    const inits = [...new Set(grid.filter((r) => r.model === model).map((r) => r.init))];
    if (mine.length) {
      const rule = convergenceRule(
        model,
        mine.map((r) => ({ init: r.spec.init, seed: r.spec.seed, rows: r.result.rows })),
        config.aucTarget,
        config.targetFraction,
      );
      convergence.push(rule);
      for (const r of mine) r.result.stepsToTarget = stepsUnder(rule, r.result.rows);
    }
    const random = mine.filter((r) => r.spec.init === "random");
    const randomSteps = random.length
      ? new Map(random.map((r) => [r.spec.seed, r.result.stepsToTarget ?? null]))
      : null;
    for (const init of inits) {
      const g = mine.filter((r) => r.spec.init === init);
      if (g.length) summary.push(groupSummary(model, init, g, randomSteps));
    }
    comps.push(...comparisons(model, inits, mine, reps, level, notes));
    log(`analysis: ${model} comparisons done`);
    const sim = await similarityOfModel(model, inits, mine, notes, log);
    similarity.push(...sim.similarity);
    initSimilarity.push(...sim.initSimilarity);
  }
  const provenance = options.provenance ?? await collectProvenance({ config, gpu: null });
  const result: AnalysisFile = {
    config,
    runs: loaded.map((r) => r.result),
    comparisons: comps,
    similarity,
    missing,
    provenance,
    initSimilarity,
    summary,
    notes,
    convergence,
    analysis: {
      version: ANALYSIS_VERSION,
      fingerprint: print,
      createdAt: new Date().toISOString(),
      seconds: (performance.now() - t0) / 1000,
      bootstrapReps: reps,
      level,
    },
  };
  if (options.write ?? true) await writeJsonAtomic(path, storedAnalysis(result));
  return result;
}
