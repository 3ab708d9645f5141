// The conv-formulation tuner of bench/tune.ts: candidates per shape, the on-disk cache, and seeded training
// under one table of choices staying bit-identical on rerun (and using the choices it is given).
import assert from "node:assert/strict";
import { join } from "node:path";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import type { ModelFn } from "../../lib/train/step.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { convCandidates } from "../../lib/graph/conv_plan.ts";
import {
  convChoiceHook,
  type ConvChoices,
  convKey,
  convSignatures,
  type ConvTuneFile,
  tuneContext,
  tuneConvs,
} from "../../bench/tune.ts";
import { Rng } from "../../lib/util/random.ts";
import { assertSameElements } from "../compare.ts";

const SIZE = 16, BATCH = 4;
const def = getModel("cbr-small");
const model: ModelFn = (net, x) => def.build(net, x, { classes: 5 });
const specs = paramSpecs("cbr-small", { classes: 5, inputSize: SIZE });

Deno.test("tune: candidates start with the default rule's and fit the shape", () => {
  const sig = (x: number[], w: number[], s = [1, 1], p = [0, 0, 0, 0]) => ({ x, w, s, p, dtype: "float32" });
  const pw = convCandidates(sig([2, 8, 6, 6], [4, 8, 1, 1]));
  // narrowing (C 8 > M 4) onto ≤ 64 pixels: folded; widening: a 1×1 Conv by the transposed weight
  assert.deepEqual(pw.dx, ["fold", "conv", "matmul", "transpose"]);
  assert.deepEqual(convCandidates(sig([2, 4, 6, 6], [8, 4, 1, 1])).dx, [
    "conv",
    "matmul",
    "transpose",
    "fold",
  ]);
  assert.equal(pw.dw[0], "batched"); // M 4 ≤ 36 output pixels
  // a 1×1 conv onto ≤ 4 pixels (≤ 16 strided) folds the batch into one GEMM by default
  assert.deepEqual(convCandidates(sig([2, 4, 2, 2], [8, 4, 1, 1])).dx, [
    "fold",
    "conv",
    "matmul",
    "transpose",
  ]);
  assert.deepEqual(convCandidates(sig([2, 8, 8, 8], [4, 8, 1, 1], [2, 2])).dx, ["fold", "transpose"]);
  assert.deepEqual(convCandidates(sig([2, 8, 9, 9], [4, 8, 1, 1], [2, 2])).dx, ["transpose", "fold"]);
  const strided = convCandidates(sig([2, 8, 9, 9], [16, 8, 3, 3], [2, 2], [1, 1, 1, 1]));
  assert.deepEqual(strided.dx, ["transpose"]);
  assert.equal(strided.dw[0], "batched"); // M 16 ≤ 5×5 output pixels
  const late = convCandidates(sig([64, 128, 4, 4], [256, 128, 7, 7], [1, 1], [3, 3, 3, 3]));
  assert.deepEqual(late.dx, ["conv", "transpose", "fold"]);
  // a strided k×k conv on ≤ 64 pixels: dX by one GEMM and a one-hot col2im product by default
  assert.deepEqual(convCandidates(sig([2, 8, 8, 8], [16, 8, 3, 3], [2, 2], [1, 1, 1, 1])).dx, [
    "fold",
    "transpose",
  ]);
  assert.deepEqual(late.dw, ["gemm", "batched", "conv"]);
  // the "conv" dW's window buffer of one channel would exceed 64 MiB at 587², batch 8
  const big = convCandidates(sig([8, 32, 587, 587], [64, 32, 7, 7], [1, 1], [3, 3, 3, 3]));
  assert.ok(!big.dw.includes("conv"));
});

Deno.test("tune: the cache answers a second call without measuring, per thread count", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "tune.json"), shape = { batch: BATCH, size: SIZE };
    const keys = convSignatures(model, shape).map(convKey);
    assert.equal(keys.length, 4);
    const first = await tuneConvs(model, shape, path, { threads: 1, rounds: 1 });
    assert.deepEqual(Object.keys(first), keys);
    // a choice written into the cache comes back as is: the second call read it rather than measured
    const file = JSON.parse(await Deno.readTextFile(path)) as ConvTuneFile;
    const ctx = tuneContext({ threads: 1 });
    file.contexts[ctx][keys[1]].choice = { dx: "transpose", dw: "conv" };
    await Deno.writeTextFile(path, JSON.stringify(file));
    const second = await tuneConvs(model, shape, path, { threads: 1, rounds: 1 });
    assert.deepEqual(second[keys[1]], { dx: "transpose", dw: "conv" });
    // another thread count is another context
    await tuneConvs(model, { batch: 2, size: 8 }, path, { threads: 2, rounds: 1 });
    const after = JSON.parse(await Deno.readTextFile(path)) as ConvTuneFile;
    assert.deepEqual(Object.keys(after.contexts).sort(), [ctx, tuneContext({ threads: 2 })].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function train(choices: ConvChoices | undefined, steps: number) {
  const state = randomInit(specs, 3);
  const t = await Trainer.create(model, state, {
    batch: BATCH,
    size: SIZE,
    threads: 1,
    convChoice: choices && convChoiceHook(choices),
  });
  const rng = new Rng("tune:batches");
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const x = Float32Array.from({ length: BATCH * 3 * SIZE * SIZE }, () => rng.normal());
    const y = Int32Array.from({ length: BATCH }, (_, i) => (i + s) % 5);
    losses.push((await t.step(x, y)).loss);
  }
  await t.release();
  return { losses, w: state.get("block2.conv.weight")!.data as Float32Array };
}

Deno.test("tune: training under one table is bit-identical on rerun and close to the fixed rules", async () => {
  const keys = convSignatures(model, { batch: BATCH, size: SIZE }).map(convKey);
  const other: ConvChoices = Object.fromEntries(keys.map((k) => [k, { dx: "transpose", dw: "conv" }]));
  const a = await train(other, 3), b = await train(other, 3), ref = await train(undefined, 3);
  assert.deepEqual(a.losses, b.losses);
  assertSameElements(a.w, b.w, "block2.conv.weight on rerun");
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(a.losses[i] - ref.losses[i]) < 1e-4, `step ${i} loss`);
  for (let i = 0; i < a.w.length; i++) assert.ok(Math.abs(a.w[i] - ref.w[i]) < 1e-4, `weight ${i}`);
  // the choices are used: they round differently from the plan's fixed rules
  assert.ok(a.w.some((v, i) => v !== ref.w[i]), "the given choices change no bit of the weights");
});
