/**
 * What determines a run's result, recorded in its `config.json` and compared before the run is reused: a
 * finished or interrupted run trained with other settings (other data, epochs, learning rate, weights,
 * probe photos …) is never taken for the one asked for. Device and threads are not part of it: a run may
 * resume on another machine.
 * @module
 */
import { basename, join, resolve } from "node:path";
import { exists, readJson } from "../util/fs.ts";
import type { RunSpec, StudyConfig } from "./config.ts";

/** The settings a run's weights, predictions and activations follow from. */
export interface RunIdentity {
  /** model registry name */
  model: string;
  /** how the weights started */
  init: string;
  /** seed of the initialisation and the data order */
  seed: number;
  /** the photos asked for: synthetic parameters, or the data folder as given and its format */
  data: string;
  /** a stratified subset of this many photos, or null */
  limit: number | null;
  /** held-out share of the split */
  testFraction: number;
  /** a stratified training subset, or null */
  trainSubset: number | null;
  /** sha256 of the cache manifest the run trained on (the exact photos, pixels and split); known once built */
  cache?: string;
  /** input side in pixels */
  size: number;
  /** classes of the head */
  classes: number;
  /** training epochs */
  epochs: number;
  /** images per step, as asked */
  batch: number;
  /** Adam learning rate */
  lr: number;
  /** extra evaluations every this many steps */
  evalEvery: number;
  /** photos whose activations are kept for CCA */
  probeCount: number;
  /**
   * the conv formulations were timed and chosen on the machine (`--tune-convs`, which studies no longer
   * have: always false now, so that a run trained with it is refused on rerun as trained with other settings)
   */
  tuneConvs: boolean;
  /** sha256 of the pretrained weights file the init read, or null for random init; known at train time */
  weights?: string | null;
}

/** The fields compared, in the order a difference is named. */
const FIELDS: readonly (keyof RunIdentity)[] = [
  "model",
  "init",
  "seed",
  "data",
  "limit",
  "testFraction",
  "trainSubset",
  "cache",
  "size",
  "classes",
  "epochs",
  "batch",
  "lr",
  "evalEvery",
  "probeCount",
  "tuneConvs",
  "weights",
];

/**
 * How the study's data request reads in an identity: synthetic parameters, or the folder's absolute path as
 * given. Links in it are not resolved: the train and analyze steps may not read the data folder, so they could
 * not resolve them as the data step does; the exact photos are compared by the cache's hash.
 */
export function dataKey(data: StudyConfig["data"]): string {
  if (data.kind === "synthetic") {
    const { count, seed, width, grades } = data;
    return `synthetic:count=${count},seed=${seed},width=${width}${
      grades ? `,grades=${grades.join(":")}` : ""
    }`;
  }
  return `${resolve(data.path)}${data.format && data.format !== "auto" ? ` (${data.format})` : ""}`;
}

/** The identity of `run` of study `c` at input side `size`, before the cache and weights are known. */
export function runIdentity(
  c: StudyConfig,
  run: Pick<RunSpec, "model" | "init" | "seed">,
  size: number,
  extra: Pick<RunIdentity, "cache" | "weights"> & { classes?: number; epochs?: number } = {},
): RunIdentity {
  const { classes, epochs, ...known } = extra;
  return {
    model: run.model,
    init: run.init,
    seed: run.seed,
    data: dataKey(c.data),
    limit: c.limit,
    testFraction: c.testFraction,
    trainSubset: c.trainSubset,
    size,
    classes: classes ?? 5,
    epochs: epochs ?? c.epochs,
    batch: c.batch,
    lr: c.lr,
    evalEvery: c.evalEvery,
    probeCount: c.probeCount,
    tuneConvs: false,
    ...known,
  };
}

/**
 * The identity recorded in a run folder's `config.json`, or null when it has none (nothing was started).
 * Folders written before identities were recorded give what their `config.json` holds (the study's flags,
 * the cache's hash), so an old study folder is checked too.
 */
export async function readRunIdentity(dir: string): Promise<Partial<RunIdentity> | null> {
  const path = join(dir, "config.json");
  if (!(await exists(path))) return null;
  const cfg = await readJson<Record<string, unknown>>(path);
  if (cfg && typeof cfg.identity === "object" && cfg.identity !== null) {
    return cfg.identity as Partial<RunIdentity>;
  }
  const study = cfg?.study as Partial<StudyConfig> | undefined;
  const run = cfg?.run as Partial<RunSpec> | undefined;
  const old: Partial<RunIdentity> = {};
  if (run?.model !== undefined) old.model = run.model;
  if (run?.init !== undefined) old.init = run.init;
  if (typeof cfg?.seed === "number") old.seed = cfg.seed;
  if (typeof cfg?.size === "number") old.size = cfg.size;
  if (typeof cfg?.classes === "number") old.classes = cfg.classes;
  if (typeof cfg?.manifestHash === "string") old.cache = cfg.manifestHash;
  if (study) {
    if (study.data) old.data = dataKey(study.data);
    if (study.limit !== undefined) old.limit = study.limit;
    if (study.testFraction !== undefined) old.testFraction = study.testFraction;
    if (study.trainSubset !== undefined) old.trainSubset = study.trainSubset;
    if (study.epochs !== undefined) old.epochs = study.epochs;
    if (study.batch !== undefined) old.batch = study.batch;
    if (study.lr !== undefined) old.lr = study.lr;
    if (study.evalEvery !== undefined) old.evalEvery = study.evalEvery;
    if (study.probeCount !== undefined) old.probeCount = study.probeCount;
    old.tuneConvs = (study as { tuneConvs?: unknown }).tuneConvs === true;
  }
  return old;
}

/**
 * The fields in which a recorded identity differs from the one asked for, as `lr 0.001 (now 0.01)`; a field
 * either side does not know yet (the cache before the data step, an old folder's weights) is not compared.
 *
 * @example
 * ```ts
 * import { identityDiff } from "./run_identity.ts";
 * const d = identityDiff({ lr: 0.001, epochs: 2 }, { lr: 0.01, epochs: 2 });
 * if (d.join() !== "lr 0.001 (now 0.01)") throw new Error(d.join());
 * ```
 */
export function identityDiff(had: Partial<RunIdentity>, want: Partial<RunIdentity>): string[] {
  const show = (v: unknown) =>
    typeof v === "string" && /^[0-9a-f]{64}$/.test(v) ? `sha256 ${v.slice(0, 12)}…` : String(v);
  const out: string[] = [];
  for (const f of FIELDS) {
    const a = had[f], b = want[f];
    if (a === undefined || b === undefined || a === b) continue;
    out.push(`${f} ${show(a)} (now ${show(b)})`);
  }
  return out;
}

/**
 * The run folders among `runs` that were started with other settings than those asked for, each with its
 * differences (`lr 0.001 (now 0.01)`). A folder that is a link is refused: a run is written where its
 * study is.
 */
export async function changedRuns(
  runs: readonly { dir: string; want: Partial<RunIdentity> }[],
): Promise<{ dir: string; diff: string[] }[]> {
  const changed = [];
  for (const { dir, want } of runs) {
    const st = await Deno.lstat(dir).catch(() => null);
    if (st?.isSymlink) {
      throw new RangeError(
        `${dir} is a link to elsewhere; a run folder must be a real folder inside its study's --out`,
      );
    }
    const had = await readRunIdentity(dir);
    const diff = had ? identityDiff(had, want) : [];
    if (diff.length) changed.push({ dir, diff });
  }
  return changed;
}

/** The one-line refusal for runs trained with other settings, naming each difference and the ways out. */
export function changedRunsMessage(c: StudyConfig, changed: { dir: string; diff: string[] }[]): string {
  const shown = changed.slice(0, 3).map((r) => `${basename(r.dir)}: ${r.diff.join(", ")}`).join("; ");
  const more = changed.length > 3 ? `; and ${changed.length - 3} more` : "";
  return `${changed.length} run folder(s) in ${
    resolve(c.out)
  } were trained with other settings (${shown}${more}): ` +
    `rerun with the old flags, use a new --out, or pass --retrain to set them aside (in ` +
    `${join(resolve(c.out), "discarded")}) and train them again`;
}
