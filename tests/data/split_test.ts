import assert from "node:assert/strict";
import { splitDataset, stratifiedSubset } from "../../lib/data/split.ts";
import { Rng } from "../../lib/util/random.ts";

/** Kaggle-like: two eyes per patient, usually the same grade, Kaggle's grade mix. */
function dataset(patients: number, seed: number) {
  const rng = new Rng(seed), labels: number[] = [], ids: string[] = [];
  const w = [0.735, 0.07, 0.15, 0.025, 0.02];
  const draw = () => {
    let u = rng.float();
    for (let g = 0; g < 5; g++) if ((u -= w[g]) < 0) return g;
    return 4;
  };
  for (let p = 0; p < patients; p++) {
    const g = draw();
    labels.push(g, rng.float() < 0.7 ? g : draw());
    ids.push(`p${p}`, `p${p}`);
    if (rng.float() < 0.05) labels.push(draw()), ids.push(`p${p}`); // a third photo now and then
  }
  return { labels, ids };
}

Deno.test("splitDataset: patient-aware, grade counts within ±1 of the target, deterministic", () => {
  for (const [patients, seed, frac] of [[300, 1, 0.1], [1000, 2, 0.1], [57, 3, 0.2], [2000, 4, 0.25]]) {
    const { labels, ids } = dataset(patients, seed);
    const s = splitDataset(labels, ids, { seed, testFraction: frac });
    assert.equal(s.train.length + s.test.length, labels.length);
    assert.deepEqual([...s.train, ...s.test].sort((a, b) => a - b), labels.map((_, i) => i));
    const testPatients = new Set(s.test.map((i) => ids[i]));
    for (const i of s.train) assert.ok(!testPatients.has(ids[i]), `patient ${ids[i]} on both sides`);
    for (let g = 0; g < 5; g++) {
      const total = labels.filter((l) => l === g).length;
      const inTest = s.test.filter((i) => labels[i] === g).length;
      const q = frac * total; // the grade's target is ⌊q⌋ or ⌈q⌉
      assert.ok(
        inTest >= Math.floor(q) - 1 && inTest <= Math.ceil(q) + 1,
        `grade ${g}: ${inTest} of ${total} in test`,
      );
    }
    assert.ok(Math.abs(s.test.length - frac * labels.length) <= 3, `${s.test.length} in test`);
    assert.deepEqual(splitDataset(labels, ids, { seed, testFraction: frac }), s);
    assert.notDeepEqual(splitDataset(labels, ids, { seed: seed + 100, testFraction: frac }).test, s.test);
  }
});

Deno.test("splitDataset: independent of listing order; 9:1 by default; argument errors", () => {
  const { labels, ids } = dataset(200, 9);
  const s = splitDataset(labels, ids, { seed: 5 });
  const perm = labels.map((_, i) => i).reverse();
  const r = splitDataset(perm.map((i) => labels[i]), perm.map((i) => ids[i]), { seed: 5 });
  assert.deepEqual(r.test.map((j) => perm[j]).sort((a, b) => a - b), s.test);
  assert.ok(Math.abs(s.test.length / labels.length - 0.1) < 0.02);
  assert.throws(() => splitDataset([0, 1], ["a"], { seed: 1 }), /Patients has 1 entries, labels has 2/);
  assert.throws(
    () => splitDataset([0], ["a"], { seed: 1, testFraction: 1 }),
    /Test fraction must be in \(0, 1\)/,
  );
});

Deno.test("stratifiedSubset: proportional per grade, deterministic, a subset of the input", () => {
  const { labels } = dataset(3000, 11);
  const train = labels.map((_, i) => i).filter((i) => i % 10 !== 0);
  const sub = stratifiedSubset(train, labels, 500, 42);
  assert.equal(sub.length, 500);
  assert.equal(new Set(sub).size, 500);
  const inTrain = new Set(train);
  for (const i of sub) assert.ok(inTrain.has(i));
  for (let g = 0; g < 5; g++) {
    const want = (train.filter((i) => labels[i] === g).length * 500) / train.length;
    const got = sub.filter((i) => labels[i] === g).length;
    assert.ok(Math.abs(got - want) < 1, `grade ${g}: ${got} vs ${want}`);
  }
  assert.deepEqual(stratifiedSubset(train, labels, 500, 42), sub);
  assert.notDeepEqual(stratifiedSubset(train, labels, 500, 43), sub);
  assert.equal(stratifiedSubset(train, labels, 1e9, 1).length, train.length);
  assert.throws(() => stratifiedSubset(train, labels, -1, 1), /Limit must be a non-negative integer/);
});
