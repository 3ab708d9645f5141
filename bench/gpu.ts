/**
 * The GPU check (run on a machine with an NVIDIA GPU and a Vulkan driver): one ResNet-50 training step on
 * the WebGPU provider against the CPU provider from the same weights and batch (loss and every gradient),
 * then WebGPU steps/s; the PyTorch-CUDA figure comes from bench/torch_train.py in the same script run.
 * Usage: deno run -A bench/gpu.ts [--size 128] [--batch 16] [--steps 10] [--out gpu.json]
 * @module
 */
import { parseArgs } from "node:util";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createSession, type Device } from "../lib/graph/session.ts";
import { randomInit } from "../lib/models/init.ts";
import { getModel, paramSpecs } from "../lib/models/registry.ts";
import { buildTrainGraph, type ModelFn } from "../lib/train/step.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { Rng } from "../lib/util/random.ts";
import type { Value } from "../lib/graph/mod.ts";

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "128" },
    batch: { type: "string", default: "16" },
    steps: { type: "string", default: "10" },
    model: { type: "string", default: "resnet50" },
    out: { type: "string" },
    "conv-grad": { type: "string", default: "batched" },
    im2col: { type: "string", default: "slices" },
  },
});
const size = Number(v.size), batch = Number(v.batch), steps = Number(v.steps);
const def = getModel(v.model!);
const model: ModelFn = (net, x) =>
  def.build(net, x, { classes: 5, aux: def.hasAux ? false : undefined }) as { logits: Value };
const spec = paramSpecs(def.name, { classes: 5, inputSize: size, aux: def.hasAux ? false : undefined });
const rng = new Rng(3);
const x = Float32Array.from({ length: batch * 3 * size * size }, () => rng.normal());
const y = Int32Array.from({ length: batch }, () => rng.int(5));
const result: Record<string, unknown> = { model: def.name, size, batch, steps };

// the WebGPU graph (MaxPool backward without Indices), run on both providers for the parity check
const tg = buildTrainGraph(model, { batch, size }, {
  grad: {
    maxPool: "windows",
    convWeight: v["conv-grad"] as "batched" | "gemm",
    im2col: v.im2col as "conv" | "slices",
  },
});
result.convGrad = v["conv-grad"];
result.im2col = v.im2col;
async function oneStep(device: Device) {
  const state = randomInit(spec, 1);
  const session = await createSession(tg.bytes, { device });
  const feeds: Record<string, ort.Tensor> = {};
  for (const k of [...tg.params, ...tg.buffers]) {
    const t = state.get(k)!;
    feeds[k] = new ort.Tensor("float32", t.data as Float32Array, t.shape);
  }
  feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
  feeds[tg.labels] = new ort.Tensor("int64", BigInt64Array.from(y, BigInt), [batch]);
  const out = await session.run(feeds);
  await session.release();
  return out;
}

const cpu = await oneStep("cpu");
let gpu: Record<string, ort.Tensor> | null = null;
try {
  gpu = await oneStep("webgpu");
} catch (e) {
  result.webgpuError = e instanceof Error ? e.message : String(e);
}
if (gpu) {
  const lossCpu = (cpu[tg.loss].data as Float32Array)[0], lossGpu = (gpu[tg.loss].data as Float32Array)[0];
  // per tensor: max |cpu − gpu| / max |cpu|; a randomly initialised deep net is ill-conditioned, so the
  // distribution over tensors says more than the worst one
  const errs: [number, string][] = [];
  for (const [p, o] of tg.gradOut) {
    const a = cpu[o].data as Float32Array, b = gpu[o].data as Float32Array;
    let num = 0, den = 1e-30;
    for (let i = 0; i < a.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(a[i]));
    }
    errs.push([num / den, p]);
  }
  errs.sort((x, y) => x[0] - y[0]);
  const q = (f: number) => errs[Math.min(errs.length - 1, Math.floor(f * errs.length))][0];
  result.parity = {
    lossCpu,
    lossGpu,
    lossRelDiff: Math.abs(lossCpu - lossGpu) / Math.abs(lossCpu),
    gradTensors: errs.length,
    gradRelErrMedian: q(0.5),
    gradRelErrP90: q(0.9),
    gradRelErrMax: errs.at(-1)![0],
    worstGradParams: errs.slice(-3).map(([e, p]) => `${p}: ${e.toPrecision(3)}`),
    fcWeightRelErr: errs.find(([, p]) => p === "fc.weight")?.[0],
  };
  for (const device of ["webgpu", "cpu"] as Device[]) {
    const t = await Trainer.create(model, randomInit(spec, 1), { batch, size, device });
    const times: number[] = [];
    for (let i = 0; i < steps + 2; i++) {
      const t0 = performance.now();
      await t.step(x, y);
      if (i >= 2) times.push(performance.now() - t0);
    }
    await t.release();
    times.sort((a, b) => a - b);
    result[`${device}MsPerStep`] = times[Math.floor(times.length / 2)];
  }
}
console.log(JSON.stringify(result, null, 2));
if (v.out) await Deno.writeTextFile(v.out, JSON.stringify(result, null, 2) + "\n");
