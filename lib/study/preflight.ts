/**
 * Checks before work: everything a study would otherwise find out late — after photos were decoded or an
 * epoch trained — is checked when a step starts, and by `reproduce` before its first step: every model
 * builds at its input side, the source task matches its synthetic data, each pretrained weights file is
 * readable and holds the right model, the device opens a session, and the held-out split can give a defined
 * referable AUC (it needs referable and non-referable photos). Each check needs only what its step may
 * touch, so a step names the checks its permissions allow.
 * @module
 */
import { extname, isAbsolute, join, relative, resolve } from "node:path";
import type { Dataset } from "../data/formats.ts";
import { changedRuns, changedRunsMessage, runIdentity } from "./run_identity.ts";
import { getModel, paramSpecs } from "../models/registry.ts";
import { exists, readJson } from "../util/fs.ts";
import {
  type ModelName,
  needsPretrained,
  runGrid,
  shardRuns,
  SPLIT_SEED,
  type StudyConfig,
} from "./config.ts";
import { studyPaths } from "./paths.ts";
import { errorMessage } from "../util/errors.ts";

/**
 * One group of checks: `data` lists the dataset and predicts its split (reads the photos' folder),
 * `source` checks the self-made source task (loads the synthetic-data module: sharp, so --allow-ffi),
 * `weights` reads each pretrained weights file, `device` opens a tiny onnxruntime session (--allow-ffi),
 * `cache` checks the split of a cache already built, `runs` refuses run folders started with other settings
 * (unless `--retrain`), `study` requires `--out` to exist (analyze, report).
 * The configuration itself and the models' shapes are always checked.
 */
export type PreflightCheck = "data" | "source" | "weights" | "device" | "cache" | "runs" | "study";

/** Every check but `study`: what `reproduce` runs before its first step. */
export const ALL_CHECKS: readonly PreflightCheck[] = ["data", "source", "weights", "device", "cache", "runs"];

/** Grades ≥ this are referable DR (the papers' "moderate DR"), as the referable AUC counts them. */
const REFERABLE = 2;

/** The side a model of the grid trains at: the baselines' own side, else `size`. */
function sideOf(c: StudyConfig, model: string): number {
  return c.baselines.includes(model as ModelName) ? (c.baselineSize ?? c.size) : c.size;
}

/** Every model and baseline builds at its input side (Inception needs ≥ 75 px, and ≥ 299 for its aux head). */
export function checkModels(c: StudyConfig): void {
  for (const model of [...c.models, ...c.baselines]) {
    const size = sideOf(c, model);
    try {
      const aux = getModel(model).hasAux ? size >= 299 : undefined;
      paramSpecs(model, { classes: 5, inputSize: size, aux });
    } catch (e) {
      throw new RangeError(`--models ${model} at --size ${size}: ${errorMessage(e)}`);
    }
  }
}

/** The self-made source task's class count must be that of the synthetic source data. */
export async function checkSource(c: StudyConfig): Promise<void> {
  if (!c.source) return;
  // loaded only here: the synthetic-data module loads sharp, which light steps have no permission for
  const { NATURAL_CLASSES } = await import("../data/synth.ts");
  if (c.source.classes !== NATURAL_CLASSES.length) {
    throw new RangeError(
      `--source classes=${c.source.classes}: the synthetic source task has ${NATURAL_CLASSES.length} classes`,
    );
  }
  // its split as the data step's (one photo per patient: the held-out share rounded)
  const n = c.source.count;
  checkBatch(
    c,
    n - Math.round(c.testFraction * n),
    `--source count=${n} with --test-fraction ${c.testFraction}`,
  );
}

/**
 * Throws unless a held-out split's grades give a defined referable AUC: at least one referable (grade ≥ 2)
 * and one non-referable photo, and a training side of at least 2 photos (one batch). `what` names the split.
 */
export function checkSplitLabels(testLabels: ArrayLike<number>, trainCount: number, what: string): void {
  let referable = 0;
  for (let i = 0; i < testLabels.length; i++) if (testLabels[i] >= REFERABLE) referable++;
  const other = testLabels.length - referable;
  if (referable === 0 || other === 0) {
    throw new RangeError(
      `${what}: the held-out split has ${testLabels.length} photos (${referable} referable, ${other} non-referable); ` +
        `the referable AUC needs both: raise --limit or --test-fraction, or use more photos`,
    );
  }
  if (trainCount < 2) {
    throw new RangeError(`${what}: the training split has ${trainCount} photos; a batch needs at least 2`);
  }
}

/**
 * Throws unless `--batch` fits the photos one epoch trains on (`--train-subset` of them, when set): a larger
 * batch used to be cut to the split's size while the report gave the batch asked for. `trainCount` is the
 * training split's size; `what` names the split.
 */
export function checkBatch(
  c: Pick<StudyConfig, "batch" | "trainSubset">,
  trainCount: number,
  what: string,
): void {
  const subset = c.trainSubset !== null && c.trainSubset < trainCount;
  const n = subset ? c.trainSubset! : trainCount;
  if (c.batch > n) {
    throw new RangeError(
      `${what}: the training ${
        subset ? `subset (--train-subset ${c.trainSubset})` : "split"
      } has ${n} photos, ` +
        `fewer than --batch ${c.batch}: lower --batch to ${n} or less`,
    );
  }
}

/**
 * The split the data step will make, predicted without decoding a photo: for a folder, its listing (the
 * photos that exist) subset by `--limit` and split as preprocessing splits; for synthetic photos, whose
 * grades are drawn as they are rendered, the split's size and whether the grade mix has both kinds.
 */
export async function checkPlannedSplit(c: StudyConfig): Promise<void> {
  if (c.data.kind === "synthetic") {
    const n = Math.min(c.data.count, c.limit ?? Infinity);
    const test = Math.round(c.testFraction * n);
    const what = `${n} synthetic photos with --test-fraction ${c.testFraction}`;
    if (test < 2) {
      throw new RangeError(
        `${what}: the held-out split would have ${test} photo${
          test === 1 ? "" : "s"
        }; the referable AUC needs ` +
          `a referable and a non-referable one: raise --limit, --data synthetic:COUNT or --test-fraction`,
      );
    }
    if (n - test < 2) {
      throw new RangeError(`${what}: the training split would have ${n - test} photos; a batch needs 2`);
    }
    checkBatch(c, n - test, what);
    const g = c.data.grades;
    if (g && (g.slice(REFERABLE).every((w) => w === 0) || g.slice(0, REFERABLE).every((w) => w === 0))) {
      throw new RangeError(
        `--data grades=${g.join(":")}: every photo would be ${
          g.slice(REFERABLE).every((w) => w === 0) ? "non-referable" : "referable"
        }, so the referable AUC is undefined`,
      );
    }
    return;
  }
  // loaded here: the listing modules are not needed by the light steps
  const { listDataset } = await import("../data/formats.ts");
  const { splitDataset, stratifiedSubset } = await import("../data/split.ts");
  const format = c.data.format && c.data.format !== "auto"
    ? c.data.format as "kaggle" | "aptos" | "csv" | "medmnist"
    : undefined;
  const ds = await listDataset(c.data.path, { format, allowOutsidePaths: c.allowOutsidePaths });
  let items = ds.items;
  if (c.limit !== null && c.limit < items.length) {
    const keep = stratifiedSubset(items.map((_, i) => i), items.map((it) => it.label), c.limit, SPLIT_SEED);
    items = keep.map((i) => items[i]);
  }
  const what = `${ds.listing}${c.limit !== null ? ` with --limit ${c.limit}` : ""}`;
  try {
    if (ds.format === "medmnist") {
      const test = items.filter((it) => it.split === "test").map((it) => it.label);
      const trainCount = items.filter((it) => (it.split ?? "train") === "train").length;
      checkSplitLabels(test, trainCount, what);
      checkBatch(c, trainCount, what);
      return;
    }
    const labels = items.map((it) => it.label);
    const { train, test } = splitDataset(labels, items.map((it) => it.patient), {
      seed: SPLIT_SEED,
      testFraction: c.testFraction,
    });
    const whatSplit = `${what} and --test-fraction ${c.testFraction}`;
    checkSplitLabels(test.map((i) => labels[i]), train.length, whatSplit);
    checkBatch(c, train.length, whatSplit);
  } catch (e) {
    // a split too small because listed photos were not found is about those photos, not about the flags
    if (!(e instanceof RangeError) || ds.missing.length === 0) throw e;
    throw new RangeError(`${e.message}; ${await missingNote(ds)}`);
  }
}

/**
 * Names the listed photos a listing's folder lacks: the count and the first three; for Kaggle and APTOS
 * listings, whose ids carry no extension, also a photo found under another extension than the one looked for.
 */
async function missingNote(ds: Dataset): Promise<string> {
  const n = ds.missing.length;
  const shown = ds.missing.slice(0, 3).map((m) => m.file);
  let other: string | undefined;
  if (ds.format === "kaggle" || ds.format === "aptos") {
    for (const f of shown) {
      const base = f.slice(0, f.length - extname(f).length);
      for (const ext of [".jpeg", ".jpg", ".png"]) if (!other && await exists(base + ext)) other = base + ext;
    }
  }
  const hint = other
    ? ` (${
      relative(ds.root, other)
    } is there: each id is looked for with the extension of the first photo found, ${
      extname(shown[0])
    }; give all photos one extension)`
    : "";
  const names = shown.map((f) => relative(ds.root, f)).join(", ");
  return `${n} listed photo${n === 1 ? " is" : "s are"} not in the folder: ${names}${
    n > 3 ? ` and ${n - 3} more` : ""
  }${hint}`;
}

/** The split of the study's caches where they exist (the exact one, after skipped photos). */
export async function checkCacheSplits(c: StudyConfig): Promise<void> {
  const p = studyPaths(c);
  for (const dir of new Set([p.cache, p.baselineCache].filter(Boolean))) {
    const path = resolve(dir, "manifest.json");
    if (!(await exists(path))) continue;
    const m = await readJson<{ entries: { label: number; split: string }[] }>(path);
    const trainCount = m.entries.filter((e) => e.split === "train").length;
    checkSplitLabels(
      m.entries.filter((e) => e.split === "test").map((e) => e.label),
      trainCount,
      `the cache ${dir}`,
    );
    checkBatch(c, trainCount, `the cache ${dir}`);
  }
}

/**
 * Every pretrained weights file the grid will load is read and checked against its model as training will
 * load it (the file's own head: ImageNet's 1000 classes): readable, a weights format, the right architecture,
 * the right shapes, and for an Inception export the right `transform_input`.
 */
export async function checkWeights(c: StudyConfig): Promise<void> {
  if (!c.inits.some(needsPretrained)) return;
  const { loadWeights } = await import("../weights/load.ts");
  for (const model of c.models) {
    const file = (c.weights as Record<string, string>)[model];
    if (!file) continue; // the demo's own source model, made by the pretrain step
    const size = sideOf(c, model);
    const aux = getModel(model).hasAux ? size >= 299 : undefined;
    try {
      await loadWeights(resolve(file), paramSpecs(model, { classes: 1000, inputSize: size, aux }));
    } catch (e) {
      throw new RangeError(`--weights ${model}=${file}: ${errorMessage(e)}`);
    }
  }
}

/**
 * Run folders of this study (its shard) that were started with other settings than those asked for
 * (`--epochs`, `--lr`, the data …) are refused before any work, naming each difference; with `--retrain`
 * the train step sets them aside instead. The cache and the weights are compared by the train step, once
 * they exist.
 */
export async function checkRuns(c: StudyConfig): Promise<void> {
  if (c.retrain) return;
  const p = studyPaths(c);
  const runs = c.shard ? shardRuns(runGrid(c), c.shard.index, c.shard.count) : runGrid(c);
  const planned = runs.map((run) => ({
    dir: join(p.runs, run.id),
    want: runIdentity(c, run, sideOf(c, run.model)),
  }));
  const changed = await changedRuns(planned);
  if (changed.length) throw new RangeError(changedRunsMessage(c, changed));
}

/** Opens a one-node session on `--device` and runs it once: a missing driver or provider shows here. */
export async function checkDevice(c: StudyConfig): Promise<void> {
  const { Graph } = await import("../graph/graph.ts");
  const { createSession, ort } = await import("../graph/session.ts");
  const g = new Graph("preflight");
  g.output(g.op.Relu(g.input("x", "float32", [4])), "y");
  let session;
  try {
    session = await createSession(g.toBytes(), { device: c.device, threads: 1 });
    await session.run({ x: new ort.Tensor("float32", new Float32Array([-1, 0, 1, 2]), [4]) });
  } catch (e) {
    throw new Error(`--device ${c.device} does not work here: ${errorMessage(e)}`);
  } finally {
    await session?.release();
  }
}

/** `--out` must hold a study (analyze and report read one; an empty analysis of nothing helps nobody). */
export async function checkStudy(c: StudyConfig): Promise<void> {
  const out = resolve(c.out);
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(out);
  } catch {
    throw new RangeError(
      `--out ${c.out} does not exist: no study there (run the study first, or name its folder)`,
    );
  }
  if (!st.isDirectory) throw new RangeError(`--out ${c.out} is a file, not a study folder`);
}

/**
 * Every folder a study writes under `--out` (data, caches, pretraining, run folders, figures) must be a real
 * folder there, not a link to elsewhere: a link would make a step write (or read a "finished" run) outside
 * the study. `--out` itself may be a link. Checked by every step before any work.
 */
export async function checkStudyFolders(c: StudyConfig): Promise<void> {
  const p = studyPaths(c);
  let root: string;
  try {
    root = await Deno.realPath(p.out);
  } catch {
    return; // nothing written yet
  }
  const dirs = new Set([
    p.data,
    p.cache,
    p.baselineCache,
    p.sourceData,
    p.sourceCache,
    p.pretrainRun,
    join(p.out, "figures"),
    join(p.out, "discarded"),
    ...runGrid(c).map((r) => join(p.runs, r.id)),
  ]);
  for (const dir of dirs) {
    const rel = relative(p.out, dir);
    if (rel.startsWith("..") || isAbsolute(rel)) continue; // the user's own data folder
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch {
      continue; // not made yet
    }
    if (real !== join(root, rel)) {
      throw new RangeError(
        `${dir} leads to ${real}, outside the study folder ${p.out}: a study writes only inside its --out ` +
          `(replace the link with a real folder, or use another --out)`,
      );
    }
  }
}

/**
 * Runs the checks a step can make before it does any work (see {@linkcode PreflightCheck}); throws a
 * one-line error naming the flag or file at the first problem.
 *
 * @example
 * ```ts ignore
 * import { resolveConfig } from "./config.ts";
 * import { ALL_CHECKS, preflight } from "./preflight.ts";
 * await preflight(resolveConfig(Deno.args), ALL_CHECKS);
 * ```
 */
export async function preflight(
  c: StudyConfig,
  checks: readonly PreflightCheck[] = ALL_CHECKS,
): Promise<void> {
  checkModels(c);
  await checkStudyFolders(c);
  if (checks.includes("study")) await checkStudy(c);
  if (checks.includes("source")) await checkSource(c);
  if (checks.includes("data")) await checkPlannedSplit(c);
  if (checks.includes("cache")) await checkCacheSplits(c);
  if (checks.includes("runs")) await checkRuns(c);
  if (checks.includes("weights")) await checkWeights(c);
  if (checks.includes("device")) await checkDevice(c);
}
