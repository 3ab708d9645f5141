// The CPU lowering (lib/graph/nchwc.ts) must compute what the plain Convs compute: forward convs of every
// eligible kind, the gradients with the dW-by-Conv default it enables, the dense small-map conv, and a whole
// training step of real models. Skipped, saying why, only where this processor has no blocked kernels (the
// dense conv's test needs none).
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import onnxProto from "npm:onnx-proto@8.0.1";
import { gradients } from "../../lib/autodiff/mod.ts";
import { createSession, Graph, swapApplies } from "../../lib/graph/mod.ts";
import { cpuPasses, NCHWC_DOMAIN } from "../../lib/graph/nchwc.ts";
import { backendFor, nchwcBlockSize } from "../../lib/train/backend.ts";
import { serializeGraph } from "../../lib/graph/serialize.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { buildTrainGraph, type ModelFn } from "../../lib/train/step.ts";
import { denseConv, swappedConv } from "../../lib/train/graph_net.ts";
import { Rng } from "../../lib/util/random.ts";
import { l2Err, relErr } from "../compare.ts";

/**
 * The block onnxruntime itself uses: its own rewrite of a Conv with a constant weight (index values)
 * reorders the filter to [M/B, C/B, kh, kw, Bi, Bo], where W[0, 1] (value 1) lands at position B. 0: no
 * rewrite, no blocked kernels.
 */
async function onnxruntimeBlock(): Promise<number> {
  const g = new Graph("ort_block");
  const w = g.initializer(
    "w",
    "float32",
    [64, 64, 1, 1],
    Float32Array.from({ length: 64 * 64 }, (_, i) => i),
  );
  g.output(g.op.Conv(g.input("x", "float32", [1, 64, 2, 2]), w), "y");
  const dir = await Deno.makeTempDir();
  try {
    await ort.InferenceSession.create(g.toBytes(), {
      graphOptimizationLevel: "all",
      optimizedModelFilePath: `${dir}/opt.onnx`,
      logSeverityLevel: 3,
    });
    const m = onnxProto.onnx.ModelProto.decode(await Deno.readFile(`${dir}/opt.onnx`));
    if (!m.graph!.node!.some((n) => n.domain === NCHWC_DOMAIN)) return 0;
    const raw = m.graph!.initializer!.find((t) => t.rawData && t.rawData.byteLength === 64 * 64 * 4)!
      .rawData!;
    const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    return f.indexOf(1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const block = await nchwcBlockSize();
const expected = await onnxruntimeBlock();
const ignore = expected === 0;
if (ignore) {
  console.log("nchwc tests skipped: onnxruntime has no blocked-channel Conv kernels on this processor");
}

Deno.test("nchwc: the probed block is the one onnxruntime's own rewrite uses (0 where it has none)", () => {
  // a lowering that computes wrong values makes the probe answer 0, which must not pass for "no kernels"
  assert.equal(block, expected);
});

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function domains(bytes: Uint8Array): Map<string, number> {
  const c = new Map<string, number>();
  for (const n of onnxProto.onnx.ModelProto.decode(bytes).graph!.node!) {
    // the lowering's filter transposes by an identity are told apart from the folded convs' products
    const filter = n.opType === "MatMul" && n.name!.includes("/nchwc_") ? "(filter)" : "";
    const k = `${n.domain ? n.domain + ":" : ""}${n.opType}${filter}`;
    c.set(k, (c.get(k) ?? 0) + 1);
  }
  return c;
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const s = await createSession(bytes, { threads: 2 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

Deno.test({
  name:
    "nchwc: lowered and folded convs equal the plain ones; other 1×1, grouped, odd-channel convs stay plain",
  ignore,
  async fn() {
    const B = block;
    const rng = new Rng("nchwc forward");
    const g = new Graph();
    const x = g.input("x", "float32", [3, 3, 13, 11]);
    const inputs: Record<string, number[]> = { x: [3, 3, 13, 11] };
    const weight = (name: string, shape: number[]) => {
      inputs[name] = shape;
      return g.input(name, "float32", shape);
    };
    // the first conv reads the plain image (C < block); asymmetric pads, bias
    const b1 = weight("b1", [2 * B]);
    const h = g.op.Conv(x, weight("w1", [2 * B, 3, 7, 7]), b1, { pads: [3, 2, 1, 3] });
    // one input feeding two convs (one ReorderInput), stride 2, non-square kernels (Inception's 1×7 / 7×1)
    const a = g.op.Conv(h, weight("w2", [B, 2 * B, 3, 3]), undefined, {
      strides: [2, 2],
      pads: [1, 1, 1, 1],
    });
    const c = g.op.Conv(h, weight("w3", [B, 2 * B, 1, 7]), undefined, { pads: [0, 3, 0, 3] });
    const d = g.op.Conv(c, weight("w4", [B, B, 7, 1]), undefined, { pads: [3, 0, 3, 0] });
    // not lowered: 1×1, output channels off the block, grouped
    const e = g.op.Conv(d, weight("w5", [B, B, 1, 1]));
    const f = g.op.Conv(e, weight("w6", [5, B, 3, 3]), undefined, { pads: [1, 1, 1, 1] });
    const q = g.op.Conv(e, weight("w7", [B, 1, 3, 3]), undefined, { pads: [1, 1, 1, 1], group: B });
    // folded into one GEMM over the batch: 1×1 onto ≤ 4 output pixels (strided, with bias; and unit stride)
    const p1 = g.op.Conv(a, weight("w8", [5, B, 1, 1]), weight("b8", [5]), { strides: [3, 4] });
    const p2 = g.op.Conv(g.op.Slice(a, [0, 0], [2, 2], [2, 3]), weight("w9", [7, B, 1, 1]));
    const outs = [[a, "a"], [d, "d"], [f, "f"], [q, "q"], [p1, "p1"], [p2, "p2"]] as const;
    for (const [v, n] of outs) g.output(v, n);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, shape] of Object.entries(inputs)) {
      feeds[name] = new ort.Tensor(
        "float32",
        Float32Array.from({ length: numel(shape) }, () => rng.normal()),
        shape,
      );
    }
    const lowered = g.toBytes({ passes: cpuPasses(B) });
    const ops = domains(lowered);
    assert.equal(ops.get(`${NCHWC_DOMAIN}:Conv`), 4);
    assert.equal(ops.get(`${NCHWC_DOMAIN}:ReorderInput`), 2, "h is reordered once for its two convs");
    assert.equal(ops.get("Conv"), 3);
    assert.equal(ops.get("MatMul"), 2, "the two 1×1 convs on ≤ 4 pixels are folded");
    assert.equal(ops.get("MatMul(filter)"), 4, "each lowered filter moves its block innermost by a product");
    // padded left and right first: the 7×7 on the plain image and the 1×7 on the blocked h (not the 7×1)
    assert.equal(ops.get("Pad"), 2);
    assert.deepEqual([p1.shape, p2.shape], [[3, 5, 2, 2], [3, 7, 2, 2]]);
    // with a symbolic batch axis nothing may bake the batch size in: the 1×1 convs stay Convs
    const symbolic = domains(serializeGraph(g, 17, { passes: cpuPasses(B), dynamicBatch: ["x"] }));
    assert.equal(symbolic.get("MatMul"), undefined);
    assert.equal(symbolic.get(`${NCHWC_DOMAIN}:Conv`), 4);
    const want = await run(g.toBytes(), feeds), got = await run(lowered, feeds);
    for (const [, n] of outs) {
      // float32 with another summation order: measured 1e-7 relative
      const err = relErr(got[n].data as Float32Array, want[n].data as Float32Array);
      assert.ok(err < 1e-5, `${n}: relative error ${err}`);
    }
    // a symbolic batch axis runs another batch size, padded-width convs included
    const dyn = ["x", ...outs.map(([, n]) => n)];
    const five = {
      ...feeds,
      x: new ort.Tensor("float32", Float32Array.from({ length: 5 * 3 * 13 * 11 }, () => rng.normal()), [
        5,
        3,
        13,
        11,
      ]),
    };
    const want5 = await run(serializeGraph(g, 17, { dynamicBatch: dyn }), five);
    const got5 = await run(serializeGraph(g, 17, { passes: cpuPasses(B), dynamicBatch: dyn }), five);
    for (const n of ["a", "d", "f", "q"]) {
      assert.equal(got5[n].dims[0], 5);
      const err = relErr(got5[n].data as Float32Array, want5[n].data as Float32Array);
      assert.ok(err < 1e-5, `${n}, batch 5: relative error ${err}`);
    }
  },
});

Deno.test({
  name: "nchwc: gradients with the lowering (dW by a blocked Conv on small maps) equal the plain rules",
  ignore,
  async fn() {
    const B = block;
    // CBR-Small's last block at 28² (k > map), a 3×3 on 8×8, the first conv (C < block, batch < block)
    const cases: { x: number[]; w: number[]; p: number; lowered?: number }[] = [
      { x: [B, B, 4, 4], w: [2 * B, B, 7, 7], p: 3 },
      { x: [2 * B, B, 8, 8], w: [B, B, 3, 3], p: 1 },
      { x: [3, 3, 9, 9], w: [B, 3, 5, 5], p: 2 },
      // maps above 16×16 with 25+ taps: dW in 16×16 tiles, edge tiles narrower, each with its share of padding
      { x: [B, B, 20, 19], w: [B, B, 5, 5], p: 2 },
      { x: [B, 3, 18, 33], w: [B, 3, 7, 7], p: 3 },
      // fewer output channels than the block: only dX (B outputs, 3 inputs) is lowered, its filter OIHWBo
      { x: [2, B, 6, 7], w: [3, B, 3, 3], p: 1, lowered: 1 },
    ];
    for (const c of cases) {
      const rng = new Rng(`nchwc grad ${c.x}`);
      const xs = Float32Array.from({ length: numel(c.x) }, () => rng.normal());
      const ws = Float32Array.from({ length: numel(c.w) }, () => rng.normal());
      const build = (block: number) => {
        const g = new Graph();
        const x = g.input("x", "float32", c.x), w = g.input("w", "float32", c.w);
        const y = g.op.Conv(x, w, undefined, { pads: [c.p, c.p, c.p, c.p] });
        const r = g.constant(
          Float32Array.from({ length: numel(y.shape) }, (_, i) => Math.sin(i)),
          "float32",
          y.shape,
        );
        const loss = g.op.ReduceSum(g.op.Mul(y, r), undefined, { keepdims: 0 });
        const got = gradients(g, loss, [x, w], { block });
        // kept as an output so that the forward conv is not pruned: the count below is forward + dW
        g.output(loss, "loss");
        g.output(got.get("x")!, "dx");
        g.output(got.get("w")!, "dw");
        return g.toBytes({ passes: cpuPasses(block) });
      };
      const feeds = { x: new ort.Tensor("float32", xs, c.x), w: new ort.Tensor("float32", ws, c.w) };
      const lowered = build(B);
      // the weight gradient went by the batch-transposed Conv, itself lowered (and the forward conv)
      const convs = domains(lowered).get(`${NCHWC_DOMAIN}:Conv`) ?? 0;
      assert.ok(convs >= (c.lowered ?? 2), `x ${c.x}: ${convs} lowered convs`);
      const want = await run(build(0), feeds), got = await run(lowered, feeds);
      for (const k of ["dx", "dw"]) {
        const err = relErr(got[k].data as Float32Array, want[k].data as Float32Array);
        assert.ok(err < 1e-5, `x ${c.x} ${k}: relative error ${err}`);
      }
    }
  },
});

// ResNet-50 at 28²: its 3×3 convs on 2×2 and 1×1 maps (dense, swapped, cropped taps) and folded 1×1 convs;
// Inception-v3 at 75²: the 1×7 / 7×1 convs (padded width) and strided 3×3 reductions
const STEP_CASES = [["cbr_small", 28], ["squeezenet1_1", 32], ["resnet50", 28], [
  "inception_v3",
  75,
]] as const;
for (const [model, size] of STEP_CASES) {
  Deno.test({
    name: `nchwc: a ${model} training step at ${size}² lowered equals the plain one (loss, every gradient)`,
    ignore,
    async fn() {
      const def = getModel(model), mopts = { classes: 5, aux: false, transformInput: false };
      const fn: ModelFn = (net, x) => def.build(net, x, mopts);
      const batch = 16, shape = [batch, 3, size, size];
      const state = randomInit(paramSpecs(model, { ...mopts, inputSize: size }), 3);
      const rng = new Rng("nchwc step");
      const x = Float32Array.from({ length: numel(shape) }, () => rng.normal());
      const step = async (block: number, xin = x) => {
        const tg = buildTrainGraph(fn, { batch, size }, { backend: backendFor("cpu", block) });
        const feeds: Record<string, ort.Tensor> = {};
        for (const k of [...tg.params, ...tg.buffers]) {
          const t = state.get(k)!;
          feeds[k] = new ort.Tensor("float32", t.data as Float32Array, t.shape);
        }
        feeds[tg.input] = new ort.Tensor("float32", xin, shape);
        for (const m of tg.masks) {
          feeds[m.name] = new ort.Tensor("float32", new Float32Array(numel(m.shape)).fill(2), m.shape);
        }
        feeds[tg.labels] = new ort.Tensor(
          "int64",
          BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 5)),
          [
            batch,
          ],
        );
        return {
          tg,
          out: await run(tg.bytes, feeds),
          lowered: domains(tg.bytes).get(`${NCHWC_DOMAIN}:Conv`) ?? 0,
        };
      };
      const plain = await step(0), low = await step(block);
      assert.ok(low.lowered > 0, "nothing was lowered");
      // How far float32 rounding alone moves the plain step: the input changed by ~1e-7 of itself. ResNet-50's
      // and Inception-v3's BN gradients at random init move by ~3.5 % under it (sums of near-cancelling
      // terms through 50 layers of batch statistics), so each value is held to a few times its own jitter,
      // and no less strictly than 1e-5 (loss, logits) and 5e-3 (gradients); a wrong layout or padding gives
      // errors of order 1 (the jitter itself is held under 0.1 so that the bound stays tight)
      const jit = await step(0, x.map((v, i) => v * (1 + 1e-7 * Math.sin(i))));
      const out = (r: typeof plain, name: string) => r.out[name].data as Float32Array;
      const close = (name: string, floor: number, err: typeof relErr) => {
        const jitter = err(out(jit, name), out(plain, name)), got = err(out(low, name), out(plain, name));
        assert.ok(jitter < 0.1, `${name}: rounding alone moves it by ${jitter}`);
        assert.ok(got < Math.max(floor, 4 * jitter), `${name}: relative error ${got} (rounding: ${jitter})`);
      };
      close(plain.tg.loss, 1e-5, relErr);
      close(plain.tg.logits, 1e-5, relErr);
      // L2-relative: float32 rounding in the forward can flip a MaxPool's arg-max between two near-equal
      // values, which moves one gradient element and, through BN, its channel (CBR-Small: 7e-4 below the
      // flipped pool, 1e-6 above it)
      for (const o of plain.tg.gradOut.values()) close(o, 5e-3, l2Err);
    },
  });
}

Deno.test("small-map convs, dense and swapped (GraphNet with a block), equal Conv: output and the gradients of x, w, b", async () => {
  // dense: a 7×7 kernel on 4×4 (CBR-Small at 28²), 3×3 on 2×2 (ResNet-50's layer3 at 28²), strided, uneven;
  // swapped: 7×7 on 4×4 and 5×5 on 3×2 (padding k − H), blocked batch and channels
  const cases = [
    { x: [3, 5, 4, 4], w: [6, 5, 7, 7], s: [1, 1], p: [3, 3] },
    { x: [2, 4, 2, 2], w: [3, 4, 3, 3], s: [1, 1], p: [1, 1] },
    { x: [2, 3, 3, 3], w: [4, 3, 3, 3], s: [2, 1], p: [1, 0] },
    { x: [16, 16, 4, 4], w: [6, 16, 7, 7], s: [1, 1], p: [3, 3], swap: true },
    { x: [16, 8, 3, 2], w: [5, 8, 5, 5], s: [1, 1], p: [2, 3], swap: true },
  ];
  for (const c of cases) {
    assert.equal(swapApplies(c.x, c.w, c.s, c.p, 16), c.swap === true, `x ${c.x} w ${c.w}: swap applies`);
    const rng = new Rng(`dense ${c.x}`);
    const data = (shape: number[]) => Float32Array.from({ length: numel(shape) }, () => rng.normal());
    const feeds = {
      x: new ort.Tensor("float32", data(c.x), c.x),
      w: new ort.Tensor("float32", data(c.w), c.w),
      b: new ort.Tensor("float32", data([c.w[0]]), [c.w[0]]),
    };
    const build = (dense: boolean) => {
      const g = new Graph();
      const x = g.input("x", "float32", c.x),
        w = g.input("w", "float32", c.w),
        b = g.input("b", "float32", [c.w[0]]);
      const y = dense
        ? (c.swap ? swappedConv(g, x, w, b) : denseConv(g, x, w, b, c.s, c.p))
        : g.op.Conv(x, w, b, { strides: c.s, pads: [c.p[0], c.p[1], c.p[0], c.p[1]] });
      const r = g.constant(
        Float32Array.from({ length: numel(y.shape) }, (_, i) => Math.cos(i)),
        "float32",
        y.shape,
      );
      const grads = gradients(g, g.op.ReduceSum(g.op.Mul(y, r), undefined, { keepdims: 0 }), [x, w, b]);
      g.output(y, "y");
      for (const k of ["x", "w", "b"]) g.output(grads.get(k)!, `d${k}`);
      return g.toBytes();
    };
    const want = await run(build(false), feeds), got = await run(build(true), feeds);
    for (const k of ["y", "dx", "dw", "db"]) {
      const err = relErr(got[k].data as Float32Array, want[k].data as Float32Array);
      assert.ok(err < 1e-5, `x ${c.x} w ${c.w} ${k}: relative error ${err}`);
    }
  }
});
