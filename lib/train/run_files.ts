/**
 * A run folder's files as the training loop writes them and the analysis reads them back: the rows of
 * `metrics.csv`, `done.json`'s summary, the test predictions (`predictions.csv`, `predictions-best.csv`) and the
 * probe activations. Every score is named by the split it comes from: `test_*` columns in `metrics.csv`
 * (`test*` fields), and `val_*` (`val*`) with a val split; folders written under the old names are read too.
 * @module
 */
import { join } from "node:path";
import { readJson } from "../util/fs.ts";
import { writeSafetensors } from "../weights/safetensors.ts";
import type { StateDict } from "../weights/state_dict.ts";

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
export function metricsRow(
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
export function bestRow(rows: readonly EpochMetrics[]): EpochMetrics | undefined {
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

/** `metrics.csv` of these rows. */
export function metricsCsv(rows: EpochMetrics[]): string {
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

/** The test predictions as `predictions.csv` writes them: index, label, one probability per class. */
export function predictionsCsv(probs: Float32Array, labels: Int32Array): string {
  const c = labels.length ? probs.length / labels.length : 0;
  const head = ["index", "label", ...Array.from({ length: c }, (_, i) => `p${i}`)].join(",");
  const rows = Array.from(
    labels,
    (y, i) => [i, y, ...Array.from(probs.subarray(i * c, (i + 1) * c), (p) => p.toPrecision(7))].join(","),
  );
  return [head, ...rows].join("\n") + "\n";
}

/** Writes tapped activations (name → N×C) as a safetensors file. */
export async function writeTaps(
  path: string,
  taps: Map<string, { dims: number; data: Float32Array }>,
): Promise<void> {
  const t: StateDict = new Map();
  for (const [k, v] of taps) t.set(k, { shape: [v.data.length / Math.max(1, v.dims), v.dims], data: v.data });
  await writeSafetensors(path, t, { format: "transfusion-activations" });
}
