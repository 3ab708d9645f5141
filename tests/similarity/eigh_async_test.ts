import assert from "node:assert/strict";
import { symEig, symEigAsync, varianceCount } from "../../lib/linalg/mod.ts";
import { Rng } from "../../lib/util/random.ts";

Deno.test("symEigAsync on a worker thread equals symEig (300×300, variance-selected vectors)", async () => {
  const n = 300, rng = new Rng(11);
  const b = Float64Array.from({ length: n * 40 }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 1e-3 : 0;
      for (let k = 0; k < 40; k++) s += b[i * 40 + k] * b[j * 40 + k] * Math.exp(-k / 8);
      a[i * n + j] = a[j * n + i] = s;
    }
  }
  const m = { rows: n, cols: n, data: a };
  const want = symEig(m, { selectCount: (v) => varianceCount(v, 0.99) });
  const got = await symEigAsync(m, { keepVariance: 0.99 });
  assert.deepEqual(got.values, want.values);
  assert.equal(got.vectors!.rows, want.vectors!.rows);
  assert.deepEqual(got.vectors!.data, want.vectors!.data);
  assert.ok(want.vectors!.rows > 5 && want.vectors!.rows < n);
});

Deno.test("symEigAsync leaves this thread free while it computes", async () => {
  const n = 700, rng = new Rng(12);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await symEigAsync({ rows: n, cols: n, data: a });
  } finally {
    clearInterval(timer);
  }
  // computed here, the decomposition would block the event loop and no tick would fire
  assert.ok(ticks >= 3, `only ${ticks} timer ticks during the decomposition`);
});
