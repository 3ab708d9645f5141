/**
 * One training run, resumable: epochs of training steps, evaluation on the held-out split after each epoch,
 * an atomic checkpoint per epoch, the final test predictions and the probe activations the CCA reads.
 * A run directory holds `config.json`, `metrics.csv`, `checkpoint.safetensors`, `predictions.csv`,
 * `activations.safetensors`, `weights.safetensors` (the final state dict) and, last of all, `done.json` (a finished run is skipped on rerun).
 * With a model-selection split (`valBatches`, MedMNIST's val) it also holds `predictions-best.csv`, the test
 * predictions of the epoch with the best val macro AUC. Every score is named by the split it comes from:
 * `test_*` columns in `metrics.csv` (`test*` fields), and `val_*` (`val*`) with a val split.
 * @module
 */
import { basename, join } from "node:path";
import { rename } from "node:fs/promises";
import { evaluatePredictions } from "../stats/mod.ts";
import { exists, readJson, removeLeftoverTmp, writeFileAtomic, writeJsonAtomic } from "../util/fs.ts";
import { acquireLock } from "../util/lock.ts";
import { writeSafetensors } from "../weights/safetensors.ts";
import { DamagedCheckpointError, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { ModelFn } from "./step.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { Trainer, type TrainerOptions } from "./trainer.ts";
import { resolveBackend } from "./backend.ts";

/** A batch as the data loader yields it. */
export interface Batch {
  /** n×3×H×W normalised images, row-major */
  x: Float32Array;
  /** the grade of each image */
  y: Int32Array;
  /** number of real images in the batch */
  n: number;
}

/**
 * One row of `metrics.csv`. Each score is named by the split it comes from: `test*` the held-out split the
 * study reports, `val*` the model-selection split (MedMNIST's val) that picks the best epoch.
 */
export interface EpochMetrics {
  /** fractional for evaluations within an epoch (`evalEvery`) */
  epoch: number;
  /** training steps over the whole run at this evaluation */
  step: number;
  /** mean training loss of the epoch's steps so far */
  trainLoss: number;
  /** test-split ROC AUC for referable DR (grade ≥ 2) */
  testAucReferable: number;
  /** test-split one-vs-rest macro AUC over the grades present */
  testAucMacro: number;
  /** test-split quadratic weighted kappa of the argmax grade */
  testKappa: number;
  /** training throughput of the epoch, evaluation time excluded */
  imagesPerSec: number;
  /** wall-clock seconds of the run so far, summed over its sessions */
  wallSec: number;
  /** with `valBatches`: referable AUC on the model-selection split (MedMNIST's val) */
  valAucReferable?: number;
  /** with `valBatches`: macro AUC on the model-selection split, which picks the best epoch */
  valAucMacro?: number;
  /** with `valBatches`: kappa on the model-selection split */
  valKappa?: number;
}

/** What {@linkcode runTraining} needs. */
export interface RunOptions extends TrainerOptions {
  /** the run folder (created if missing) */
  dir: string;
  /** the model definition to train */
  model: ModelFn;
  /** the initial weights; called only when the run does not resume */
  init: () => Promise<StateDict>;
  /** total epochs of the run, including any done before a resume */
  epochs: number;
  /** training batches of an epoch, already shuffled for that epoch (deterministic in `epoch`) */
  trainBatches: (epoch: number) => AsyncIterable<Batch>;
  /** training batches per epoch (for progress and mid-epoch evaluation) */
  stepsPerEpoch: number;
  /** the held-out split, in a fixed order */
  testBatches: () => AsyncIterable<Batch>;
  /**
   * a model-selection split (MedMNIST's val), evaluated after every epoch: the epoch with the best macro
   * AUC on it keeps its test predictions (`predictions-best.csv`) and metrics (`best` in the summary), as
   * MedMNIST reports test AUC at the epoch chosen on val
   */
  valBatches?: () => AsyncIterable<Batch>;
  /** the probe images whose activations the CCA compares (fixed across runs) */
  probeBatches?: () => AsyncIterable<Batch>;
  /**
   * also evaluate test (and val, when given) every this many steps within an epoch (finer convergence
   * curves); 0 = epoch ends only. Only epoch ends compete for the best epoch
   */
  evalEvery?: number;
  /** number of classes of the head (default 5 grades; the demo's source task has more) */
  classes?: number;
  /** resolved configuration, written to config.json */
  config?: Record<string, unknown>;
  /** called after every training step, before each evaluation and at the end */
  onProgress?: (p: Progress) => void;
  /** one-line notices (a damaged checkpoint set aside, leftover temp files removed); default stderr */
  log?: (line: string) => void;
}

/** Progress callback payload. */
export interface Progress {
  /** the epoch under way, from 1 */
  epoch: number;
  /** epochs of the whole run */
  epochs: number;
  /** steps done in this epoch */
  step: number;
  /** training batches per epoch */
  stepsPerEpoch: number;
  /** the latest step's loss (the epoch's mean at "eval" and "done") */
  loss: number;
  /** training throughput of the epoch so far */
  imagesPerSec: number;
  /** "train" while stepping, "eval" after an epoch's steps, "done" at the end */
  phase: "train" | "eval" | "done";
}

/** The outcome of a finished run (also `done.json`). */
export interface RunSummary {
  /** the run folder (in `done.json` its name only, so that a moved or copied study folder stays whole) */
  dir: string;
  /** epochs trained */
  epochs: number;
  /** training steps over the whole run */
  steps: number;
  /** every row of `metrics.csv` */
  metrics: EpochMetrics[];
  /** test-split referable AUC, macro AUC and kappa of the final model */
  final: { aucReferable: number; aucMacro: number; kappa: number };
  /** wall-clock seconds of the run (evaluations included), summed over its sessions */
  wallSec: number;
  /** the epoch the last session resumed after; absent when the run was not resumed */
  resumedFrom?: number;
  /** with `valBatches`: the epoch of the best val macro AUC and its test metrics */
  best?: BestEpoch;
}

/** The epoch chosen on the model-selection split and the test metrics at that epoch. */
export interface BestEpoch {
  /** the chosen epoch (the first of equal ones) */
  epoch: number;
  /** its macro AUC on the model-selection (val) split, which chose it */
  valAucMacro: number;
  /** test referable AUC at that epoch */
  testAucReferable: number;
  /** test macro AUC at that epoch */
  testAucMacro: number;
  /** test kappa at that epoch */
  testKappa: number;
}

// Run folders written before the scores were named by split (up to commit ed360c3) called the test split's scores
// `valAucReferable`/`valAucMacro`/`kappa` (`val_auc_*`, `kappa` in metrics.csv) and the val split's
// `select*` (`select_*`): the readers below map those names to today's, told apart by the old `kappa`.

/** A `metrics.csv` row or `done.json`/checkpoint metrics object in today's names, whichever names it has. */
export function upgradeEpochMetrics(row: EpochMetrics): EpochMetrics {
  const o = row as unknown as Record<string, number | undefined>;
  if (!("kappa" in o) || "testKappa" in o) return row;
  const { valAucReferable, valAucMacro, kappa, selectAucReferable, selectAucMacro, selectKappa, ...rest } = o;
  return {
    ...rest,
    testAucReferable: valAucReferable,
    testAucMacro: valAucMacro,
    testKappa: kappa,
    ...(selectAucMacro !== undefined
      ? { valAucReferable: selectAucReferable, valAucMacro: selectAucMacro, valKappa: selectKappa }
      : {}),
  } as EpochMetrics;
}

/** A `done.json`'s `best` in today's names, whichever names it has. */
export function upgradeBestEpoch(best: BestEpoch): BestEpoch {
  const o = best as unknown as Record<string, number>;
  if (!("kappa" in o) || "testKappa" in o) return best;
  return {
    epoch: o.epoch,
    valAucMacro: o.selectAucMacro,
    testAucReferable: o.aucReferable,
    testAucMacro: o.aucMacro,
    testKappa: o.kappa,
  };
}

/** One row of `metrics.csv`: where training stands and what the test split scores. */
function metricsRow(
  epoch: number,
  step: number,
  trainLoss: number,
  m: { aucReferable: number; aucMacroOvr: number; kappa: number },
  rest: Pick<EpochMetrics, "imagesPerSec" | "wallSec"> & Partial<EpochMetrics>,
): EpochMetrics {
  return {
    epoch,
    step,
    trainLoss,
    testAucReferable: m.aucReferable,
    testAucMacro: m.aucMacroOvr,
    testKappa: m.kappa,
    ...rest,
  };
}

/** The best epoch-end row by val macro AUC (first of equals), or undefined without a val split. */
function bestRow(rows: readonly EpochMetrics[]): EpochMetrics | undefined {
  let best: EpochMetrics | undefined;
  for (const r of rows) {
    if (!Number.isInteger(r.epoch) || r.valAucMacro === undefined) continue;
    if (!best || r.valAucMacro > best.valAucMacro!) best = r;
  }
  return best;
}

/** The columns of `metrics.csv` and the fields they hold; the val split's three only with a val split. */
const CSV_COLUMNS = [
  ["epoch", "epoch"],
  ["step", "step"],
  ["train_loss", "trainLoss"],
  ["test_auc_referable", "testAucReferable"],
  ["test_auc_macro", "testAucMacro"],
  ["test_kappa", "testKappa"],
  ["images_per_sec", "imagesPerSec"],
  ["wall_sec", "wallSec"],
  ["val_auc_referable", "valAucReferable"],
  ["val_auc_macro", "valAucMacro"],
  ["val_kappa", "valKappa"],
] as const satisfies readonly (readonly [string, keyof EpochMetrics])[];

/** The old header's names (see {@linkcode upgradeEpochMetrics}) → today's. */
const OLD_CSV_NAMES: Readonly<Record<string, string>> = {
  val_auc_referable: "test_auc_referable",
  val_auc_macro: "test_auc_macro",
  kappa: "test_kappa",
  select_auc_referable: "val_auc_referable",
  select_auc_macro: "val_auc_macro",
  select_kappa: "val_kappa",
};

function metricsCsv(rows: EpochMetrics[]): string {
  // the val split's columns only when there is one (empty in mid-epoch rows of runs trained before val was
  // scored there too)
  const cols = rows.some((r) => r.valAucMacro !== undefined) ? CSV_COLUMNS : CSV_COLUMNS.slice(0, 8);
  const fmt = (v: number | undefined) =>
    v === undefined ? "" : Number.isInteger(v) ? String(v) : v.toPrecision(8);
  return [
    cols.map(([c]) => c).join(","),
    ...rows.map((r) => cols.map(([, f]) => fmt(r[f])).join(",")),
  ].join("\n") + "\n";
}

/**
 * Parses a run's `metrics.csv`, today's or one with the old column names (see
 * {@linkcode upgradeEpochMetrics}); `where` names it in errors.
 */
export function parseMetricsCsv(text: string, where: string): EpochMetrics[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new RangeError(`${where} is empty`);
  let head = lines[0].split(",").map((s) => s.trim());
  if (head.includes("kappa")) head = head.map((h) => OLD_CSV_NAMES[h] ?? h);
  const fields = head.map((h) => {
    const col = CSV_COLUMNS.find(([c]) => c === h);
    if (!col) throw new RangeError(`${where} has an unknown column "${h}"`);
    return col[1];
  });
  return lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    if (cells.length !== fields.length) {
      throw new RangeError(`${where} line ${i + 2} has ${cells.length} fields, expected ${fields.length}`);
    }
    const row: Record<string, number> = {};
    cells.forEach((c, k) => {
      if (c.trim() === "") return;
      const v = Number(c);
      if (Number.isNaN(v) && c.trim() !== "NaN") {
        throw new RangeError(`${where} line ${i + 2} has ${head[k]} "${c}", not a number`);
      }
      row[fields[k]] = v;
    });
    return row as unknown as EpochMetrics;
  });
}

/**
 * Reads a finished run's `done.json` (in today's names, whatever names it was written with); its `dir` is the
 * folder it is in, wherever that now is.
 */
export async function readRunSummary(dir: string): Promise<RunSummary> {
  const s = await readJson<RunSummary>(join(dir, "done.json"));
  return {
    ...s,
    dir,
    ...(Array.isArray(s.metrics) ? { metrics: s.metrics.map(upgradeEpochMetrics) } : {}),
    ...(s.best ? { best: upgradeBestEpoch(s.best) } : {}),
  };
}

/**
 * Runs (or resumes, or skips when finished) one training run in `o.dir`, holding the folder's lock
 * (`<dir>/.lock`, see lib/util/lock.ts) while it writes there.
 */
export async function runTraining(o: RunOptions): Promise<RunSummary> {
  const donePath = join(o.dir, "done.json");
  if (await exists(donePath)) return await readRunSummary(o.dir);
  const log = o.log ?? ((line: string) => console.error(line));
  const lock = await acquireLock(o.dir, { log });
  try {
    // another process may have finished it while this one waited for its turn
    if (await exists(donePath)) return await readRunSummary(o.dir);
    return await trainLocked(o, log);
  } finally {
    await lock.release();
  }
}

async function trainLocked(o: RunOptions, log: (line: string) => void): Promise<RunSummary> {
  const donePath = join(o.dir, "done.json");
  const gone = await removeLeftoverTmp(o.dir);
  if (gone.length) log(`${o.dir}: removed ${gone.length} temp file(s) left by an interrupted write`);
  if (o.config) await writeJsonAtomic(join(o.dir, "config.json"), o.config);
  const ckptPath = join(o.dir, "checkpoint.safetensors");
  const metricsPath = join(o.dir, "metrics.csv");

  // a small held-out split can lack a grade: average the macro AUC over the grades present
  const scoring = { numClasses: o.classes ?? 5, absentClass: "skip" as const };
  const state = await o.init();
  // the backend, resolved once for the trainer
  const backend = o.backend ?? await resolveBackend(o);
  const trainer = await Trainer.create(o.model, state, { ...o, backend });
  let metrics: EpochMetrics[] = [];
  let startEpoch = 0, step = 0, priorWall = 0, resumedFrom: number | undefined;
  try {
    let resumed = false;
    if (await exists(ckptPath)) {
      try {
        const meta = await loadCheckpoint(ckptPath, state, trainer.optimizer);
        startEpoch = meta.epoch;
        step = meta.step;
        metrics = ((meta.extra.metrics as EpochMetrics[]) ?? []).map(upgradeEpochMetrics);
        priorWall = Number(meta.extra.wallSec ?? 0);
        resumedFrom = startEpoch;
        resumed = true;
        // the checkpoint holds every row up to its epoch: a death between it and metrics.csv lost none
        await writeFileAtomic(metricsPath, metricsCsv(metrics));
      } catch (e) {
        if (!(e instanceof DamagedCheckpointError)) throw e;
        // nothing was restored from it (loadCheckpoint checks the whole file first): start afresh
        const aside = `${ckptPath}.damaged`;
        await rename(ckptPath, aside);
        // its rows went with it: the restart's rows replace them
        await writeFileAtomic(metricsPath, metricsCsv([]));
        log(`${e.message}; moved to ${basename(aside)}, restarting ${basename(o.dir)} from scratch`);
      }
    }
    if (!resumed && o.probeBatches) {
      // the activations at initialisation, for "similarity to its own init" (Raghu Fig. 5)
      const probe = await trainer.evaluate(o.probeBatches());
      await writeTaps(join(o.dir, "activations-init.safetensors"), probe.taps);
    }
    const t0 = performance.now();
    let last: { probs: Float32Array; labels: Int32Array } | undefined;
    for (let epoch = startEpoch + 1; epoch <= o.epochs; epoch++) {
      let lossSum = 0, seen = 0, k = 0, evalMs = 0;
      const te = performance.now();
      for await (const b of o.trainBatches(epoch)) {
        const { loss } = await trainer.step(b.x, b.y);
        step++;
        k++;
        lossSum += loss * b.n;
        seen += b.n;
        if (o.evalEvery && step % o.evalEvery === 0 && k < o.stepsPerEpoch) {
          const te0 = performance.now();
          const mid = await predict(trainer, o.testBatches());
          const m = evaluatePredictions(mid.probs, mid.labels, scoring);
          metrics.push(metricsRow(epoch - 1 + k / o.stepsPerEpoch, step, lossSum / seen, m, {
            imagesPerSec: seen / ((te0 - te - evalMs) / 1000),
            wallSec: priorWall + (performance.now() - t0) / 1000,
            // the convergence target is chosen on val curves, so they need the test curves' resolution
            ...(o.valBatches ? await valScores(trainer, o.valBatches(), scoring) : {}),
          }));
          evalMs += performance.now() - te0;
        }
        o.onProgress?.({
          epoch,
          epochs: o.epochs,
          step: k,
          stepsPerEpoch: o.stepsPerEpoch,
          loss,
          imagesPerSec: seen / ((performance.now() - te) / 1000),
          phase: "train",
        });
      }
      const trainSec = (performance.now() - te - evalMs) / 1000;
      o.onProgress?.({
        epoch,
        epochs: o.epochs,
        step: k,
        stepsPerEpoch: o.stepsPerEpoch,
        loss: lossSum / Math.max(1, seen),
        imagesPerSec: seen / trainSec,
        phase: "eval",
      });
      last = await predict(trainer, o.testBatches());
      const m = evaluatePredictions(last.probs, last.labels, scoring);
      const sel = o.valBatches ? await valScores(trainer, o.valBatches(), scoring) : {};
      const prevBest = bestRow(metrics);
      metrics.push(metricsRow(epoch, step, lossSum / Math.max(1, seen), m, {
        imagesPerSec: seen / trainSec,
        wallSec: priorWall + (performance.now() - t0) / 1000,
        ...sel,
      }));
      if (o.valBatches && bestRow(metrics) !== prevBest) {
        // written before the checkpoint, so a resumed run's best predictions are those of its best epoch
        await writeFileAtomic(join(o.dir, "predictions-best.csv"), predictionsCsv(last.probs, last.labels));
      }
      await trainer.sync(); // webgpu: the device-resident state comes down once per epoch
      await saveCheckpoint(ckptPath, state, trainer.optimizer, {
        epoch,
        step,
        extra: { metrics, wallSec: metrics.at(-1)!.wallSec },
      });
      await writeFileAtomic(metricsPath, metricsCsv(metrics));
    }
    // a run resumed after its last epoch has no predictions in hand
    const { probs, labels } = last ?? await predict(trainer, o.testBatches());
    await writeFileAtomic(join(o.dir, "predictions.csv"), predictionsCsv(probs, labels));
    if (o.probeBatches) {
      const probe = await trainer.evaluate(o.probeBatches());
      await writeTaps(join(o.dir, "activations.safetensors"), probe.taps);
    }
    const fin = evaluatePredictions(probs, labels, scoring);
    const b = bestRow(metrics);
    await trainer.sync();
    // the input side and head the weights were trained for: config.json, which export reads, can be edited
    await writeSafetensors(join(o.dir, "weights.safetensors"), state, {
      format: "transfusion-weights",
      size: String(o.size),
      classes: String(o.classes ?? 5),
    });
    const summary: RunSummary = {
      dir: basename(o.dir),
      epochs: o.epochs,
      steps: step,
      metrics,
      final: { aucReferable: fin.aucReferable, aucMacro: fin.aucMacroOvr, kappa: fin.kappa },
      wallSec: metrics.at(-1)?.wallSec ?? priorWall,
      ...(resumedFrom !== undefined ? { resumedFrom } : {}),
      ...(b
        ? {
          best: {
            epoch: b.epoch,
            valAucMacro: b.valAucMacro!,
            testAucReferable: b.testAucReferable,
            testAucMacro: b.testAucMacro,
            testKappa: b.testKappa,
          },
        }
        : {}),
    };
    await writeJsonAtomic(donePath, summary);
    summary.dir = o.dir;
    o.onProgress?.({
      epoch: o.epochs,
      epochs: o.epochs,
      step: 0,
      stepsPerEpoch: o.stepsPerEpoch,
      loss: metrics.at(-1)?.trainLoss ?? NaN,
      imagesPerSec: metrics.at(-1)?.imagesPerSec ?? 0,
      phase: "done",
    });
    return summary;
  } finally {
    await trainer.release();
  }
}

async function predict(trainer: Trainer, batches: AsyncIterable<Batch>) {
  const labels: number[] = [];
  async function* tee() {
    for await (const b of batches) {
      for (let i = 0; i < b.n; i++) labels.push(b.y[i]);
      yield b;
    }
  }
  const r = await trainer.evaluate(tee());
  return { probs: r.probs, labels: Int32Array.from(labels), classes: r.classes };
}

/** The model-selection split's three scores, in the `val*` fields of a metrics row. */
async function valScores(
  trainer: Trainer,
  batches: AsyncIterable<Batch>,
  scoring: { numClasses: number; absentClass: "skip" },
): Promise<Pick<EpochMetrics, "valAucReferable" | "valAucMacro" | "valKappa">> {
  const v = await predict(trainer, batches);
  const s = evaluatePredictions(v.probs, v.labels, scoring);
  return { valAucReferable: s.aucReferable, valAucMacro: s.aucMacroOvr, valKappa: s.kappa };
}

function predictionsCsv(probs: Float32Array, labels: Int32Array): string {
  const c = labels.length ? probs.length / labels.length : 0;
  const head = ["index", "label", ...Array.from({ length: c }, (_, i) => `p${i}`)].join(",");
  const rows = Array.from(
    labels,
    (y, i) => [i, y, ...Array.from(probs.subarray(i * c, (i + 1) * c), (p) => p.toPrecision(7))].join(","),
  );
  return [head, ...rows].join("\n") + "\n";
}

async function writeTaps(
  path: string,
  taps: Map<string, { dims: number; data: Float32Array }>,
): Promise<void> {
  const t: StateDict = new Map();
  for (const [k, v] of taps) t.set(k, { shape: [v.data.length / Math.max(1, v.dims), v.dims], data: v.data });
  await writeSafetensors(path, t, { format: "transfusion-activations" });
}
