// A run with a model-selection split (MedMNIST's val): val is scored after every epoch beside test, the
// epoch with the best val macro AUC keeps its test predictions and metrics, and metrics.csv carries both.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type RunSummary, runTraining } from "../../lib/train/mod.ts";
import { randomInit } from "../../lib/models/init.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import type { Value } from "../../lib/graph/mod.ts";
import { gradeBatches } from "./grade_batches.ts";

const SIZE = 16, BATCH = 8;

const batches = (seed: string, count: number) => gradeBatches(seed, count, BATCH, SIZE);

Deno.test("fit: the best epoch is chosen on val; its test predictions and metrics are kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const def = getModel("cbr_small");
    const spec = paramSpecs("cbr_small", { classes: 5, inputSize: SIZE });
    const s: RunSummary = await runTraining({
      dir,
      model: (net, x) => def.build(net, x, { classes: 5 }) as { logits: Value },
      init: () => Promise.resolve(randomInit(spec, 1)),
      epochs: 3,
      batch: BATCH,
      size: SIZE,
      lr: 1e-3,
      seed: 1,
      threads: 1,
      trainBatches: async function* (epoch) {
        yield* batches(`train:${epoch}`, 3);
      },
      stepsPerEpoch: 3,
      testBatches: async function* () {
        yield* batches("test", 2);
      },
      valBatches: async function* () {
        yield* batches("val", 2);
      },
    });
    const rows = s.metrics;
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => r.valAucMacro !== undefined && r.valAucMacro >= 0));
    const best = rows.reduce((a, r) => (r.valAucMacro! > a.valAucMacro! ? r : a));
    assert.deepEqual(s.best, {
      epoch: best.epoch,
      valAucMacro: best.valAucMacro,
      testAucReferable: best.testAucReferable,
      testAucMacro: best.testAucMacro,
      testKappa: best.testKappa,
    });
    const csv = (await Deno.readTextFile(join(dir, "metrics.csv"))).split("\n");
    assert.equal(
      csv[0],
      "epoch,step,train_loss,test_auc_referable,test_auc_macro,test_kappa,images_per_sec,wall_sec," +
        "val_auc_referable,val_auc_macro,val_kappa",
    );
    const pred = await Deno.readTextFile(join(dir, "predictions-best.csv"));
    assert.equal(pred.trim().split("\n").length, 1 + 2 * BATCH);
    if (best.epoch === 3) {
      assert.equal(pred, await Deno.readTextFile(join(dir, "predictions.csv")));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fit: evaluations within an epoch score val beside test, and change neither training nor the best epoch", async () => {
  const def = getModel("cbr_small");
  const spec = paramSpecs("cbr_small", { classes: 5, inputSize: SIZE });
  const train = async (evalEvery?: number) => {
    const dir = await Deno.makeTempDir();
    try {
      const s = await runTraining({
        dir,
        model: (net, x) => def.build(net, x, { classes: 5 }) as { logits: Value },
        init: () => Promise.resolve(randomInit(spec, 2)),
        epochs: 2,
        batch: BATCH,
        size: SIZE,
        lr: 1e-3,
        seed: 2,
        threads: 1,
        evalEvery,
        trainBatches: async function* (epoch) {
          yield* batches(`train:${epoch}`, 4);
        },
        stepsPerEpoch: 4,
        testBatches: async function* () {
          yield* batches("test", 2);
        },
        valBatches: async function* () {
          yield* batches("val", 2);
        },
      });
      return { s, weights: await Deno.readFile(join(dir, "weights.safetensors")) };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  const plain = await train(), fine = await train(2);
  assert.deepEqual(fine.s.metrics.map((r) => r.step), [2, 4, 6, 8]);
  assert.deepEqual(fine.s.metrics.map((r) => r.epoch), [0.5, 1, 1.5, 2]);
  for (const r of fine.s.metrics) {
    for (const v of [r.valAucMacro, r.valAucReferable, r.valKappa]) {
      assert.ok(v !== undefined && Number.isFinite(v), `step ${r.step}: val scored (${v})`);
    }
  }
  // the epoch-end rows are the plain run's, and only they compete for the best epoch
  const ends = fine.s.metrics.filter((r) => Number.isInteger(r.epoch));
  const strip = (r: (typeof ends)[number]) => ({ ...r, imagesPerSec: 0, wallSec: 0 });
  assert.deepEqual(ends.map(strip), plain.s.metrics.map(strip));
  assert.deepEqual(fine.s.best, plain.s.best);
  assert.deepEqual(fine.weights, plain.weights);
});
