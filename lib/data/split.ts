/**
 * Seeded, grade-stratified, patient-aware train/test splits and stratified subsets. Both depend only on
 * the seed and the (label, patient) multiset, not on the order the images were listed in.
 * @module
 */
import { Rng } from "../util/random.ts";

/** Options for {@linkcode splitDataset}. */
export interface SplitOptions {
  /** seed of the split (any integer or string) */
  seed: number | string;
  /** fraction of images in the test side, 0 < f < 1; default 0.1 (the 9:1 split) */
  testFraction?: number;
}

/**
 * Splits images into train and test so that every patient's images are on one side and each grade's test
 * count is within ±1 of `testFraction` × its total (the targets add up to
 * round(`testFraction` × n)) whenever the patients allow. Patients are visited in a
 * seeded random order; one goes to test when that brings the per-grade test counts closer to the targets.
 * Returns sorted image indices.
 *
 * @example
 * ```ts
 * import { splitDataset } from "./split.ts";
 * const labels = [0, 0, 1, 1, 2, 2, 0, 0, 1, 1];
 * const patients = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"];
 * const { train, test } = splitDataset(labels, patients, { seed: 1, testFraction: 0.2 });
 * if (train.length + test.length !== 10) throw new Error("lost images");
 * ```
 */
export function splitDataset(
  labels: ArrayLike<number>,
  patients: ArrayLike<string>,
  opts: SplitOptions,
): { train: number[]; test: number[] } {
  const n = labels.length;
  if (patients.length !== n) {
    throw new RangeError(`Patients has ${patients.length} entries, labels has ${n}`);
  }
  const frac = opts.testFraction ?? 0.1;
  if (!(frac > 0 && frac < 1)) throw new RangeError(`Test fraction must be in (0, 1), got ${frac}`);
  const byPatient = new Map<string, number[]>();
  const grades = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const list = byPatient.get(patients[i]);
    if (list) list.push(i);
    else byPatient.set(patients[i], [i]);
    grades.set(labels[i], (grades.get(labels[i]) ?? 0) + 1);
  }
  // Per-grade targets by largest remainder, so that they add up to round(frac·n) even for tiny grades.
  const keys = [...grades.keys()].sort((a, b) => a - b);
  const quota = keys.map((g) => frac * grades.get(g)!);
  const target = quota.map(Math.floor);
  let left = Math.round(frac * n) - target.reduce((a, b) => a + b, 0);
  for (
    const j of keys.map((_, j) => j).sort((a, b) => (quota[b] - target[b]) - (quota[a] - target[a]) || a - b)
  ) {
    if (left-- <= 0) break;
    target[j]++;
  }
  const deficit = new Map<number, number>(keys.map((g, j) => [g, target[j]]));
  const nTarget = Math.round(frac * n);
  let nTest = 0;
  const ids = [...byPatient.keys()].sort();
  new Rng(opts.seed).fork("split").shuffle(ids);
  const inTest = new Uint8Array(n);
  // Two passes: the first takes patients that fit the targets exactly, the second only improves the total
  // deviation; patients with many images thus wait for the small ones to fill in.
  for (const pass of [0, 1]) {
    for (const id of ids) {
      const imgs = byPatient.get(id)!;
      if (inTest[imgs[0]]) continue;
      const c = new Map<number, number>();
      for (const i of imgs) c.set(labels[i], (c.get(labels[i]) ?? 0) + 1);
      let before = 0, after = 0, fits = true;
      for (const [g, k] of c) {
        const d = deficit.get(g)!;
        before += Math.abs(d);
        after += Math.abs(d - k);
        if (k > d) fits = false;
      }
      // Ties go to whatever brings the test side's size closer to round(frac·n): with only two-eye
      // patients, a grade whose target is odd is otherwise never touched.
      const closer = Math.abs(nTest + imgs.length - nTarget) < Math.abs(nTest - nTarget);
      if (pass === 0 ? fits : after < before || (after === before && closer)) {
        nTest += imgs.length;
        for (const i of imgs) inTest[i] = 1;
        for (const [g, k] of c) deficit.set(g, deficit.get(g)! - k);
      }
    }
  }
  const train: number[] = [], test: number[] = [];
  for (let i = 0; i < n; i++) (inTest[i] ? test : train).push(i);
  return { train, test };
}

/**
 * Picks `limit` of `indices` with each grade in proportion to its share (largest-remainder rounding),
 * uniformly at random within a grade, for the "very small data" regime. Returns sorted indices; all of
 * them when `limit` ≥ their number.
 *
 * @example
 * ```ts
 * import { stratifiedSubset } from "./split.ts";
 * const sub = stratifiedSubset([0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 1, 1], 3, 7);
 * if (sub.length !== 3) throw new Error("wrong size");
 * ```
 */
export function stratifiedSubset(
  indices: ArrayLike<number>,
  labels: ArrayLike<number>,
  limit: number,
  seed: number | string,
): number[] {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`Limit must be a non-negative integer, got ${limit}`);
  }
  const all = Array.from(indices);
  if (limit >= all.length) return all.sort((a, b) => a - b);
  const groups = new Map<number, number[]>();
  for (const i of all) {
    const g = labels[i];
    if (g === undefined) throw new RangeError(`Index ${i} is outside labels (length ${labels.length})`);
    const list = groups.get(g);
    if (list) list.push(i);
    else groups.set(g, [i]);
  }
  const keys = [...groups.keys()].sort((a, b) => a - b);
  const quota = keys.map((g) => (groups.get(g)!.length * limit) / all.length);
  const take = quota.map(Math.floor);
  let left = limit - take.reduce((a, b) => a + b, 0);
  const order = keys.map((_, j) => j).sort((a, b) => (quota[b] - take[b]) - (quota[a] - take[a]) || a - b);
  for (const j of order) {
    if (left <= 0) break;
    take[j]++;
    left--;
  }
  const rng = new Rng(seed).fork("subset");
  const out: number[] = [];
  keys.forEach((g, j) => {
    const list = groups.get(g)!.slice().sort((a, b) => a - b);
    out.push(...rng.shuffle(list).slice(0, take[j]));
  });
  return out.sort((a, b) => a - b);
}
