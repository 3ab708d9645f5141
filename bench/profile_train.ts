/**
 * Where a training step's time goes: runs the training-step graph of one model under onnxruntime's profiler
 * and sums kernel time by op type and by forward / backward (node names under `grad/`).
 * Usage: deno run -A bench/profile_train.ts MODEL [--batch 16] [--size 128] [--threads 2] [--steps 3] [--top 25]
 * @module
 */
import { parseArgs } from "node:util";
import * as ort from "npm:onnxruntime-node@1.30.0";
import onnxProto from "npm:onnx-proto@8.0.1";
import { getModel, paramSpecs } from "../lib/models/registry.ts";
import { randomInit } from "../lib/models/init.ts";
import { buildTrainGraph, type ModelFn } from "../lib/train/step.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    batch: { type: "string", default: "16" },
    size: { type: "string", default: "128" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "3" },
    top: { type: "string", default: "25" },
    ftz: { type: "boolean", default: false },
  },
});
const name = positionals[0] ?? "resnet50";
const batch = Number(values.batch), size = Number(values.size), steps = Number(values.steps);
const def = getModel(name);
const opts = { classes: 5, aux: false, transformInput: false };
const model: ModelFn = (net, x) => def.build(net, x, opts);
const tg = buildTrainGraph(model, { batch, size });
// grouped Convs in the backward pass are im2col (dW); tell them apart from the dX Convs
const grouped = new Set<string>();
for (const n of onnxProto.onnx.ModelProto.decode(tg.bytes).graph!.node!) {
  if (n.opType === "Conv" && n.attribute?.some((a) => a.name === "group" && Number(a.i) > 1)) {
    grouped.add(n.name!);
  }
}
const state = randomInit(paramSpecs(name, { ...opts, inputSize: size }), 1);
const dir = await Deno.makeTempDir();
const session = await ort.InferenceSession.create(tg.bytes, {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all",
  intraOpNumThreads: Number(values.threads),
  interOpNumThreads: 1,
  executionMode: "sequential",
  enableProfiling: true,
  profileFilePrefix: `${dir}/prof`,
  ...(values.ftz ? { extra: { session: { set_denormal_as_zero: "1" } } } : {}),
});
const feeds: Record<string, ort.Tensor> = {};
for (const n of [...tg.params, ...tg.buffers]) {
  const t = state.get(n)!;
  feeds[n] = new ort.Tensor("float32", t.data as Float32Array, t.shape);
}
// a random batch: a constant one hides data-dependent costs (denormals)
const x = new Float32Array(batch * 3 * size * size);
for (let i = 0, s = 1; i < x.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  x[i] = s / 2 ** 32 - 0.5;
}
feeds[tg.input] = new ort.Tensor("float32", x, [
  batch,
  3,
  size,
  size,
]);
feeds[tg.labels] = new ort.Tensor("int64", BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 5)), [
  batch,
]);
for (const m of tg.masks) {
  feeds[m.name] = new ort.Tensor(
    "float32",
    new Float32Array(m.shape.reduce((a, b) => a * b, 1)).fill(1),
    m.shape,
  );
}
const wall: number[] = [];
for (let i = 0; i < steps + 1; i++) {
  const t = performance.now();
  await session.run(feeds);
  wall.push(performance.now() - t);
}
const file = (session as unknown as { endProfiling(): string }).endProfiling?.();
await session.release();
const path = file ?? [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`)[0];
const events = JSON.parse(await Deno.readTextFile(path)) as {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; output_size?: string; activation_size?: string };
}[];
const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"));
const runs = steps + 1;
const skip = Math.floor(kernels.length / runs); // drop the first (warm-up) run
const used = kernels.slice(skip);
const byOp = new Map<string, number>(), byNode = new Map<string, { op: string; us: number }>();
let fwd = 0, bwd = 0;
for (const e of used) {
  const node = e.name.replace(/_kernel_time$/, "");
  const op = (e.args?.op_name ?? "?") + (grouped.has(node) ? "(im2col)" : "");
  const isGrad = node.includes("grad/");
  const key = `${isGrad ? "bwd" : "fwd"} ${op}`;
  byOp.set(key, (byOp.get(key) ?? 0) + e.dur);
  const n = byNode.get(node) ?? { op, us: 0 };
  n.us += e.dur;
  byNode.set(node, n);
  if (isGrad) bwd += e.dur;
  else fwd += e.dur;
}
const per = (us: number) => (us / 1000 / steps).toFixed(1);
console.log(
  `${name}: wall ms/run ${wall.map((w) => w.toFixed(0)).join(" ")}; kernel ms/step fwd ${per(fwd)} bwd ${
    per(bwd)
  }`,
);
for (const [k, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`  ${per(us).padStart(8)}  ${k}`);
}
console.log("top nodes:");
for (const [k, v] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top))) {
  console.log(`  ${per(v.us).padStart(8)}  ${v.op.padEnd(18)} ${k}`);
}
await Deno.remove(dir, { recursive: true });
