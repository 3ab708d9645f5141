import assert from "node:assert/strict";
import { referableAuc } from "../../lib/stats/auc.ts";

Deno.test("referableAuc checks every probability column, not only the ones it sums", () => {
  const good = [0.9, 0.05, 0.05, 0, 0, 0.1, 0.1, 0.5, 0.2, 0.1];
  assert.equal(referableAuc(good, [0, 3]), 1);
  for (const col of [0, 1, 3]) {
    const bad = good.slice();
    bad[5 + col] = NaN;
    assert.throws(
      () => referableAuc(bad, [0, 3]),
      (e: Error) => e instanceof RangeError && e.message.includes(`probs[${5 + col}] is NaN`),
      `column ${col}`,
    );
  }
  const inf = good.slice();
  inf[0] = Infinity;
  assert.throws(() => referableAuc(inf, [0, 3]), /probs\[0\] is Infinity/);
});
