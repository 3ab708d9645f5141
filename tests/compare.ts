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
