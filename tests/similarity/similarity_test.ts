import assert from "node:assert/strict";
import { cca, convActivations, linearCka, pwcca, svcca } from "../../lib/similarity/mod.ts";
import { Rng } from "../../lib/util/random.ts";

function randomActs(m: number, p: number, seed: number) {
  const r = new Rng(seed);
  return { data: Float64Array.from({ length: m * p }, () => r.normal()), datapoints: m, neurons: p };
}

Deno.test("fewer datapoints than neurons is refused, not reported as 1.0", async () => {
  const x = randomActs(20, 15, 1), y = randomActs(20, 15, 2);
  await assert.rejects(() => cca(x, y), /more datapoints than retained neurons/);
  await assert.rejects(() => pwcca(x, y), /more datapoints than retained neurons/);
  await assert.rejects(() => svcca(x, y), /maxDims/);
  const r = await svcca(x, y, { maxDims: 5 });
  assert.deepEqual(r.kept, [5, 5]);
  assert.ok(r.mean < 0.9);
  const c = await linearCka(x, y);
  assert.ok(c > 0 && c < 1);
});

Deno.test("bad input names the argument", async () => {
  const x = randomActs(30, 3, 1);
  await assert.rejects(() => cca(x, randomActs(31, 3, 2)), /x has 30 datapoints but y has 31/);
  await assert.rejects(() => cca({ ...x, data: x.data.slice(1) }, x), /x.data has 89 entries/);
  const bad = Float64Array.from(x.data);
  bad[4] = NaN;
  await assert.rejects(() => svcca(x, { ...x, data: bad }), /y.data\[4\] is NaN/);
  const empty = { data: [], datapoints: 0, neurons: 3 };
  await assert.rejects(() => cca(empty, empty), /at least one datapoint/);
  const flat = { data: new Float64Array(90).fill(2), datapoints: 30, neurons: 3 };
  await assert.rejects(() => svcca(flat, x), /x has no neuron that varies/);
  assert.throws(() => convActivations(new Float32Array(7), [1, 2, 2, 2]), /data has 7 entries/);
});

Deno.test("the ONNX backend gives the same SVCCA, CCA and CKA as plain TypeScript", async () => {
  const x = randomActs(200, 12, 3), y = randomActs(200, 9, 4);
  const a = await svcca(x, y, { backend: "ts" }), b = await svcca(x, y, { backend: "onnx" });
  assert.deepEqual(a.kept, b.kept);
  assert.ok(Math.abs(a.mean - b.mean) < 1e-10);
  assert.ok(
    Math.abs((await cca(x, y, { backend: "ts" })).mean - (await cca(x, y, { backend: "onnx" })).mean) < 1e-10,
  );
  assert.ok(
    Math.abs((await linearCka(x, y, { backend: "ts" })) - (await linearCka(x, y, { backend: "onnx" }))) <
      1e-12,
  );
});

Deno.test("SVCCA is invariant to invertible linear maps of a layer", async () => {
  const x = randomActs(100, 4, 5);
  const mixed = new Float64Array(400);
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += x.data[i * 4 + k] * (j === k ? 2 : 0.3 * (j + 1) - 0.1 * k);
      mixed[i * 4 + j] = s;
    }
  }
  const r = await svcca(x, { data: mixed, datapoints: 100, neurons: 4 }, { varianceKept: 1 });
  assert.ok(Math.abs(r.mean - 1) < 1e-9, `${r.mean}`);
});

Deno.test("conv activations: mean pooling and seeded flattening", () => {
  const data = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i);
  const m = convActivations(data, [2, 3, 2, 2]);
  assert.equal(m.datapoints, 2);
  assert.equal(m.neurons, 3);
  assert.equal(m.data[0], 1.5);
  assert.equal(m.data[5], (20 + 21 + 22 + 23) / 4);
  const f1 = convActivations(data, [2, 3, 2, 2], { mode: "flatten", positionsPerImage: 2, seed: 9 });
  const f2 = convActivations(data, [2, 3, 2, 2], { mode: "flatten", positionsPerImage: 2, seed: 9 });
  assert.equal(f1.datapoints, 4);
  assert.deepEqual(f1.data, f2.data);
  const all = convActivations(data, [2, 3, 2, 2], { mode: "flatten" });
  assert.equal(all.datapoints, 8);
  assert.deepEqual(Array.from(all.data).slice(0, 3), [0, 4, 8]);
});
