// How the tests compare float tensors: one definition of each error measure.
import assert from "node:assert/strict";

/**
 * max |a − b| / max |b| over the entries `keep` selects (all by default): relative to the tensor's scale,
 * so near-zero entries don't dominate.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 1e-12;
  for (let i = 0; i < a.length; i++) {
    if (keep && !keep(i)) continue;
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** ‖a − b‖ / ‖b‖ (Euclidean): a few moved entries weigh little against the whole tensor. */
export function l2Err(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * Asserts that two arrays hold the same elements by `Object.is` (NaN equals NaN, 0 is not −0; for floats,
 * bit-identical up to NaN payloads), naming the first that differs and how many do. For large arrays: on a
 * failure `assert.deepEqual` diffs the printed arrays, which for a 700 001-element pair took 22 GB.
 */
export function assertSameElements(
  actual: ArrayLike<number | bigint> | undefined,
  expected: ArrayLike<number | bigint> | undefined,
  what: string,
): void {
  if (actual === undefined || expected === undefined) {
    assert.fail(`${what}: the ${actual === undefined ? "actual" : "expected"} array is missing`);
  }
  const kind = (a: object) => a.constructor.name;
  if (kind(actual) !== kind(expected)) {
    assert.fail(`${what}: a ${kind(actual)}, expected a ${kind(expected)}`);
  }
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} elements, expected ${expected.length}`);
  }
  let first = -1, count = 0;
  for (let i = 0; i < actual.length; i++) {
    if (Object.is(actual[i], expected[i])) continue;
    if (first < 0) first = i;
    count++;
  }
  if (first >= 0) {
    assert.fail(
      `${what}: element ${first} is ${actual[first]}, expected ${expected[first]} ` +
        `(${count} of ${actual.length} elements differ)`,
    );
  }
}
