import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { readJson } from "../../lib/util/fs.ts";
import { getModel, paramSpecs, type SpecOptions } from "../../lib/models/registry.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { fill, image } from "./golden_fill.ts";
import { GraphNet } from "../../lib/train/graph_net.ts";
import { Graph } from "../../lib/graph/graph.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";

interface Case {
  name: string;
  gain: number;
  input: { shape: number[]; stream: number };
  transformInput?: boolean;
  classes?: number;
  logits: number[][];
  pool_first16: number[][];
}
const golden = await readJson<{ cases: Case[] }>(
  new URL("../../fixtures/golden/models_forward.json", import.meta.url).pathname,
);

function options(c: Case): SpecOptions {
  const [n, , h, w] = c.input.shape;
  return {
    keepHead: c.classes === undefined,
    classes: c.classes,
    transformInput: c.transformInput,
    aux: c.name === "inception_v3" ? true : undefined,
    inputSize: [h, w],
    batch: n,
  };
}

function maxDiff(want: number[][], got: Float32Array, stride: number): number {
  let m = 0;
  want.forEach((row, n) => row.forEach((v, i) => (m = Math.max(m, Math.abs(v - got[n * stride + i])))));
  return m;
}

for (const c of golden.cases) {
  const label = `${c.name} ${c.input.shape.join("×")}${c.transformInput ? " transform_input" : ""}`;
  Deno.test(`forward of ${label} matches torchvision within 1e-4 (inference graph)`, async () => {
    const opts = options(c);
    const state = fill(paramSpecs(c.name, opts).params, c.gain);
    const sess = await ort.InferenceSession.create(inferenceModel(c.name, { ...opts, state, taps: true }), {
      intraOpNumThreads: 2,
    });
    const out = await sess.run({
      input: new ort.Tensor("float32", image(c.input.stream, c.input.shape), c.input.shape),
    });
    const classes = c.logits[0].length;
    assert.ok(maxDiff(c.logits, out.logits.data as Float32Array, classes) < 1e-4);
    const pool = out["tap:pool"].data as Float32Array;
    assert.ok(maxDiff(c.pool_first16, pool, pool.length / c.input.shape[0]) < 1e-4);
    await sess.release();
  });
}

// The training engine's evaluation graph must give the same numbers.
for (const c of golden.cases.filter((c) => c.input.shape[2] <= 299)) {
  const label = `${c.name} ${c.input.shape.join("×")}${c.transformInput ? " transform_input" : ""}`;
  Deno.test(`forward of ${label} through GraphNet (eval) matches torchvision`, async () => {
    const opts = options(c);
    const state = fill(paramSpecs(c.name, opts).params, c.gain);
    const g = new Graph(c.name);
    const net = new GraphNet(g, { mode: "eval" });
    const x = g.input("input", "float32", c.input.shape);
    const { logits } = getModel(c.name).build(net, x, opts);
    g.output(logits, "logits");
    const sess = await createSession(g.toBytes(), { threads: 2 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const v of g.inputs) {
      feeds[v.name] = v.name === "input"
        ? feedTensor(v, image(c.input.stream, c.input.shape))
        : feedTensor(v, state.get(v.name)!.data);
    }
    const out = await sess.run(feeds);
    assert.ok(maxDiff(c.logits, out.logits.data as Float32Array, c.logits[0].length) < 1e-4);
    await sess.release();
  });
}
