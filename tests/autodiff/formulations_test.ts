// The MaxPool backward without Indices (for WebGPU) must give the Indices formulation's gradient exactly,
// ties included (ReLU outputs are full of equal zeros; the first maximum in scan order takes the gradient).
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { gradients } from "../../lib/autodiff/mod.ts";
import { convCandidates, type ConvChoice } from "../../lib/graph/conv_plan.ts";
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
  windowChunkBytes?: number,
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
  g.output(gradients(g, loss, [xv], { maxPool, windowChunkBytes }).get("x")!, "dx");
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
    // one sample at a time: the batch-chunked windows backward (a GPU buffer limit) changes nothing
    const b1 = await grad(c, "windows", x, w, 1);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(a.dx[i] - b.dx[i]) < 1e-5, `element ${i}: ${a.dx[i]} vs ${b.dx[i]}`);
      assert.equal(b1.dx[i], b.dx[i], `chunked, element ${i}`);
    }
  });
}

const CONVS: { x: number[]; w: number[]; s: number[]; p: number[] }[] = [
  { x: [2, 3, 9, 9], w: [4, 3, 3, 3], s: [2, 2], p: [1, 1, 1, 1] },
  { x: [2, 2, 8, 8], w: [3, 2, 7, 7], s: [1, 1], p: [3, 3, 3, 3] },
  { x: [1, 2, 7, 8], w: [3, 2, 1, 7], s: [1, 1], p: [0, 3, 0, 3] },
  { x: [2, 2, 10, 9], w: [5, 2, 3, 3], s: [2, 2], p: [0, 0, 0, 0] },
  { x: [2, 3, 9, 9], w: [2, 3, 5, 5], s: [2, 2], p: [2, 1, 2, 1] },
];

for (const c of CONVS) {
  Deno.test(`conv dW by strided-slice im2col, by Gemm and in row bands = by grouped-Conv im2col: x ${c.x} w ${c.w} s ${c.s} p ${c.p}`, async () => {
    const rng = new Rng(`${c.x}:${c.w}`);
    const run = async (im2col: "conv" | "slices", convWeight: "batched" | "gemm", dwChunkBytes?: number) => {
      const g = new Graph();
      const x = g.input("x", "float32", c.x), w = g.input("w", "float32", c.w);
      const y = g.op.Conv(x, w, undefined, { strides: c.s, pads: c.p });
      const r = g.constant(
        Float32Array.from({ length: y.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
        "float32",
        y.shape,
      );
      const loss = g.op.ReduceSum(g.op.Mul(y, r), undefined, { keepdims: 0 });
      g.output(gradients(g, loss, [w], { im2col, convWeight, dwChunkBytes }).get("w")!, "dw");
      const s = await createSession(g.toBytes(), { threads: 1 });
      const feeds = {
        x: new ort.Tensor("float32", xs, c.x),
        w: new ort.Tensor("float32", ws, c.w),
      };
      const out = (await s.run(feeds)).dw.data as Float32Array;
      await s.release();
      return out;
    };
    const xs = Float32Array.from({ length: c.x.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const ws = Float32Array.from({ length: c.w.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const ref = await run("conv", "batched");
    // a 1-byte limit puts every sample and every output row in its own im2col buffer (the large-image path)
    const variants = [["slices", "batched"], ["slices", "gemm"], ["conv", "gemm"], ["conv", "batched", 1], [
      "slices",
      "batched",
      1,
    ]] as const;
    for (const [im2col, cw, limit] of variants) {
      const got = await run(im2col, cw, limit);
      for (let i = 0; i < ref.length; i++) {
        const what = `${im2col}/${cw}${limit ? " in row bands" : ""} element ${i}`;
        assert.ok(Math.abs(got[i] - ref[i]) < 1e-4 * (1 + Math.abs(ref[i])), what);
      }
    }
  });
}

// Every measured-choice formulation of a conv's dX and dW (bench/tune.ts times them per shape) must
// equal the default rule's gradient within float rounding.
const CHOICE_CONVS: { x: number[]; w: number[]; s: number[]; p: number[] }[] = [
  ...CONVS,
  { x: [3, 4, 4, 4], w: [6, 4, 7, 7], s: [1, 1], p: [3, 3, 3, 3] }, // CBR-Small's last block at 28²: k > H
  { x: [2, 5, 6, 6], w: [3, 5, 1, 1], s: [1, 1], p: [0, 0, 0, 0] }, // 1×1
  { x: [2, 4, 7, 7], w: [3, 4, 1, 1], s: [2, 2], p: [0, 0, 0, 0] }, // 1×1 stride 2 (ResNet downsample)
  { x: [2, 4, 1, 1], w: [3, 4, 3, 3], s: [1, 1], p: [1, 1, 1, 1] }, // ResNet-50's layer4 at 28²: cropped
  { x: [2, 2, 2, 2], w: [3, 2, 5, 5], s: [2, 2], p: [2, 2, 2, 2] }, // cropped, strided
];

for (const c of CHOICE_CONVS) {
  Deno.test(`conv dX / dW by every tunable formulation = default rules: x ${c.x} w ${c.w} s ${c.s} p ${c.p}`, async () => {
    const rng = new Rng(`choice:${c.x}:${c.w}`);
    const xs = Float32Array.from({ length: c.x.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const ws = Float32Array.from({ length: c.w.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const run = async (choice: ConvChoice, convCrop?: boolean) => {
      const g = new Graph();
      const x = g.input("x", "float32", c.x), w = g.input("w", "float32", c.w);
      const y = g.op.Conv(x, w, undefined, { strides: c.s, pads: c.p });
      const r = g.constant(
        Float32Array.from({ length: y.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
        "float32",
        y.shape,
      );
      const loss = g.op.ReduceSum(g.op.Mul(y, r), undefined, { keepdims: 0 });
      const got = gradients(g, loss, [x, w], { convChoice: () => choice, convCrop });
      g.output(got.get("x")!, "dx");
      g.output(got.get("w")!, "dw");
      const s = await createSession(g.toBytes(), { threads: 1 });
      const out = await s.run({
        x: new ort.Tensor("float32", xs, c.x),
        w: new ort.Tensor("float32", ws, c.w),
      });
      await s.release();
      return { dx: out.dx.data as Float32Array, dw: out.dw.data as Float32Array };
    };
    const ref = await run({});
    // the kernel cropped to the taps that meet pixels (default) = the full kernel
    const full = await run({}, false);
    for (const k of ["dx", "dw"] as const) {
      for (let i = 0; i < ref[k].length; i++) {
        assert.ok(Math.abs(full[k][i] - ref[k][i]) < 1e-4 * (1 + Math.abs(ref[k][i])), `uncropped ${k} ${i}`);
      }
    }
    const sig = { x: c.x, w: c.w, s: c.s, p: c.p, dtype: "float32" };
    const cands = convCandidates(sig);
    for (const dx of cands.dx) {
      for (const dw of cands.dw) {
        const got = await run({ dx, dw });
        for (const k of ["dx", "dw"] as const) {
          for (let i = 0; i < ref[k].length; i++) {
            const what = `${dx}/${dw} ${k} element ${i}: ${got[k][i]} vs ${ref[k][i]}`;
            assert.ok(Math.abs(got[k][i] - ref[k][i]) < 1e-4 * (1 + Math.abs(ref[k][i])), what);
          }
        }
      }
    }
  });
}
