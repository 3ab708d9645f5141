/**
 * The study's steps over one output folder: `data` (synthesise or take the user's photos, preprocess them
 * into a cache), `pretrain` (the demo's self-made source model), `train` (the grid, resumable, shardable).
 * `analyze` and `report` live in analyze.ts and lib/report. Every step is idempotent: a finished step
 * costs a few file checks on rerun.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { openCache } from "../data/cache.ts";
import { Loader } from "../data/loader.ts";
import { preprocessDataset } from "../data/preprocess.ts";
import { stratifiedSubset } from "../data/split.ts";
import { NATURAL_CLASSES, synthFundus, synthNatural } from "../data/synth.ts";
import { getModel, paramSpecs } from "../models/registry.ts";
import { meanVarInit, randomInit, transferInit, transfusionInit } from "../models/init.ts";
import type { Value } from "../graph/mod.ts";
import { loadWeights } from "../weights/load.ts";
import { ProgressBar } from "../util/progress.ts";
import { exists, removeLeftoverTmp, sha256File } from "../util/fs.ts";
import { acquireLock, LOCK_NAME, withLocks } from "../util/lock.ts";
import { verifyVendored } from "../util/vendored.ts";
import { runTraining } from "../train/fit.ts";
import { readRunSummary, type RunSummary } from "../train/run_files.ts";
import type { Batch } from "../train/run_options.ts";
import type { ModelFn } from "../train/step.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { baselineModels, runGrid, type RunSpec, shardRuns, SPLIT_SEED, type StudyConfig } from "./config.ts";
import { studyPaths } from "./paths.ts";
import { changedRuns, changedRunsMessage, type RunIdentity, runIdentity } from "./run_identity.ts";
import { checkBatch } from "./preflight.ts";

// The split (SPLIT_SEED) and the probe set are study-wide (every run sees the same test photos in order).

/**
 * Step `data`: synthetic photos when asked for, then the preprocessed cache. Returns the cache folder. Holds
 * the locks of the folders it writes (the synthetic photos' and the cache's), so a second data step on the
 * same `--out` refuses instead of interleaving its shards with this one's.
 */
export async function dataStep(c: StudyConfig, log: (s: string) => void = console.error): Promise<string> {
  const p = studyPaths(c);
  const caches = [...new Set([p.cache, p.baselineCache])];
  const folders = c.data.kind === "synthetic" ? [p.data, ...caches] : caches;
  return await withLocks(folders, () => dataLocked(c, log), { log });
}

/** Removes the temp files a killed write left in a cache (its folder and its shards). */
async function tidyCache(dir: string, log: (s: string) => void): Promise<void> {
  const n = (await removeLeftoverTmp(dir)).length + (await removeLeftoverTmp(join(dir, "shards"))).length;
  if (n) log(`${dir}: removed ${n} temp file(s) left by an interrupted write`);
}

async function dataLocked(c: StudyConfig, log: (s: string) => void): Promise<string> {
  const p = studyPaths(c);
  for (const dir of new Set([p.cache, p.baselineCache])) await tidyCache(dir, log);
  if (c.data.kind === "synthetic") {
    const r = await synthFundus({
      out: p.data,
      count: c.data.count,
      seed: c.data.seed,
      width: c.data.width,
      gradeWeights: c.data.grades,
    });
    log(
      `data: ${r.count} synthetic fundus photos in ${p.data} (${r.rendered} rendered, ${
        r.seconds.toFixed(1)
      } s)`,
    );
  }
  if (c.data.kind === "path") await verifyVendored(resolve(c.data.path));
  // the baselines may train at another side (a dataset's native one): a second cache, same photos and split
  const sizes: [string, number][] = [[p.cache, c.size]];
  if (baselineModels(c).length && p.baselineCache !== p.cache) sizes.push([p.baselineCache, c.baselineSize!]);
  for (const [out, size] of sizes) {
    const r = await preprocessDataset({
      data: p.data,
      out,
      size,
      format: c.data.kind === "path" && c.data.format && c.data.format !== "auto"
        ? c.data.format as "kaggle"
        : undefined,
      seed: SPLIT_SEED,
      testFraction: c.testFraction,
      limit: c.limit ?? undefined,
      allowOutsidePaths: c.allowOutsidePaths,
    });
    log(
      `data: cache ${out}: ${r.cached} images (${r.processed} processed, ${r.reused} reused, ` +
        `${r.skipped.length} skipped)`,
    );
  }
  return p.cache;
}

/** Step `pretrain` (presets with a source task): the self-made stand-in for ImageNet weights. */
export async function pretrainStep(
  c: StudyConfig,
  log: (s: string) => void = console.error,
): Promise<string | null> {
  if (!c.source) return null;
  const p = studyPaths(c), src = c.source;
  if (src.classes !== NATURAL_CLASSES.length) {
    throw new RangeError(
      `The synthetic source task has ${NATURAL_CLASSES.length} classes, not ${src.classes}`,
    );
  }
  const weights = join(p.pretrainRun, "weights.safetensors");
  const srcRun = { model: src.model, init: "random" as const, seed: 0 };
  const want = runIdentity({ ...c, data: sourceData(c) }, srcRun, c.size, {
    classes: src.classes,
    epochs: src.epochs,
  });
  await settleRuns(c, [{ dir: p.pretrainRun, want }], log);
  if (await exists(join(p.pretrainRun, "done.json"))) return weights;
  // the source task's photos and cache; the run folder is locked by runTraining
  await withLocks([p.sourceData, p.sourceCache], async () => {
    await tidyCache(p.sourceCache, log);
    const d = sourceData(c);
    await synthNatural({ out: p.sourceData, count: d.count, seed: `source:${d.seed}`, size: d.width });
    const pre = await preprocessDataset({
      data: p.sourceData,
      out: p.sourceCache,
      size: c.size,
      format: "csv",
      crop: "none",
      classes: src.classes,
      seed: SPLIT_SEED,
      testFraction: c.testFraction,
    });
    log(`pretrain: source task ${pre.cached} images, ${src.classes} classes`);
  }, { log });
  const spec = paramSpecs(src.model, { classes: src.classes, inputSize: c.size });
  await trainOne(c, {
    dir: p.pretrainRun,
    model: src.model,
    cacheDir: p.sourceCache,
    classes: src.classes,
    epochs: src.epochs,
    seed: 0,
    label: `pretrain ${src.model}`,
    init: () => Promise.resolve(randomInit(spec, "pretrain")),
    identity: want,
  });
  return weights;
}

/** The demo's source-task photos as a data request (what its pretraining run's identity names). */
function sourceData(c: StudyConfig): StudyConfig["data"] & { kind: "synthetic" } {
  return {
    kind: "synthetic",
    count: c.source!.count,
    seed: c.data.kind === "synthetic" ? c.data.seed : 0,
    width: Math.max(c.size, 32),
  };
}

/** The pretrained weights for `model`: the user's file, or the source model of the demo. */
function weightsFor(c: StudyConfig, model: string): string | null {
  const w = (c.weights as Record<string, string>)[model];
  if (w) return resolve(w);
  if (c.source && getModel(c.source.model).name === getModel(model).name) {
    return join(studyPaths(c).pretrainRun, "weights.safetensors");
  }
  return null;
}

/** The side `run` trains at: the baselines' own side, else the study's. */
function sideOf(c: StudyConfig, run: RunSpec): number {
  return baselineModels(c).includes(run.model) ? (c.baselineSize ?? c.size) : c.size;
}

/** Where the vendored files' manifest is (the project's `vendor/`); tests point it at a copy. */
export interface VendorOptions {
  /** the folder whose `manifest.json` lists the vendored files; default the project's `vendor/` */
  vendorDir?: string;
}

/** The initial state dict of a run; pretrained weights that are vendored files are checked first. */
export async function initialState(
  c: StudyConfig,
  run: RunSpec,
  opts: VendorOptions = {},
): Promise<StateDict> {
  const size = sideOf(c, run);
  const aux = getModel(run.model).hasAux ? size >= 299 : undefined;
  const spec = paramSpecs(run.model, { classes: 5, inputSize: size, aux });
  const seed = `${run.model}:${run.seed}`;
  if (run.init === "random") return randomInit(spec, seed);
  const path = weightsFor(c, run.model);
  if (!path) throw new RangeError(`Init ${run.init} of ${run.model} needs --weights ${run.model}=FILE`);
  // the source model's own head (ImageNet's 1000 classes, or the demo's source classes) is replaced
  const srcClasses = c.source && !(c.weights as Record<string, string>)[run.model] ? c.source.classes : 1000;
  const srcSpec = paramSpecs(run.model, { classes: srcClasses, inputSize: size, aux });
  await verifyVendored(path, opts.vendorDir);
  const { state: pretrained } = await loadWeights(path, srcSpec);
  if (run.init === "transfer") return transferInit(pretrained, spec, seed);
  if (run.init === "meanvar") return meanVarInit(pretrained, spec, seed);
  const k = Number(run.init.split(":")[1]);
  return transfusionInit(pretrained, randomInit(spec, seed), k, spec.stages);
}

interface TrainOne {
  dir: string;
  model: string;
  cacheDir: string;
  classes: number;
  epochs: number;
  seed: number;
  label: string;
  init: () => Promise<StateDict>;
  config?: Record<string, unknown>;
  /** what determines the run's result, recorded in config.json with the cache's hash */
  identity: RunIdentity;
}

async function trainOne(c: StudyConfig, t: TrainOne): Promise<RunSummary> {
  const cache = await openCache(t.cacheDir);
  let train = cache.indices("train");
  if (c.trainSubset && c.trainSubset < train.length) {
    train = stratifiedSubset(train, cache.labels, c.trainSubset, `subset:${SPLIT_SEED}`);
  }
  const test = cache.indices("test");
  // a dataset's own validation split (MedMNIST) picks the best epoch; the test split only reports it
  const val = cache.indices("val");
  const probe = test.slice(0, Math.min(c.probeCount, test.length));
  // preflight predicted the split; this is the exact one, after photos the data step skipped
  checkBatch(c, cache.indices("train").length, `the cache ${t.cacheDir}`);
  const batch = c.batch;
  const trainLoader = new Loader(cache, train, { batch, seed: `${t.seed}`, shuffle: true, dropLast: true });
  const testLoader = new Loader(cache, test, { batch, seed: 0, shuffle: false });
  const probeLoader = new Loader(cache, probe, { batch, seed: 0, shuffle: false });
  const valLoader = val.length ? new Loader(cache, val, { batch, seed: 0, shuffle: false }) : null;
  const def = getModel(t.model);
  const aux = def.hasAux ? cache.size >= 299 : undefined;
  const model: ModelFn = (net, x) =>
    def.build(net, x, { classes: t.classes, aux }) as { logits: Value; aux?: Value };
  const bar = new ProgressBar({ label: t.label });
  try {
    return await runTraining({
      dir: t.dir,
      model,
      init: t.init,
      epochs: t.epochs,
      batch,
      size: cache.size,
      lr: c.lr,
      seed: t.seed,
      device: c.device,
      threads: c.threads || undefined,
      classes: t.classes,
      evalEvery: c.evalEvery || undefined,
      trainBatches: (epoch) => trainLoader.batches(epoch) as AsyncIterable<Batch>,
      stepsPerEpoch: Math.floor(train.length / batch),
      testBatches: () => testLoader.batches(0) as AsyncIterable<Batch>,
      valBatches: valLoader ? () => valLoader.batches(0) as AsyncIterable<Batch> : undefined,
      probeBatches: probe.length ? () => probeLoader.batches(0) as AsyncIterable<Batch> : undefined,
      config: {
        ...t.config,
        identity: { ...t.identity, cache: cache.manifestHash },
        model: t.model,
        seed: t.seed,
        classes: t.classes,
        size: cache.size,
        manifestHash: cache.manifestHash,
      },
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.done();
    trainLoader.close();
    testLoader.close();
    probeLoader.close();
    valLoader?.close();
    cache.close();
  }
}

/** Step `train`: this shard's runs of the grid, skipping finished ones and resuming interrupted ones. */
export async function trainStep(
  c: StudyConfig,
  log: (s: string) => void = console.error,
  opts: VendorOptions = {},
): Promise<RunSummary[]> {
  const p = studyPaths(c);
  if (!(await exists(join(p.cache, "manifest.json")))) {
    throw new Error(
      `No data cache at ${p.cache}: run the data step first (deno task data with the same flags)`,
    );
  }
  const runs = c.shard ? shardRuns(runGrid(c), c.shard.index, c.shard.count) : runGrid(c);
  // every run of this shard is checked against what it was trained with before any of them trains
  const hashes = new Map<string, Promise<string>>();
  const hash = (path: string) => {
    if (!hashes.has(path)) hashes.set(path, sha256File(path));
    return hashes.get(path)!;
  };
  const planned = [];
  for (const run of runs) {
    const cacheDir = baselineModels(c).includes(run.model) ? p.baselineCache : p.cache;
    const w = run.init === "random" ? null : weightsFor(c, run.model);
    const want = runIdentity(c, run, sideOf(c, run), {
      cache: await hash(join(cacheDir, "manifest.json")),
      weights: w === null ? null : await hash(w),
    });
    planned.push({ run, cacheDir, want, dir: join(p.runs, run.id) });
  }
  await settleRuns(c, planned, log);
  const out: RunSummary[] = [];
  for (const { run, cacheDir, want, dir } of planned) {
    const done = join(dir, "done.json");
    // a finished run costs one file read: no cache, loaders or sessions are opened for it
    const finished = await exists(done);
    const t0 = performance.now();
    const s = finished ? await readRunSummary(dir) : await trainOne(c, {
      dir,
      model: run.model,
      cacheDir,
      classes: 5,
      epochs: c.epochs,
      seed: run.seed,
      label: run.id,
      init: () => initialState(c, run, opts),
      // the study folder relative to the run folder, so a moved or copied study folder names itself
      config: { run, study: { ...c, out: ".." } },
      identity: want,
    });
    const secs = (performance.now() - t0) / 1000;
    log(
      `train: ${run.id}: AUC referable ${s.final.aucReferable.toFixed(3)}, macro ${
        s.final.aucMacro.toFixed(3)
      }, kappa ${s.final.kappa.toFixed(3)}${finished ? " (already finished)" : ` (${secs.toFixed(0)} s)`}`,
    );
    out.push(s);
  }
  return out;
}

/**
 * Refuses runs started with other settings, or with `--retrain` moves them aside to `<out>/discarded/`
 * (nothing is deleted) so that they train again.
 */
async function settleRuns(
  c: StudyConfig,
  runs: readonly { dir: string; want: Partial<RunIdentity> }[],
  log: (s: string) => void,
): Promise<void> {
  const changed = await changedRuns(runs);
  if (!changed.length) return;
  if (!c.retrain) throw new RangeError(changedRunsMessage(c, changed));
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (const { dir, diff } of changed) {
    const aside = join(studyPaths(c).out, "discarded", `${basename(dir)}-${stamp}`);
    // its writer must be gone: a live one keeps it
    const lock = await acquireLock(dir, { log });
    try {
      await Deno.mkdir(dirname(aside), { recursive: true });
      await Deno.rename(dir, aside);
    } finally {
      await lock.release();
    }
    await Deno.remove(join(aside, LOCK_NAME)).catch(() => {});
    log(`train: ${basename(dir)} was trained with other settings (${diff.join(", ")}): moved to ${aside}`);
  }
}

/** The finished run summaries present under the study's runs folder. */
export async function finishedRuns(c: StudyConfig): Promise<Map<string, RunSummary>> {
  const m = new Map<string, RunSummary>();
  for (const run of runGrid(c)) {
    const path = join(studyPaths(c).runs, run.id, "done.json");
    if (await exists(path)) m.set(run.id, await readRunSummary(join(studyPaths(c).runs, run.id)));
  }
  return m;
}
