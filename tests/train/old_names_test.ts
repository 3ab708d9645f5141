// Run folders written before the scores were named by split (up to commit ed360c3: `val_auc_*`/`kappa` held
// the TEST split's scores, `select_*` the val split's; in JSON `valAuc*`/`kappa` and `select*`) are read in
// today's names: metrics.csv, done.json (rows and `best`), a checkpoint's rows on resume, and the analysis.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type EpochMetrics,
  parseMetricsCsv,
  readRunSummary,
  type RunSummary,
  runTraining,
} from "../../lib/train/mod.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { Adam } from "../../lib/optim/mod.ts";
import { randomInit } from "../../lib/models/init.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import type { Value } from "../../lib/graph/mod.ts";
import { resolveConfig } from "../../lib/study/config.ts";
import { analyzeStudy } from "../../lib/study/analyze.ts";
import type { Provenance } from "../../lib/study/provenance.ts";
import { gradeBatches } from "./grade_batches.ts";

const SIZE = 16, BATCH = 8;
const spec = paramSpecs("cbr_small", { classes: 5, inputSize: SIZE });
const def = getModel("cbr_small");

function train(dir: string, epochs: number): Promise<RunSummary> {
  return runTraining({
    dir,
    model: (net, x) => def.build(net, x, { classes: 5 }) as { logits: Value },
    init: () => Promise.resolve(randomInit(spec, 1)),
    epochs,
    batch: BATCH,
    size: SIZE,
    lr: 1e-3,
    seed: 1,
    threads: 1,
    trainBatches: async function* (epoch) {
      yield* gradeBatches(`train:${epoch}`, 2, BATCH, SIZE);
    },
    stepsPerEpoch: 2,
    testBatches: async function* () {
      yield* gradeBatches("test", 2, BATCH, SIZE);
    },
    valBatches: async function* () {
      yield* gradeBatches("val", 3, BATCH, SIZE);
    },
    log: () => {},
  });
}

/** A metrics row in the old names, as the code up to ed360c3 wrote it. */
function oldRow(r: EpochMetrics): Record<string, unknown> {
  return {
    epoch: r.epoch,
    step: r.step,
    trainLoss: r.trainLoss,
    valAucReferable: r.testAucReferable,
    valAucMacro: r.testAucMacro,
    kappa: r.testKappa,
    imagesPerSec: r.imagesPerSec,
    wallSec: r.wallSec,
    selectAucReferable: r.valAucReferable,
    selectAucMacro: r.valAucMacro,
    selectKappa: r.valKappa,
  };
}

/** metrics.csv under the old header: the same cells, the old column names. */
function oldCsv(text: string): string {
  const [head, ...rest] = text.split("\n");
  assert.equal(
    head,
    "epoch,step,train_loss,test_auc_referable,test_auc_macro,test_kappa,images_per_sec,wall_sec," +
      "val_auc_referable,val_auc_macro,val_kappa",
  );
  return [
    "epoch,step,train_loss,val_auc_referable,val_auc_macro,kappa,images_per_sec,wall_sec," +
    "select_auc_referable,select_auc_macro,select_kappa",
    ...rest,
  ].join("\n");
}

Deno.test("old run folders: metrics.csv, done.json, a checkpoint's rows and the analysis map to today's names", async () => {
  const out = await Deno.makeTempDir({ prefix: "old-names-" });
  try {
    const now = join(out, "now"), old = join(out, "old", "cbr_small-random-s0");
    const s = await train(join(now, "cbr_small-random-s0"), 2);
    assert.ok(s.best && s.metrics.every((r) => r.valAucMacro !== undefined), "the run has a val split");
    // the val split's scores are not the test split's
    assert.notDeepEqual(s.metrics.map((r) => r.valAucMacro), s.metrics.map((r) => r.testAucMacro));

    // the same folder as the old code wrote it
    await Deno.mkdir(old, { recursive: true });
    for (const f of ["predictions.csv", "predictions-best.csv"]) {
      await Deno.copyFile(join(now, "cbr_small-random-s0", f), join(old, f));
    }
    const csv = await Deno.readTextFile(join(now, "cbr_small-random-s0", "metrics.csv"));
    await Deno.writeTextFile(join(old, "metrics.csv"), oldCsv(csv));
    const done = JSON.parse(await Deno.readTextFile(join(now, "cbr_small-random-s0", "done.json")));
    const b = s.best;
    await Deno.writeTextFile(
      join(old, "done.json"),
      JSON.stringify({
        ...done,
        metrics: s.metrics.map(oldRow),
        best: {
          epoch: b.epoch,
          selectAucMacro: b.valAucMacro,
          aucReferable: b.testAucReferable,
          aucMacro: b.testAucMacro,
          kappa: b.testKappa,
        },
      }),
    );

    // metrics.csv: both headers give today's rows
    const rowsNow = parseMetricsCsv(csv, "now/metrics.csv");
    assert.deepEqual(parseMetricsCsv(oldCsv(csv), "old/metrics.csv"), rowsNow);
    assert.deepEqual(
      rowsNow.map((r) => r.testAucMacro),
      s.metrics.map((r) => Number(r.testAucMacro.toPrecision(8))),
    );
    assert.deepEqual(
      rowsNow.map((r) => r.valAucMacro),
      s.metrics.map((r) => Number(r.valAucMacro!.toPrecision(8))),
    );
    assert.throws(
      () => parseMetricsCsv("epoch,auc\n1,0.5\n", "x.csv"),
      /^RangeError: x\.csv has an unknown column "auc"$/,
    );

    // done.json
    const read = await readRunSummary(old);
    assert.deepEqual({ ...read, dir: "" }, {
      ...await readRunSummary(join(now, "cbr_small-random-s0")),
      dir: "",
    });
    assert.deepEqual(read.best, s.best);

    // the analysis: the same runs, rows and best epoch from either folder
    const analyse = (dir: string) => {
      const c = resolveConfig(
        ["--preset", "synthetic", "--models", "cbr_small", "--inits", "random", "--seeds", "0", "--out", dir],
        { requireInputs: false },
      );
      return analyzeStudy(c, { bootstrapReps: 10, provenance: {} as Provenance, write: false });
    };
    const [a, z] = [await analyse(join(out, "old")), await analyse(now)];
    assert.deepEqual(a.runs, z.runs);
    assert.deepEqual(a.summary, z.summary);
    assert.equal(a.runs[0].best!.testAucMacro, s.best.testAucMacro);

    // a checkpoint with old-named rows resumes into today's names, as the uninterrupted run
    const part = join(out, "resumed");
    await train(part, 1);
    await Deno.remove(join(part, "done.json"));
    const state = randomInit(spec, 1), adam = new Adam({ lr: 1e-3 });
    const ckpt = join(part, "checkpoint.safetensors");
    const meta = await loadCheckpoint(ckpt, state, adam);
    const rows = meta.extra.metrics as EpochMetrics[];
    await saveCheckpoint(ckpt, state, adam, { ...meta, extra: { ...meta.extra, metrics: rows.map(oldRow) } });
    await Deno.writeTextFile(
      join(part, "metrics.csv"),
      oldCsv(await Deno.readTextFile(join(part, "metrics.csv"))),
    );
    const resumed = await train(part, 2);
    assert.equal(resumed.resumedFrom, 1);
    const scores = (m: EpochMetrics[]) =>
      m.map((
        r,
      ) => [r.testAucReferable, r.testAucMacro, r.testKappa, r.valAucReferable, r.valAucMacro, r.valKappa]);
    assert.deepEqual(scores(resumed.metrics), scores(s.metrics));
    assert.deepEqual(resumed.best, s.best);
    assert.deepEqual(
      scores(parseMetricsCsv(await Deno.readTextFile(join(part, "metrics.csv")), "metrics.csv")),
      scores(rowsNow),
    );
    assert.match(
      await Deno.readTextFile(join(part, "metrics.csv")),
      /^epoch,step,train_loss,test_auc_referable,/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
