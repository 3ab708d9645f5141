// Model selection on val, reported on test, through the real pipeline (data → train → analyze → report) on a
// MedMNIST-style .npz whose val and test DISAGREE on purpose: val holds the test photos in reverse order with
// the two grades swapped, so every val AUC is 1 − the test AUC at the same epoch, and the epoch best on val is
// the one worst on test. Training raises the test AUC epoch by epoch (a left-right brightness ramp under
// noise, learnt slowly), so val picks epoch 1 while test would pick a later one. Whatever leaks test into the
// choice, or reports val as test, or keeps the wrong epoch's predictions, lands on another number here.
// Also: a changed byte in a copy of the vendored SqueezeNet weights is refused by the train step. ~15 s.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeNpy, zip } from "../../lib/util/npy.ts";
import { Rng } from "../../lib/util/random.ts";
import { resolveConfig, runGrid, type StudyConfig } from "../../lib/study/config.ts";
import { dataStep, initialState, trainStep } from "../../lib/study/pipeline.ts";
import { analyzeStudy } from "../../lib/study/analyze.ts";
import { parsePredictions } from "../../lib/study/analyze.ts";
import type { Provenance } from "../../lib/study/provenance.ts";
import { writeReport } from "../../lib/report/report.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { writeSafetensors } from "../../lib/weights/safetensors.ts";
import { parseMetricsCsv, readRunSummary } from "../../lib/train/mod.ts";
import { exists } from "../../lib/util/fs.ts";
import { loggedStepsToReach } from "../../lib/stats/summary.ts";

const S = 28, N_TRAIN = 96, N_TEST = 32, BATCH = 8, EPOCHS = 3;
const PX = S * S * 3;

/** Photos of grade 0 (dark left, bright right) or 4 (the mirror ramp) under heavy per-pixel noise. */
function photos(rng: Rng, grades: readonly number[]): Uint8Array {
  const a = new Uint8Array(grades.length * PX);
  grades.forEach((g, i) => {
    for (let p = 0; p < PX; p++) {
      const ramp = (Math.floor(p / 3) % S - (S - 1) / 2) / (S / 2);
      const v = 128 + (g === 4 ? 3 : -3) * ramp + 60 * rng.normal();
      a[i * PX + p] = Math.max(0, Math.min(255, Math.round(v)));
    }
  });
  return a;
}

const alternating = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? 4 : 0));

/** train and test drawn alike; val = the test photos reversed, grades swapped (0 ↔ 4). */
function medmnistNpz(): { bytes: Uint8Array; test: number[]; val: number[] } {
  const rng = new Rng("val-selection");
  const train = alternating(N_TRAIN), test = alternating(N_TEST);
  const trainX = photos(rng, train), testX = photos(rng, test);
  const valX = new Uint8Array(testX.length), val: number[] = [];
  for (let i = 0; i < N_TEST; i++) {
    const j = N_TEST - 1 - i;
    valX.set(testX.subarray(j * PX, (j + 1) * PX), i * PX);
    val.push(4 - test[j]);
  }
  const images = (x: Uint8Array, n: number) => encodeNpy({ data: x, shape: [n, S, S, 3], dtype: "uint8" });
  const labels = (y: number[]) =>
    encodeNpy({ data: Uint8Array.from(y), shape: [y.length, 1], dtype: "uint8" });
  const bytes = zip({
    "train_images.npy": images(trainX, N_TRAIN),
    "train_labels.npy": labels(train),
    "val_images.npy": images(valX, N_TEST),
    "val_labels.npy": labels(val),
    "test_images.npy": images(testX, N_TEST),
    "test_labels.npy": labels(test),
  });
  return { bytes, test, val };
}

/** Textbook AUC: the share of (positive, negative) pairs ranked right, ties counting half. */
function auc(scores: readonly number[], positive: readonly boolean[]): number {
  let right = 0, pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!positive[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (positive[j]) continue;
      pairs++;
      right += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return right / pairs;
}

/** Macro (grades 0 and 4, the ones present) and referable AUC of N×5 probabilities against `labels`. */
function scores(probs: Float64Array, labels: readonly number[]) {
  const p = (c: number) => labels.map((_, i) => probs[i * 5 + c]);
  const macro = (auc(p(0), labels.map((y) => y === 0)) + auc(p(4), labels.map((y) => y === 4))) / 2;
  const ref = labels.map((_, i) => probs[i * 5 + 2] + probs[i * 5 + 3] + probs[i * 5 + 4]);
  return { macro, referable: auc(ref, labels.map((y) => y >= 2)) };
}

/** Test-ordered probabilities rearranged into val's order (val photo i is test photo N − 1 − i). */
function asVal(probs: Float64Array): Float64Array {
  const out = new Float64Array(probs.length);
  for (let i = 0; i < N_TEST; i++) out.set(probs.subarray((N_TEST - 1 - i) * 5, (N_TEST - i) * 5), i * 5);
  return out;
}

const f3 = (x: number) => x.toFixed(3);

// metrics.csv holds 8 significant digits and the predictions 7: an AUC here moves in steps of 1/256 (16 × 16
// photos), far above 1e-7, and two photos' probabilities would have to tie within 1e-7 to move one
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-7, `${what}: ${a} vs ${b}`);

const PROVENANCE = (c: StudyConfig): Provenance => ({
  gitCommit: "0123456789abcdef0123456789abcdef01234567",
  gitBranch: null,
  command: "deno task reproduce",
  argv: [],
  config: c,
  versions: { deno: Deno.version.deno },
  denoLock: null,
  dataManifest: null,
  weights: [],
  machine: { cpu: "test", cores: 2, memoryGiB: 4, os: "linux", gpu: null, device: "cpu" },
  collectedAt: "2026-01-01T00:00:00.000Z",
});

function studyConfig(dir: string, extra: string[]): StudyConfig {
  return resolveConfig([
    "--preset",
    "synthetic",
    "--data",
    join(dir, "retinamnist_mini.npz"),
    "--format",
    "medmnist",
    "--source",
    "none",
    "--seeds",
    "0",
    "--epochs",
    String(EPOCHS),
    "--batch",
    String(BATCH),
    "--size",
    String(S),
    "--lr",
    "0.0001",
    "--probe-count",
    "8",
    "--threads",
    "1",
    "--out",
    join(dir, "out"),
    ...extra,
  ]);
}

Deno.test("study: the best epoch is chosen on val, and test reports it, through data, train, analyze and report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "val-selection-" });
  try {
    const npz = medmnistNpz();
    await Deno.writeFile(join(dir, "retinamnist_mini.npz"), npz.bytes);
    // "transfer" from a stand-in source model (1000-class head, replaced): a second init to compare
    const source = join(dir, "source.safetensors");
    await writeSafetensors(
      source,
      randomInit(paramSpecs("cbr_tiny", { classes: 1000, inputSize: S }), "src"),
      {
        format: "transfusion-weights",
      },
    );
    const c = studyConfig(dir, [
      "--models",
      "cbr_tiny",
      "--inits",
      "random,transfer",
      "--weights",
      `cbr_tiny=${source}`,
    ]);
    const log = () => {};
    await dataStep(c, log);
    const trained = await trainStep(c, log);
    assert.deepEqual(trained.map((s) => s.dir.split("/").at(-1)), [
      "cbr_tiny-random-s0",
      "cbr_tiny-transfer-s0",
    ]);

    const chosen = new Map<string, { val: number; test: number; testRef: number }>();
    for (const run of runGrid(c)) {
      const rd = join(c.out, run.id);
      const done = await readRunSummary(rd);
      const rows = done.metrics;
      assert.equal(rows.length, EPOCHS, run.id);
      // metrics.csv is done.json's rows, each score in the column of its split
      const csv = parseMetricsCsv(await Deno.readTextFile(join(rd, "metrics.csv")), `${run.id}/metrics.csv`);
      for (const [i, r] of csv.entries()) {
        for (
          const k of [
            "testAucMacro",
            "testAucReferable",
            "testKappa",
            "valAucMacro",
            "valAucReferable",
          ] as const
        ) {
          close(r[k]!, rows[i][k]!, `${run.id} metrics.csv ${k}, epoch ${i + 1}`);
        }
      }
      // the training set is the train split's 96 photos, val's 32 never among them: 12 steps an epoch
      assert.deepEqual(rows.map((r) => r.step), [12, 24, 36], `${run.id}: steps`);

      // what the columns hold, from the predictions themselves: test_* the test photos, val_* the val photos
      const final = parsePredictions(await Deno.readTextFile(join(rd, "predictions.csv")), "predictions.csv");
      assert.deepEqual([...final.labels], npz.test, `${run.id}: predictions.csv holds the test photos`);
      const lastTest = scores(final.probs, npz.test), lastVal = scores(asVal(final.probs), npz.val);
      close(rows[EPOCHS - 1].testAucMacro, lastTest.macro, `${run.id} test_auc_macro, epoch ${EPOCHS}`);
      close(rows[EPOCHS - 1].testAucReferable, lastTest.referable, `${run.id} test_auc_referable`);
      close(rows[EPOCHS - 1].valAucMacro!, lastVal.macro, `${run.id} val_auc_macro, epoch ${EPOCHS}`);
      close(rows[EPOCHS - 1].valAucReferable!, lastVal.referable, `${run.id} val_auc_referable`);
      // the fixture's premise: val and test disagree at every epoch, and training helps on test
      for (const r of rows) {
        close(r.valAucMacro!, 1 - r.testAucMacro, `${run.id} epoch ${r.epoch}: val = 1 − test`);
      }
      assert.ok(
        rows[1].testAucMacro > rows[0].testAucMacro + 0.02,
        `${run.id}: test AUC rises after epoch 1`,
      );
      assert.ok(
        rows[2].testAucMacro > rows[0].testAucMacro + 0.02,
        `${run.id}: test AUC rises after epoch 1`,
      );

      // the chosen epoch: the first with the best val macro AUC, which is epoch 1, not test's choice
      const firstBest = (f: (r: typeof rows[0]) => number) =>
        rows.reduce((b, r) => (f(r) > f(b) ? r : b)).epoch;
      assert.equal(firstBest((r) => r.valAucMacro!), 1, `${run.id}: val's best epoch`);
      assert.notEqual(firstBest((r) => r.testAucMacro), 1, `${run.id}: test would choose another`);
      assert.deepEqual(done.best, {
        epoch: 1,
        valAucMacro: rows[0].valAucMacro,
        testAucReferable: rows[0].testAucReferable,
        testAucMacro: rows[0].testAucMacro,
        testKappa: rows[0].testKappa,
      }, `${run.id}: done.json's best`);

      // predictions-best.csv: epoch 1's test predictions, not the last epoch's
      const best = parsePredictions(
        await Deno.readTextFile(join(rd, "predictions-best.csv")),
        "predictions-best.csv",
      );
      assert.deepEqual([...best.labels], npz.test);
      const bestTest = scores(best.probs, npz.test), bestVal = scores(asVal(best.probs), npz.val);
      close(bestTest.macro, rows[0].testAucMacro, `${run.id}: predictions-best.csv's test macro AUC`);
      close(bestVal.macro, rows[0].valAucMacro!, `${run.id}: predictions-best.csv's val macro AUC`);
      assert.notEqual(bestTest.macro, lastTest.macro, `${run.id}: the best and final predictions differ`);
      chosen.set(run.init, { val: bestVal.macro, test: bestTest.macro, testRef: bestTest.referable });
    }

    // the analysis compares the inits on the best-val epoch's test predictions
    const a = await analyzeStudy(c, { bootstrapReps: 200, provenance: PROVENANCE(c), log });
    for (const run of a.runs) assert.deepEqual(run.best, (await readRunSummary(join(c.out, run.id))).best);
    const cmp = a.comparisons.filter((x) => x.metric === "referable" && x.seed === 0);
    assert.equal(cmp.length, 1);
    assert.deepEqual([cmp[0].a, cmp[0].b, cmp[0].predictions], ["transfer", "random", "best"]);
    close(cmp[0].aucA, chosen.get("transfer")!.testRef, "comparison's transfer AUC");
    close(cmp[0].aucB, chosen.get("random")!.testRef, "comparison's random AUC");
    for (const g of a.summary!) {
      close(g.best!.testAucMacro.mean, chosen.get(g.init)!.test, `${g.init} summary`);
    }

    // convergence speed is counted on val: the target from random init's best val macro AUC, the steps on
    // the val curves (here falling while test rises, so test would give other steps)
    const rule = a.convergence!.find((x) => x.model === "cbr_tiny")!;
    const randomRows = a.runs.find((x) => x.init === "random")!.rows;
    const randomBest = Math.max(...randomRows.map((x) => x.valAucMacro!));
    assert.deepEqual([rule.split, rule.metric, rule.rule, rule.fraction], [
      "val",
      "macro",
      "random-best",
      0.9,
    ]);
    close(rule.target, 0.5 + 0.9 * (randomBest - 0.5), "the target, from random's best val macro AUC");
    for (const run of a.runs) {
      const val = run.rows.map((x) => ({ step: x.step, auc: x.valAucMacro! }));
      assert.equal(run.stepsToTarget, loggedStepsToReach(val, rule.target), `${run.id}: steps on val`);
    }

    // the report: the table's test column and best epoch, and the headline model chosen on val
    await writeReport(a, c.out);
    const md = await Deno.readTextFile(join(c.out, "report.md"));
    for (const run of a.runs) {
      const b = run.best!;
      // the premise: a column showing val would print another number
      assert.notEqual(f3(b.testAucMacro), f3(b.valAucMacro));
      const row =
        `| CBR-Tiny | ${run.init} | ${f3(b.testAucMacro)} (1 run) | ${f3(b.testAucReferable)} (1 run) | ` +
        `${f3(b.testKappa)} (1 run) | 1.0 (1 run) | ${f3(run.final.aucMacro)} (1 run) | 1 |`;
      assert.ok(md.includes(row), `report row ${row}`);
    }
    const [r, t] = [chosen.get("random")!, chosen.get("transfer")!];
    // the premise: choosing by test would name the other init
    assert.notEqual(r.test, t.test);
    const [init, pick] = r.val > t.val ? ["random", r] : ["transfer", t];
    assert.ok(
      md.includes(
        `Chosen on val (highest mean val macro AUC, ${f3(pick.val)}): CBR-Tiny ${init}, test macro AUC ${
          f3(pick.test)
        } — `,
      ),
      `headline ${init}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("study: the train step refuses a vendored weights file with a changed byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vendored-train-" });
  try {
    await Deno.writeFile(join(dir, "retinamnist_mini.npz"), medmnistNpz().bytes);
    // a copy of vendor/ (manifest and weights) standing in for the project's, with one byte of a tensor changed
    const vendor = new URL("../../vendor/", import.meta.url).pathname, copy = join(dir, "vendor");
    await Deno.mkdir(copy);
    const name = "squeezenet1_1-imagenet.safetensors";
    await Deno.copyFile(join(vendor, "manifest.json"), join(copy, "manifest.json"));
    const bytes = await Deno.readFile(join(vendor, name));
    await Deno.writeFile(join(copy, name), bytes);
    const c = studyConfig(dir, [
      "--models",
      "squeezenet1_1",
      "--inits",
      "transfer",
      "--epochs",
      "1",
      "--weights",
      `squeezenet1_1=${join(copy, name)}`,
    ]);
    await dataStep(c, () => {});
    // the intact copy is taken
    const [run] = runGrid(c);
    assert.ok((await initialState(c, run, { vendorDir: copy })).size > 0);
    bytes[bytes.length - 5] ^= 1;
    await Deno.writeFile(join(copy, name), bytes);
    await assert.rejects(trainStep(c, () => {}, { vendorDir: copy }), (e: Error) => {
      assert.match(e.message, /squeezenet1_1-imagenet\.safetensors: sha256 [0-9a-f]{64} does not match/);
      return true;
    });
    assert.ok(!(await exists(join(c.out, run.id, "checkpoint.safetensors"))), "no training step ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
