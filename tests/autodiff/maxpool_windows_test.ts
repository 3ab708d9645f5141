// The MaxPool backward without Indices (for WebGPU) must give the Indices formulation's gradient exactly,
// ties included (ReLU outputs are full of equal zeros; the first maximum in scan order takes the gradient).
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { gradients } from "../../lib/autodiff/mod.ts";
import { createSession, Graph } from "../../lib/graph/mod.ts";
import { Rng } from "../../lib/util/random.ts";

const CASES: { size: [number, number]; k: number; s: number; p: number; ceil?: boolean }[] = [
  { size: [8, 8], k: 3, s: 2, p: 1 }, // ResNet stem
  { size: [7, 9], k: 3, s: 2, p: 1 },
  { size: [9, 9], k: 3, s: 2, p: 0 }, // Inception
  { size: [8, 8], k: 3, s: 2, p: 0 },
  { size: [8, 7], k: 3, s: 2, p: 0, ceil: true },
  { size: [6, 6], k: 2, s: 2, p: 0 },
  { size: [6, 5], k: 3, s: 1, p: 1 },
];

async function grad(
  c: (typeof CASES)[number],
  maxPool: "indices" | "windows",
  x: Float32Array,
  w: Float32Array,
) {
  const g = new Graph();
  const xv = g.input("x", "float32", [2, 3, ...c.size]);
  const y = g.op.MaxPool(xv, {
    kernel_shape: [c.k, c.k],
    strides: [c.s, c.s],
    pads: [c.p, c.p, c.p, c.p],
    ...(c.ceil ? { ceil_mode: 1 } : {}),
  });
  const wv = g.input("w", "float32", y.shape);
  const loss = g.op.ReduceSum(g.op.Mul(y, wv), undefined, { keepdims: 0 });
  g.output(gradients(g, loss, [xv], { maxPool }).get("x")!, "dx");
  const s = await createSession(g.toBytes(), { threads: 1 });
  const out = await s.run({
    x: new ort.Tensor("float32", x, xv.shape as number[]),
    w: new ort.Tensor("float32", w, y.shape as number[]),
  });
  await s.release();
  return { dx: out.dx.data as Float32Array, yShape: y.shape };
}

for (const c of CASES) {
  Deno.test(`maxpool windows backward = indices backward: ${c.size.join("×")} k${c.k} s${c.s} p${c.p}${c.ceil ? " ceil" : ""}`, async () => {
    const rng = new Rng(`${c.size}:${c.k}:${c.p}`);
    const n = 2 * 3 * c.size[0] * c.size[1];
    // a ReLU-like input quantised to few levels: many ties, inside windows and across overlaps
    const x = Float32Array.from({ length: n }, () => Math.max(0, Math.round(rng.normal() * 2) / 2));
    const out = (d: number) => (c.ceil ? Math.ceil : Math.floor)((d + 2 * c.p - c.k) / c.s) + 1;
    const w = Float32Array.from({ length: 2 * 3 * out(c.size[0]) * out(c.size[1]) }, () => rng.normal());
    const a = await grad(c, "indices", x, w), b = await grad(c, "windows", x, w);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(a.dx[i] - b.dx[i]) < 1e-5, `element ${i}: ${a.dx[i]} vs ${b.dx[i]}`);
    }
  });
}
