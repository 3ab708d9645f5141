// SqueezeNet 1.1 against torchvision's squeezenet1_1 (fixtures/golden/squeezenet.json, made by
// scripts/golden_squeezenet.py): state_dict names and shapes, forward logits with filled weights (inference
// graph and the training engine's eval graph, ceil-mode pools with partial windows included), the vendored
// ImageNet weights' logits, and `predict --keep-head` on a folder of generated photos giving torchvision's
// ImageNet classes. Also the ceil-mode MaxPool gradient at a SqueezeNet-like odd size, both formulations.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as ort from "npm:onnxruntime-node@1.30.0";
import sharp from "npm:sharp@0.35.5";
import { gradients } from "../../lib/autodiff/mod.ts";
import { Graph } from "../../lib/graph/graph.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { randomInit, transferInit, transfusionInit } from "../../lib/models/init.ts";
import { predictLogits, readInputImages } from "../../lib/train/predict.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import { GraphNet } from "../../lib/train/graph_net.ts";
import { readJson } from "../../lib/util/fs.ts";
import { Rng } from "../../lib/util/random.ts";
import { verifyVendored } from "../../lib/util/vendored.ts";
import { loadWeights } from "../../lib/weights/load.ts";
import { checkGradients } from "../autodiff/fd_util.ts";
import { fill, image } from "./golden_fill.ts";

interface ForwardCase {
  classes: number;
  gain: number;
  input: { shape: number[]; stream: number };
  logits: number[][];
  features_first16: number[][];
}
interface Golden {
  state_dict: { trainable: number; tensors: [string, number[]][] };
  forward: ForwardCase[];
  imagenet: {
    tensors: { stream: number; logits: number[] }[];
    photos: { t: number; size: number; top5: number[]; top5_logits: number[] }[];
  };
}
const golden = await readJson<Golden>(
  new URL("../../fixtures/golden/squeezenet.json", import.meta.url).pathname,
);
const WEIGHTS = new URL("../../vendor/squeezenet1_1-imagenet.safetensors", import.meta.url).pathname;

function maxDiff(want: number[][], got: Float32Array, stride: number): number {
  let m = 0;
  want.forEach((row, n) => row.forEach((v, i) => (m = Math.max(m, Math.abs(v - got[n * stride + i])))));
  return m;
}

function optionsOf(c: ForwardCase) {
  const [n, , h, w] = c.input.shape;
  return c.classes === 1000
    ? { keepHead: true, inputSize: [h, w] as [number, number], batch: n }
    : { classes: c.classes, inputSize: [h, w] as [number, number], batch: n };
}

Deno.test("squeezenet1_1: state_dict names, shapes and parameter count equal torchvision's", () => {
  const s = paramSpecs("squeezenet1_1", { keepHead: true });
  assert.deepEqual(s.params.map((p) => [p.name, p.shape]), golden.state_dict.tensors);
  assert.equal(s.counts.trainable, golden.state_dict.trainable);
  assert.deepEqual(s.head, ["classifier.1.weight", "classifier.1.bias"]);
  // every weight in a stage; the 5-class head replaces classifier.1 only
  assert.equal(s.stages.length, 9);
  const five = paramSpecs("squeezenet1_1", { classes: 5 });
  assert.deepEqual(five.params.find((p) => p.name === "classifier.1.weight")!.shape, [5, 512, 1, 1]);
  assert.throws(() => paramSpecs("squeezenet1_1", { inputSize: 24 }), /must be an integer ≥ 25/);
});

Deno.test("squeezenet1_1: random init is torchvision's (kaiming_uniform convs, N(0, 0.01) head, zero biases)", () => {
  const spec = paramSpecs("squeezenet1_1", { classes: 5, inputSize: 64 });
  const st = randomInit(spec, 3);
  const w = st.get("features.3.expand3x3.weight")!.data as Float32Array;
  const bound = Math.sqrt(6 / (16 * 9));
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w.map(Math.abs)) > 0.9 * bound);
  const head = st.get("classifier.1.weight")!.data as Float32Array;
  const sd = Math.sqrt(head.reduce((a, v) => a + v * v, 0) / head.length);
  assert.ok(sd > 0.008 && sd < 0.012, `head sd ${sd}`);
  assert.ok((st.get("features.0.bias")!.data as Float32Array).every((v) => v === 0));
});

for (const c of golden.forward) {
  const label = `${c.input.shape.join("×")}, ${c.classes} classes`;
  Deno.test(`squeezenet1_1: forward of ${label} matches torchvision within 1e-4 (inference graph)`, async () => {
    const opts = optionsOf(c);
    const state = fill(paramSpecs("squeezenet1_1", opts).params, c.gain);
    const sess = await ort.InferenceSession.create(
      inferenceModel("squeezenet1_1", { ...opts, state, taps: true }),
      { intraOpNumThreads: 2 },
    );
    const out = await sess.run({
      input: new ort.Tensor("float32", image(c.input.stream, c.input.shape), c.input.shape),
    });
    assert.ok(maxDiff(c.logits, out.logits.data as Float32Array, c.classes) < 1e-4);
    // the last Fire module's spatial mean (the features the classifier reads)
    const f = out["tap:features.12"];
    const [n, ch, h, w] = f.dims as number[];
    const fd = f.data as Float32Array, mean = new Float32Array(n * ch);
    for (let i = 0; i < n * ch; i++) {
      let t = 0;
      for (let j = 0; j < h * w; j++) t += fd[i * h * w + j];
      mean[i] = t / (h * w);
    }
    assert.ok(maxDiff(c.features_first16, mean, ch) < 1e-4);
    await sess.release();
  });

  Deno.test(`squeezenet1_1: forward of ${label} through GraphNet (eval) matches torchvision`, async () => {
    const opts = optionsOf(c);
    const state = fill(paramSpecs("squeezenet1_1", opts).params, c.gain);
    const g = new Graph("squeezenet");
    const net = new GraphNet(g, { mode: "eval" });
    const x = g.input("input", "float32", c.input.shape);
    g.output(getModel("squeezenet1_1").build(net, x, opts).logits, "logits");
    const sess = await createSession(g.toBytes(), { threads: 2 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const v of g.inputs) {
      feeds[v.name] = v.name === "input"
        ? feedTensor(v, image(c.input.stream, c.input.shape))
        : feedTensor(v, state.get(v.name)!.data);
    }
    const out = await sess.run(feeds);
    assert.ok(maxDiff(c.logits, out.logits.data as Float32Array, c.classes) < 1e-4);
    await sess.release();
  });
}

/** The golden script's smooth input: a 28² stream ×2, nearest-upsampled to 224². */
function smoothInput(stream: number): Float32Array {
  const small = image(stream, [1, 3, 28, 28]);
  const x = new Float32Array(3 * 224 * 224);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 224; i++) {
      for (let j = 0; j < 224; j++) {
        x[(c * 224 + i) * 224 + j] = 2 * small[(c * 28 + (i >> 3)) * 28 + (j >> 3)];
      }
    }
  }
  return x;
}

Deno.test("squeezenet1_1: the vendored ImageNet weights give torchvision's 1000 logits", async () => {
  assert.ok(await verifyVendored(WEIGHTS), "the weights are listed in vendor/manifest.json");
  const spec = paramSpecs("squeezenet1_1", { keepHead: true });
  const { state } = await loadWeights(WEIGHTS, spec);
  const sess = await ort.InferenceSession.create(inferenceModel("squeezenet1_1", { keepHead: true, state }), {
    intraOpNumThreads: 2,
  });
  for (const t of golden.imagenet.tensors) {
    const out = await sess.run({ input: new ort.Tensor("float32", smoothInput(t.stream), [1, 3, 224, 224]) });
    const got = out.logits.data as Float32Array;
    assert.ok(maxDiff([t.logits], got, 1000) < 2e-3, `stream ${t.stream}`);
    const argmax = (a: ArrayLike<number>) => Array.prototype.indexOf.call(a, Math.max(...Array.from(a)));
    assert.equal(argmax(got), argmax(t.logits));
  }
  await sess.release();
  // the new 5-class head of transfer replaces classifier.1 only; transfusion:1 takes the stem alone
  const five = paramSpecs("squeezenet1_1", { classes: 5, inputSize: 64 });
  const { state: pre } = await loadWeights(
    WEIGHTS,
    paramSpecs("squeezenet1_1", { keepHead: true, inputSize: 64 }),
  );
  const tr = transferInit(pre, five, 0);
  assert.deepEqual(tr.get("features.12.expand3x3.bias")!.data, pre.get("features.12.expand3x3.bias")!.data);
  assert.deepEqual(tr.get("classifier.1.weight")!.shape, [5, 512, 1, 1]);
  const tf = transfusionInit(pre, randomInit(five, 0), 1, five.stages);
  assert.deepEqual(tf.get("features.0.weight")!.data, pre.get("features.0.weight")!.data);
  assert.notDeepEqual(tf.get("features.3.squeeze.weight")!.data, pre.get("features.3.squeeze.weight")!.data);
});

/** The golden script's `photo(t)`: an integer formula, so both sides see the same uint8 pixels. */
function photo(t: number, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      for (let c = 0; c < 3; c++) {
        px[(i * size + j) * 3 + c] =
          (i * (3 + t) + j * (5 + 2 * t) + c * 40 * (t + 1) + ((i * j) >> (t + 2))) & 255;
      }
    }
  }
  return px;
}

Deno.test("squeezenet1_1: predict --keep-head on a folder of photos gives torchvision's ImageNet classes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const p of golden.imagenet.photos) {
      await sharp(photo(p.t, p.size), { raw: { width: p.size, height: p.size, channels: 3 } })
        .png().toFile(join(dir, `photo${p.t}.png`));
    }
    const size = golden.imagenet.photos[0].size;
    const input = await readInputImages(dir, size, "none");
    const { logits, classes } = await predictLogits(
      { model: "squeezenet1_1", weights: WEIGHTS, keepHead: true, threads: 2 },
      input,
    );
    assert.equal(classes, 1000);
    golden.imagenet.photos.forEach((p, n) => {
      const row = Array.from(logits.subarray(n * 1000, (n + 1) * 1000));
      const top5 = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5).map((e) => e[1]);
      assert.deepEqual(top5, p.top5, `photo ${p.t}`);
      p.top5_logits.forEach((v, k) =>
        assert.ok(Math.abs(row[p.top5[k]] - v) < 1e-3, `photo ${p.t} top ${k}`)
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// SqueezeNet's pools are 3×3/2 with ceil_mode: at odd sizes the last window hangs over the edge
Deno.test("squeezenet1_1: ceil-mode MaxPool gradient matches finite differences at 18×22", () =>
  checkGradients({
    name: "maxpool ceil 18x22",
    dtype: "float64",
    inputs: [{ name: "x", shape: [1, 2, 18, 22], separated: true }],
    build: (g, v) => g.op.MaxPool(v.x, { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
    eps: 1e-4,
    rtol: 1e-6,
  }).then(() => {}));

Deno.test("squeezenet1_1: ceil-mode MaxPool windows backward equals the Indices backward at 18×22", async () => {
  const rng = new Rng("ceil");
  const x = Float32Array.from({ length: 2 * 18 * 22 }, () => Math.max(0, Math.round(rng.normal() * 2) / 2));
  const run = async (maxPool: "indices" | "windows") => {
    const g = new Graph();
    const xv = g.input("x", "float32", [1, 2, 18, 22]);
    const y = g.op.MaxPool(xv, { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
    assert.deepEqual(y.shape, [1, 2, 9, 11]);
    const w = g.constant(
      Float32Array.from({ length: 2 * 9 * 11 }, (_, i) => Math.sin(i)),
      "float32",
      y.shape,
    );
    const loss = g.op.ReduceSum(g.op.Mul(y, w), undefined, { keepdims: 0 });
    g.output(gradients(g, loss, [xv], { maxPool }).get("x")!, "dx");
    const s = await createSession(g.toBytes(), { threads: 1 });
    const out = await s.run({ x: new ort.Tensor("float32", x, [1, 2, 18, 22]) });
    await s.release();
    return out.dx.data as Float32Array;
  };
  const a = await run("indices"), b = await run("windows");
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `element ${i}`);
});

Deno.test("squeezenet1_1: training applies torchvision's Dropout(0.5) before the classifier", async () => {
  const def = getModel("squeezenet1_1");
  const spec = paramSpecs("squeezenet1_1", { classes: 5, inputSize: 64 });
  const rng = new Rng("squeezenet dropout");
  const x = Float32Array.from({ length: 2 * 3 * 64 * 64 }, () => rng.normal());
  const y = Int32Array.of(1, 3);
  // the same weights and batch under two seeds: only the dropout masks differ
  const loss = async (seed: number) => {
    const t = await Trainer.create((net, v) => def.build(net, v, { classes: 5 }), randomInit(spec, 0), {
      batch: 2,
      size: 64,
      threads: 1,
      seed,
    });
    try {
      // one mask, over the last fire module's 512 channels, dropping half
      const masks = t.trainGraph.masks;
      assert.deepEqual(masks.map((m) => [m.shape.slice(0, 2), m.p]), [[[2, 512], 0.5]]);
      return (await t.step(x, y)).loss;
    } finally {
      await t.release();
    }
  };
  const [a, b, a2] = [await loss(1), await loss(2), await loss(1)];
  assert.equal(a, a2, "one seed, one mask");
  assert.notEqual(a, b, "another seed drops other units");
});
