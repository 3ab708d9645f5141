import assert from "node:assert/strict";
import {
  bootstrapAucDiff,
  delongTest,
  erfc,
  evaluatePredictions,
  meanStd,
  ovrMacroAuc,
  quadraticWeightedKappa,
  referableAuc,
  rocAuc,
  stepsToReach,
} from "../../lib/stats/mod.ts";

Deno.test("single-class labels throw instead of returning NaN", () => {
  assert.throws(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), /only one class/);
  assert.throws(() => referableAuc(new Float32Array(10).fill(0.2), [0, 1]), /only one class/);
});

Deno.test("bad input names the argument", () => {
  assert.throws(() => rocAuc([0, 1], [0.5]), /scores has 1 entries/);
  assert.throws(() => rocAuc([0, 1], [0.5, NaN]), /scores\[1\] is NaN/);
  assert.throws(() => rocAuc([0, 2], [0.5, 0.1]), /labels\[1\] is 2, outside/);
  assert.throws(() => rocAuc([], []), /labels is empty/);
  assert.throws(() => quadraticWeightedKappa([0, 5], [0, 1]), /a\[1\] is 5/);
  assert.throws(() => quadraticWeightedKappa([0, 1], [0]), /paired/);
  assert.throws(() => ovrMacroAuc([0.5, 0.5, 0.5, 0.6], [0, 1], 2), /row 1 sums/);
  assert.throws(() => ovrMacroAuc([1, 0, 0, 0, 1, 0], [0, 1], 3), /lack class 2/);
  assert.equal(ovrMacroAuc([1, 0, 0, 0, 1, 0], [0, 1], 3, { absentClass: "skip" }), 1);
  assert.throws(() => delongTest([0, 1, 0, 1], [1, 2, 3, 4], [1, 2, 3]), /scoresB has 3/);
  assert.throws(() => meanStd([]), /values is empty/);
  assert.throws(
    () => stepsToReach([{ step: 2, auc: 0.5 }, { step: 1, auc: 0.6 }], 0.55),
    /increase strictly/,
  );
});

Deno.test("kappa keeps weights over 0..4 when a grade is absent", () => {
  // Only grades 0 and 2 present: weights must still be (i-j)^2/16 over five grades, which cancels the same way.
  const a = [0, 0, 2, 2], b = [0, 2, 2, 2];
  // observed Σw·O = 4 (one 0→2 disagreement); expected Σw·E = 4·2·3/4 + 4·2·1/4 = 8 → 1 − 4/8
  assert.ok(Math.abs(quadraticWeightedKappa(a, b) - 0.5) < 1e-15);
  assert.ok(Number.isNaN(quadraticWeightedKappa([1, 1], [1, 1])));
});

Deno.test("stepsToReach interpolates, returns the first step, or null", () => {
  const curve = [{ step: 0, auc: 0.5 }, { step: 10, auc: 0.7 }, { step: 20, auc: 0.65 }, {
    step: 30,
    auc: 0.9,
  }];
  assert.ok(Math.abs(stepsToReach(curve, 0.6)! - 5) < 1e-12);
  assert.ok(Math.abs(stepsToReach(curve, 0.8)! - 26) < 1e-9);
  assert.equal(stepsToReach(curve, 0.4), 0);
  assert.equal(stepsToReach(curve, 0.95), null);
});

Deno.test("erfc matches known values", () => {
  assert.ok(Math.abs(erfc(0) - 1) < 1e-16);
  assert.ok(Math.abs(erfc(1) - 0.15729920705028513) < 1e-16);
  assert.ok(Math.abs(erfc(3) / 2.209049699858544e-5 - 1) < 1e-13);
  assert.ok(Math.abs(erfc(10) / 2.088487583762545e-45 - 1) < 1e-13);
});

Deno.test("bootstrap is seeded, stratified and brackets the observed difference", () => {
  const n = 300, y: number[] = [], a: number[] = [], b: number[] = [];
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < n; i++) {
    y.push(i % 3 === 0 ? 1 : 0);
    a.push(y[i] + rnd() * 1.5);
    b.push(y[i] * 0.5 + rnd() * 1.5);
  }
  const r1 = bootstrapAucDiff(y, a, b, { seed: 7 });
  const r2 = bootstrapAucDiff(y, a, b, { seed: 7 });
  assert.deepEqual(r1, r2);
  assert.equal(r1.resamples, 2000);
  assert.ok(Math.abs(r1.diff - (rocAuc(y, a) - rocAuc(y, b))) < 1e-12);
  assert.ok(r1.lower < r1.diff && r1.diff < r1.upper);
  const d = delongTest(y, a, b);
  // The bootstrap and DeLong standard errors agree roughly: CI width ≈ 2·1.96·sqrt(varDiff).
  const width = r1.upper - r1.lower, expected = 2 * 1.96 * Math.sqrt(d.varDiff);
  assert.ok(width > 0.7 * expected && width < 1.3 * expected, `${width} vs ${expected}`);
});

Deno.test("bootstrap is paired: strongly correlated scores give DeLong's narrow paired width", () => {
  // b is a plus small noise: each model's AUC varies a lot over resamples, their difference very little
  const n = 400, y: number[] = [], a: number[] = [], b: number[] = [];
  let s = 3;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < n; i++) {
    y.push(i % 4 === 0 ? 1 : 0);
    a.push(y[i] + rnd() * 2);
    b.push(a[i] + (rnd() - 0.5) * 0.2);
  }
  const r = bootstrapAucDiff(y, a, b, { seed: 11 });
  const d = delongTest(y, a, b);
  const width = r.upper - r.lower;
  const paired = 2 * 1.96 * Math.sqrt(d.varDiff), unpaired = 2 * 1.96 * Math.sqrt(d.varA + d.varB);
  assert.ok(paired < unpaired / 5, `the data make pairing matter: ${paired} vs ${unpaired}`);
  // 2000 resamples estimate a width to ~3 % (sd of a percentile range); DeLong's is asymptotic: ±15 %
  assert.ok(Math.abs(width / paired - 1) < 0.15, `width ${width} vs DeLong's paired ${paired}`);
});

Deno.test("bootstrap is stratified: a single positive is in every resample", () => {
  // 1 positive among 20: a resample over all cases would miss it 36 % of the time (0.95^20); stratified,
  // every resample has it, a ranks it top and b bottom, so every difference is exactly 1
  const y = Array.from({ length: 20 }, (_, i) => (i === 7 ? 1 : 0));
  const a = y.map((v, i) => v ? 2 : i / 20), b = y.map((v, i) => v ? -1 : i / 20);
  const r = bootstrapAucDiff(y, a, b, { seed: 5, resamples: 500 });
  assert.deepEqual([r.diff, r.lower, r.upper, r.fractionNotPositive], [1, 1, 1, 0]);
});

Deno.test("evaluatePredictions computes referable AUC, ovr AUC and argmax kappa", () => {
  const probs = new Float32Array([
    0.7,
    0.1,
    0.1,
    0.05,
    0.05,
    0.2,
    0.5,
    0.2,
    0.05,
    0.05,
    0.1,
    0.2,
    0.4,
    0.2,
    0.1,
    0.05,
    0.05,
    0.2,
    0.6,
    0.1,
    0.05,
    0.05,
    0.1,
    0.3,
    0.5,
    0.3,
    0.4,
    0.2,
    0.05,
    0.05,
  ]);
  const labels = [0, 1, 2, 3, 4, 0];
  const m = evaluatePredictions(probs, labels);
  assert.equal(m.aucReferable, 1);
  assert.ok(Math.abs(m.kappa - quadraticWeightedKappa(labels, [0, 1, 2, 3, 4, 1])) < 1e-15);
  assert.ok(Math.abs(m.aucMacroOvr - ovrMacroAuc(probs, labels, 5)) < 1e-15);
  assert.ok(Math.abs(m.accuracy - 5 / 6) < 1e-15);
  assert.ok(
    Number.isNaN(evaluatePredictions(probs.slice(0, 20), [0, 1, 2, 3], { absentClass: "nan" }).aucMacroOvr),
  );
});
