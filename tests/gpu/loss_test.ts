// The composed cross-entropy of the WebGPU step graph (ReduceMax/Exp/ReduceSum/Log over int32 labels) equals
// the ONNX SoftmaxCrossEntropyLoss op, in value and in every gradient, on the CPU provider; so does the Adam
// graph equal the host Adam (weight decay included). No GPU needed.
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { Graph } from "../../lib/graph/graph.ts";
import { numel } from "../../lib/graph/types.ts";
import { createSession } from "../../lib/graph/session.ts";
import { Adam, adamScalars } from "../../lib/optim/optimizers.ts";
import { appendAdam } from "../../lib/optim/adam_graph.ts";
import { buildTrainGraph } from "../../lib/train/step.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { randomInit } from "../../lib/models/init.ts";
import { Rng } from "../../lib/util/random.ts";
import { cbrNet } from "../train/parity_nets.ts";
import { relErr } from "../compare.ts";

Deno.test("composed cross-entropy equals SoftmaxCrossEntropyLoss: loss, logits and every gradient", async () => {
  const n = 4, size = 16, rng = new Rng(5);
  // large inputs make large logits: the max shift must keep exp in range
  const x = Float32Array.from({ length: n * 3 * size * size }, () => rng.normal() * 30);
  const y = Int32Array.from([0, 4, 2, 2]);
  const outs = [];
  for (const loss of ["onnx", "composed"] as const) {
    const tg = buildTrainGraph(cbrNet, { batch: n, size }, { loss });
    const state = randomInit(tg.specs, 2);
    const s = await createSession(tg.bytes, { threads: 1 });
    const feeds: Record<string, ort.Tensor> = {};
    for (const k of [...tg.params, ...tg.buffers]) {
      feeds[k] = new ort.Tensor("float32", state.get(k)!.data as Float32Array, state.get(k)!.shape);
    }
    feeds[tg.input] = new ort.Tensor("float32", x, [n, 3, size, size]);
    feeds[tg.labels] = tg.labelsType === "int32"
      ? new ort.Tensor("int32", y, [n])
      : new ort.Tensor("int64", BigInt64Array.from(y, BigInt), [n]);
    outs.push({ tg, out: await s.run(feeds) });
    await s.release();
  }
  const [a, b] = outs;
  assert.equal(b.tg.labelsType, "int32");
  const la = (a.out[a.tg.loss].data as Float32Array)[0], lb = (b.out[b.tg.loss].data as Float32Array)[0];
  assert.ok(la > 1 && Math.abs(la - lb) / la < 1e-6, `loss ${lb} vs ${la}`);
  for (const [p, o] of a.tg.gradOut) {
    const e = relErr(b.out[b.tg.gradOut.get(p)!].data as Float32Array, a.out[o].data as Float32Array);
    assert.ok(e < 1e-5, `gradient of ${p}: relative error ${e}`);
  }
});

Deno.test("in-graph Adam equals the host Adam over 3 steps (flat moments, weight decay, bias correction)", async () => {
  const g = new Graph("adam");
  // more tensors than a Concat or Split node takes at once (a tree of them), of mixed shapes
  const shapes = Array.from({ length: 11 }, (_, i) => (i % 3 === 0 ? [i + 1] : [2, i + 1, 3]));
  const ws = shapes.map((s, i) => g.input(`w${i}`, "float32", s));
  const gs = new Map(shapes.map((s, i) => [`w${i}`, g.input(`grad.w${i}`, "float32", s)]));
  const io = appendAdam(g, ws, gs, { weightDecay: 0.1 });
  const s = await createSession(g.toBytes(), { threads: 1 });
  const rng = new Rng(9);
  const ref = new Adam({ lr: 0.01, weightDecay: 0.1 });
  const pRef = new Map(
    ws.map((w) => [w.name, Float32Array.from({ length: numel(w.shape) }, () => rng.normal())]),
  );
  let p: Map<string, Float32Array> = new Map([...pRef].map(([k, a]) => [k, a.slice()]));
  let m: Float32Array = new Float32Array(io.size), v: Float32Array = new Float32Array(io.size);
  for (let t = 1; t <= 3; t++) {
    const grads = new Map(
      ws.map((w) => [
        w.name,
        Float32Array.from({ length: numel(w.shape) }, () => rng.normal() * 10 ** rng.int(4)),
      ]),
    );
    ref.step(pRef, grads);
    const k = adamScalars(t, ref);
    const feeds: Record<string, ort.Tensor> = {
      [io.m]: new ort.Tensor("float32", m, [io.size]),
      [io.v]: new ort.Tensor("float32", v, [io.size]),
      [io.stepSize]: new ort.Tensor("float32", Float32Array.of(k.stepSize), []),
      [io.bc2Sqrt]: new ort.Tensor("float32", Float32Array.of(k.bc2Sqrt), []),
    };
    for (const w of ws) {
      feeds[w.name] = new ort.Tensor("float32", p.get(w.name)!, [...w.shape]);
      feeds[`grad.${w.name}`] = new ort.Tensor("float32", grads.get(w.name)!, [...w.shape]);
    }
    const out = await s.run(feeds);
    p = new Map(ws.map((w) => [w.name, out[io.paramOut.get(w.name)!].data as Float32Array]));
    m = out[io.mOut].data as Float32Array;
    v = out[io.vOut].data as Float32Array;
  }
  for (const w of ws) {
    const { offset, length } = io.offsets.get(w.name)!;
    assert.ok(relErr(p.get(w.name)!, pRef.get(w.name)!) < 1e-6, `weights of ${w.name}`);
    assert.ok(
      relErr(m.subarray(offset, offset + length), ref.state.m.get(w.name)!) < 1e-6,
      `first moment of ${w.name}`,
    );
    assert.ok(
      relErr(v.subarray(offset, offset + length), ref.state.v.get(w.name)!) < 1e-6,
      `second moment of ${w.name}`,
    );
  }
  assert.throws(() => adamScalars(0, ref), /Adam step must be an integer ≥ 1, got 0/);
  await s.release();
});

Deno.test("webgpu: a training graph above the buffer limit is refused before any session, in one line", async () => {
  const tg = buildTrainGraph(cbrNet, { batch: 2, size: 16 });
  assert.ok(tg.largest.bytes > 1000 && tg.largest.name.length > 0);
  await assert.rejects(
    () =>
      Trainer.create(cbrNet, randomInit(tg.specs, 1), {
        batch: 2,
        size: 16,
        device: "webgpu",
        maxTensorBytes: 1000,
      }),
    /^RangeError: Training graph's tensor \S+ needs \d+ MiB, above the WebGPU buffer limit of 0 MiB: use a smaller batch/,
  );
});
