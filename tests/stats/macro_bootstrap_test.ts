// The paired bootstrap of the macro AUC difference: for two classes it is the binary bootstrap draw for
// draw; its point estimates are the one-vs-rest macro AUCs; a grade without cases is refused.
import assert from "node:assert/strict";
import { bootstrapAucDiff, bootstrapMacroAucDiff, ovrMacroAuc } from "../../lib/stats/mod.ts";
import { Rng } from "../../lib/util/random.ts";

function probs(rng: Rng, y: Int32Array, k: number, signal: number): Float64Array {
  const p = new Float64Array(y.length * k);
  for (let i = 0; i < y.length; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      p[i * k + c] = Math.exp(rng.normal() + (c === y[i] ? signal : 0));
      s += p[i * k + c];
    }
    for (let c = 0; c < k; c++) p[i * k + c] /= s;
  }
  return p;
}

Deno.test("macro bootstrap: two classes give the binary bootstrap of column 1, draw for draw", () => {
  const rng = new Rng("two");
  const y = Int32Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const a = probs(rng, y, 2, 1), b = probs(rng, y, 2, 0.3);
  const m = bootstrapMacroAucDiff(y, a, b, 2, { resamples: 300, seed: 5 });
  const col = (p: Float64Array) => Float64Array.from(y, (_, i) => p[i * 2 + 1]);
  const r = bootstrapAucDiff(y, col(a), col(b), { resamples: 300, seed: 5 });
  for (const key of ["diff", "lower", "upper", "fractionNotPositive"] as const) {
    assert.ok(Math.abs(m[key] - r[key]) < 1e-12, `${key}: ${m[key]} vs ${r[key]}`);
  }
});

Deno.test("macro bootstrap: point estimates are the one-vs-rest macro AUCs; the CI holds the difference", () => {
  const rng = new Rng("five");
  const y = Int32Array.from({ length: 200 }, (_, i) => [0, 0, 0, 1, 2, 2, 3, 4][i % 8]);
  const a = probs(rng, y, 5, 1.2), b = probs(rng, y, 5, 0.4);
  const m = bootstrapMacroAucDiff(y, a, b, 5, { resamples: 400, seed: 1 });
  assert.ok(Math.abs(m.aucA - ovrMacroAuc(a, y, 5)) < 1e-12);
  assert.ok(Math.abs(m.aucB - ovrMacroAuc(b, y, 5)) < 1e-12);
  assert.ok(m.lower <= m.diff && m.diff <= m.upper && m.lower > 0, `${m.lower} ${m.diff} ${m.upper}`);
  assert.ok(m.se > 0 && m.se < 0.1);
  assert.deepEqual(bootstrapMacroAucDiff(y, a, b, 5, { resamples: 400, seed: 1 }), m);
  const no4 = y.map((v) => (v === 4 ? 3 : v));
  assert.throws(() => bootstrapMacroAucDiff(no4, a, b, 5), /no case of class 4/);
});
