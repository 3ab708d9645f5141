// The WebAssembly Adam (lib/optim/adam.wat) computes exactly torch.optim.Adam's float32 arithmetic, element
// for element, across chunk and SIMD-lane boundaries; and its binary is the one adam.wat compiles to.
import assert from "node:assert/strict";
import { Adam, adamScalars, PARALLEL_MIN_ELEMENTS } from "../../lib/optim/mod.ts";
import { wasmModule, watToWasm } from "../../scripts/build_wasm.ts";
import { Rng } from "../../lib/util/random.ts";
import { assertSameElements } from "../compare.ts";

Deno.test("adam: lib/optim/adam_wasm.ts is what scripts/build_wasm.ts builds from adam.wat", async () => {
  const dir = new URL("../../lib/optim/", import.meta.url);
  const wasm = await watToWasm("adam.wat", await Deno.readTextFile(new URL("adam.wat", dir)));
  assert.equal(
    await Deno.readTextFile(new URL("adam_wasm.ts", dir)),
    wasmModule(wasm),
    "adam.wat changed: run deno run --allow-read --allow-write scripts/build_wasm.ts",
  );
});

/** torch's single-tensor Adam step in float32, one rounding per operation (float64 then Math.fround is exact). */
function reference(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  t: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): void {
  const f = Math.fround;
  const { stepSize, bc2Sqrt } = adamScalars(t, o);
  const [b1, c1, b2, c2, wd, step, bc2, eps] = [o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, o.weightDecay]
    .concat([stepSize, bc2Sqrt, o.eps]).map(f);
  for (let i = 0; i < p.length; i++) {
    const gi = wd === 0 ? g[i] : f(g[i] + f(wd * p[i]));
    m[i] = f(f(b1 * m[i]) + f(c1 * gi));
    v[i] = f(f(b2 * v[i]) + f(f(c2 * gi) * gi));
    const denom = f(f(f(Math.sqrt(v[i])) / bc2) + eps);
    p[i] = f(p[i] - f(step * f(m[i] / denom)));
  }
}

Deno.test("adam: every element equals torch's float32 arithmetic (chunk and lane edges, weight decay)", () => {
  const rng = new Rng("adam wasm");
  // 16384 values per chunk, 4 per SIMD lane
  const sizes = [1, 3, 4, 5, 16383, 16384, 16385, 40003];
  for (const weightDecay of [0, 0.01]) {
    const o = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay };
    const adam = new Adam(o);
    const p = new Map(sizes.map((n) => [`p${n}`, Float32Array.from({ length: n }, () => rng.normal())]));
    const want = new Map([...p].map(([k, a]) => [k, a.slice()]));
    const mv = new Map([...p].map(([k, a]) => [k, [new Float32Array(a.length), new Float32Array(a.length)]]));
    for (let t = 1; t <= 3; t++) {
      const grads = new Map([...p].map(([k, a]) => [k, Float32Array.from(a, () => rng.normal() * 1e-2)]));
      adam.step(p, grads);
      for (const [k, a] of want) reference(a, grads.get(k)!, mv.get(k)![0], mv.get(k)![1], t, o);
    }
    for (const [k, a] of p) {
      assertSameElements(a, want.get(k), `${k}, weight decay ${weightDecay}: parameters`);
      assertSameElements(adam.state.m.get(k), mv.get(k)![0], `${k}: first moment`);
      assertSameElements(adam.state.v.get(k), mv.get(k)![1], `${k}: second moment`);
    }
  }
});

Deno.test("adam: without weight decay an infinite parameter does not turn its gradient into NaN", () => {
  const p = new Map([["w", Float32Array.of(Infinity, 1, 2, 3, 4)]]);
  new Adam({ lr: 0.1 }).step(p, new Map([["w", Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5)]]));
  assert.deepEqual([...p.get("w")!].map((x) => Math.round(x * 1e4) / 1e4), [Infinity, 0.9, 1.9, 2.9, 3.9]);
});

Deno.test("adam: stepAsync (a worker thread takes the larger tensors) equals step bit for bit", async () => {
  const rng = new Rng("adam async");
  // above PARALLEL_MIN_ELEMENTS in all, odd sizes across chunk and lane edges
  const sizes = [700_001, 400_003, 16385, 5, 1];
  assert.ok(sizes.reduce((a, b) => a + b) >= PARALLEL_MIN_ELEMENTS);
  const init = new Map(sizes.map((n) => [`p${n}`, Float32Array.from({ length: n }, () => rng.normal())]));
  const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, a]) => [k, a.slice()]));
  const pSync = copy(init), pAsync = copy(init);
  const sync = new Adam({ lr: 3e-3 }), parallel = new Adam({ lr: 3e-3 });
  try {
    for (let t = 1; t <= 3; t++) {
      const grads = new Map([...init].map(([k, a]) => [k, Float32Array.from(a, () => rng.normal() * 1e-2)]));
      const held = copy(grads);
      sync.step(pSync, grads);
      // a stopped worker (closed, or idle for a minute) is started again by the next step
      if (t === 2) parallel.close();
      await parallel.stepAsync(pAsync, held);
      // the worker's share came back: its gradients were handed over
      assert.ok([...held.values()].some((g) => g.buffer.byteLength === 0), "no tensor went to the worker");
    }
    assert.equal(parallel.state.step, 3);
    for (const [k, a] of pSync) {
      assertSameElements(pAsync.get(k), a, `${k}: parameters`);
      assertSameElements(parallel.state.m.get(k), sync.state.m.get(k), `${k}: first moment`);
      assertSameElements(parallel.state.v.get(k), sync.state.v.get(k), `${k}: second moment`);
    }
  } finally {
    parallel.close();
  }
});

Deno.test("adam: stepAsync with weight decay (≥ 1 M parameters) equals step bit for bit", async () => {
  // step is torch's arithmetic with weight decay, element for element (above, and golden_optim's adam_wd)
  const rng = new Rng("adam async decay");
  const sizes = [700_001, 400_003, 16385, 5];
  assert.ok(sizes.reduce((a, b) => a + b) >= PARALLEL_MIN_ELEMENTS);
  const init = new Map(sizes.map((n) => [`p${n}`, Float32Array.from({ length: n }, () => rng.normal())]));
  const copy = (m: Map<string, Float32Array>) => new Map([...m].map(([k, a]) => [k, a.slice()]));
  const pSync = copy(init), pAsync = copy(init);
  const o = { lr: 3e-3, weightDecay: 0.05 };
  const sync = new Adam(o), parallel = new Adam(o);
  try {
    for (let t = 1; t <= 2; t++) {
      const grads = new Map([...init].map(([k, a]) => [k, Float32Array.from(a, () => rng.normal() * 1e-2)]));
      const held = copy(grads);
      sync.step(pSync, grads);
      await parallel.stepAsync(pAsync, held);
    }
    assert.equal(parallel.state.step, 2);
    for (const [k, a] of pSync) {
      assertSameElements(pAsync.get(k), a, `${k}: parameters`);
      assertSameElements(parallel.state.m.get(k), sync.state.m.get(k), `${k}: first moment`);
      assertSameElements(parallel.state.v.get(k), sync.state.v.get(k), `${k}: second moment`);
    }
  } finally {
    parallel.close();
  }
});
