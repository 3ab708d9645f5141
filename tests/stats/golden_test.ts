import assert from "node:assert/strict";
import {
  aucCi,
  delongTest,
  meanStd,
  ovrMacroAuc,
  quadraticWeightedKappa,
  referableAuc,
  rocAuc,
  rocCurve,
} from "../../lib/stats/mod.ts";
import { readJson } from "../../lib/util/fs.ts";

// deno-lint-ignore no-explicit-any
const g: any = await readJson(new URL("../../fixtures/golden/stats_cases.json", import.meta.url).pathname);

function close(actual: number, expected: number, tol: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );
}

Deno.test("binary AUC equals scikit-learn's roc_auc_score within 1e-12 (ties, tiny, imbalanced)", () => {
  assert.ok(g.binary.length >= 100);
  g.binary.forEach((c: { labels: number[]; scores: number[]; auc: number }, i: number) =>
    close(rocAuc(c.labels, c.scores), c.auc, 1e-12, `binary case ${i}`)
  );
});

Deno.test("ROC curve points equal roc_curve(drop_intermediate=False)", () => {
  for (const c of g.curves) {
    const r = rocCurve(c.labels, c.scores);
    assert.equal(r.fpr.length, c.fpr.length);
    c.fpr.forEach((v: number, i: number) => close(r.fpr[i], v, 1e-12, "fpr"));
    c.tpr.forEach((v: number, i: number) => close(r.tpr[i], v, 1e-12, "tpr"));
    c.thresholds.slice(1).forEach((v: number, i: number) => assert.ok(r.thresholds[i + 1] === v));
  }
});

Deno.test("one-vs-rest macro AUC equals roc_auc_score(multi_class='ovr') within 1e-12", () => {
  g.ovr.forEach((c: { k: number; labels: number[]; probs: number[]; auc: number }, i: number) =>
    close(ovrMacroAuc(c.probs, c.labels, c.k), c.auc, 1e-12, `ovr case ${i}`)
  );
});

Deno.test("referable AUC (p2+p3+p4 of float32 softmax) equals scikit-learn within 1e-12", () => {
  g.referable.forEach((c: { labels: number[]; probs: number[]; auc: number }, i: number) =>
    close(referableAuc(new Float32Array(c.probs), c.labels), c.auc, 1e-12, `referable case ${i}`)
  );
});

Deno.test("quadratic weighted kappa equals cohen_kappa_score(labels=0..4) within 1e-12", () => {
  assert.ok(g.kappa.length >= 50);
  g.kappa.forEach((c: { a: number[]; b: number[]; kappa: number }, i: number) =>
    close(quadraticWeightedKappa(c.a, c.b), c.kappa, 1e-12, `kappa case ${i}`)
  );
});

Deno.test("DeLong equals a numpy midrank implementation within 1e-9", () => {
  for (const [i, c] of g.delong.entries()) {
    const r = delongTest(c.labels, c.a, c.b);
    for (const k of ["aucA", "aucB", "varA", "varB", "covAB", "varDiff", "z"] as const) {
      close(r[k], c[k], 1e-9, `delong case ${i} ${k}`);
    }
    assert.ok(
      Math.abs(r.p - c.p) <= 1e-9 * Math.max(c.p, 1e-300) + 1e-15,
      `delong case ${i} p: ${r.p} vs ${c.p}`,
    );
  }
});

Deno.test("aucCi: the numpy reference's AUC ± scipy's normal quantile × √(DeLong variance), clipped to [0, 1]", () => {
  // scipy.stats.norm.ppf(0.975), (0.95), (0.995)
  const z = new Map([[0.95, 1.959963984540054], [0.9, 1.6448536269514722], [0.99, 2.5758293035489004]]);
  for (const [i, c] of g.delong.entries()) {
    for (const [level, q] of z) {
      const r = aucCi(c.labels, c.a, level);
      close(r.auc, c.aucA, 1e-12, `case ${i} auc`);
      close(r.se, Math.sqrt(c.varA), 1e-9, `case ${i} se`);
      close(r.lower, Math.max(0, c.aucA - q * Math.sqrt(c.varA)), 1e-9, `case ${i} lower at ${level}`);
      close(r.upper, Math.min(1, c.aucA + q * Math.sqrt(c.varA)), 1e-9, `case ${i} upper at ${level}`);
    }
  }
  assert.throws(() => aucCi([0, 0, 1], [0.1, 0.2, 0.3]), /at least 2 positives and 2 negatives/);
  assert.throws(() => aucCi([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1), /level must be in \(0, 1\)/);
});

Deno.test("meanStd uses the n-1 deviation (numpy ddof=1)", () => {
  for (const c of g.meanStd) {
    const r = meanStd(c.values);
    close(r.mean, c.mean, 1e-12, "mean");
    close(r.std, c.std, 1e-10, "std");
  }
});
