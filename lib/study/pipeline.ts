/**
 * The study's steps over one output folder: `data` (synthesise or take the user's photos, preprocess them
 * into a cache), `pretrain` (the demo's self-made source model), `train` (the grid, resumable, shardable).
 * `analyze` and `report` live in analyze.ts and lib/report. Every step is idempotent: a finished step
 * costs a few file checks on rerun.
 * @module
 */
import { join, resolve } from "node:path";
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
import { exists, readJson } from "../util/fs.ts";
import { type Batch, type RunSummary, runTraining } from "../train/fit.ts";
import type { ModelFn } from "../train/step.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { runGrid, type RunSpec, shardRuns, type StudyConfig } from "./config.ts";
import { studyPaths } from "./paths.ts";

// The split and the probe set are study-wide (every run sees the same test photos in the same order).
const SPLIT_SEED = 0;

/** Step `data`: synthetic photos when asked for, then the preprocessed cache. Returns the cache folder. */
export async function dataStep(c: StudyConfig, log: (s: string) => void = console.error): Promise<string> {
  const p = studyPaths(c);
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
  const r = await preprocessDataset({
    data: p.data,
    out: p.cache,
    size: c.size,
    format: c.data.kind === "path" && c.data.format && c.data.format !== "auto"
      ? c.data.format as "kaggle"
      : undefined,
    seed: SPLIT_SEED,
    testFraction: c.testFraction,
    limit: c.limit ?? undefined,
  });
  log(
    `data: cache ${p.cache}: ${r.cached} images (${r.processed} processed, ${r.reused} reused, ` +
      `${r.skipped.length} skipped)`,
  );
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
  if (await exists(join(p.pretrainRun, "done.json"))) return weights;
  await synthNatural({
    out: p.sourceData,
    count: src.count,
    seed: `source:${c.data.kind === "synthetic" ? c.data.seed : 0}`,
    size: Math.max(c.size, 32),
  });
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
  });
  return weights;
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

/** The initial state dict of a run. */
export async function initialState(c: StudyConfig, run: RunSpec): Promise<StateDict> {
  const aux = getModel(run.model).hasAux ? c.size >= 299 : undefined;
  const spec = paramSpecs(run.model, { classes: 5, inputSize: c.size, aux });
  const seed = `${run.model}:${run.seed}`;
  if (run.init === "random") return randomInit(spec, seed);
  const path = weightsFor(c, run.model);
  if (!path) throw new RangeError(`Init ${run.init} of ${run.model} needs --weights ${run.model}=FILE`);
  // the source model's own head (ImageNet's 1000 classes, or the demo's source classes) is replaced
  const srcClasses = c.source && !(c.weights as Record<string, string>)[run.model] ? c.source.classes : 1000;
  const srcSpec = paramSpecs(run.model, { classes: srcClasses, inputSize: c.size, aux });
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
}

async function trainOne(c: StudyConfig, t: TrainOne): Promise<RunSummary> {
  const cache = await openCache(t.cacheDir);
  let train = cache.indices("train");
  if (c.trainSubset && c.trainSubset < train.length) {
    train = stratifiedSubset(train, cache.labels, c.trainSubset, `subset:${SPLIT_SEED}`);
  }
  const test = cache.indices("test");
  const probe = test.slice(0, Math.min(c.probeCount, test.length));
  const batch = Math.min(c.batch, train.length);
  if (batch < 2) throw new RangeError(`${t.cacheDir}: too few training images (${train.length}) for a batch`);
  const trainLoader = new Loader(cache, train, { batch, seed: `${t.seed}`, shuffle: true, dropLast: true });
  const testLoader = new Loader(cache, test, { batch, seed: 0, shuffle: false });
  const probeLoader = new Loader(cache, probe, { batch, seed: 0, shuffle: false });
  const def = getModel(t.model);
  const aux = def.hasAux ? c.size >= 299 : undefined;
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
      device: c.device as "cpu" | "webgpu" | "cuda",
      threads: c.threads || undefined,
      classes: t.classes,
      evalEvery: c.evalEvery || undefined,
      trainBatches: (epoch) => trainLoader.batches(epoch) as AsyncIterable<Batch>,
      stepsPerEpoch: Math.floor(train.length / batch),
      testBatches: () => testLoader.batches(0) as AsyncIterable<Batch>,
      probeBatches: probe.length ? () => probeLoader.batches(0) as AsyncIterable<Batch> : undefined,
      config: {
        ...t.config,
        model: t.model,
        seed: t.seed,
        classes: t.classes,
        manifestHash: cache.manifestHash,
      },
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.done();
    trainLoader.close();
    testLoader.close();
    probeLoader.close();
    cache.close();
  }
}

/** Step `train`: this shard's runs of the grid, skipping finished ones and resuming interrupted ones. */
export async function trainStep(
  c: StudyConfig,
  log: (s: string) => void = console.error,
): Promise<RunSummary[]> {
  const p = studyPaths(c);
  if (!(await exists(join(p.cache, "manifest.json")))) {
    throw new Error(
      `No data cache at ${p.cache}: run the data step first (deno task data with the same flags)`,
    );
  }
  const runs = c.shard ? shardRuns(runGrid(c), c.shard.index, c.shard.count) : runGrid(c);
  const out: RunSummary[] = [];
  for (const run of runs) {
    const dir = join(p.runs, run.id);
    const done = join(dir, "done.json");
    // a finished run costs one file read: no cache, loaders or sessions are opened for it
    const finished = await exists(done);
    const t0 = performance.now();
    const s = finished ? await readJson<RunSummary>(done) : await trainOne(c, {
      dir,
      model: run.model,
      cacheDir: p.cache,
      classes: 5,
      epochs: c.epochs,
      seed: run.seed,
      label: run.id,
      init: () => initialState(c, run),
      config: { run, study: c },
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

/** The finished run summaries present under the study's runs folder. */
export async function finishedRuns(c: StudyConfig): Promise<Map<string, RunSummary>> {
  const m = new Map<string, RunSummary>();
  for (const run of runGrid(c)) {
    const path = join(studyPaths(c).runs, run.id, "done.json");
    if (await exists(path)) m.set(run.id, await readJson<RunSummary>(path));
  }
  return m;
}
