/**
 * Where a training step's time goes: runs the training-step graph of one model under onnxruntime's profiler
 * and sums kernel time by op type and by forward / backward (node names under `grad/`).
 * Usage: deno run -A bench/profile_train.ts MODEL [--batch 16] [--size 128] [--threads 2] [--steps 3] [--top 25]
 *        [--im2col conv|slices] [--max-pool indices|windows] [--conv-weight batched|gemm] (lib/autodiff GradOptions)
 *        [--tune FILE] (per-conv formulations measured and cached in FILE by bench/tune.ts)
 *        [--dx FORM] [--dw FORM | --dw conv-k] (one formulation for every conv; conv-k: dW by Conv where the
 *        kernel has more than one tap and stride 1) [--nchwc B] (the CPU lowering with block B, as the
 *        Trainer does with nchwcBlockSize(); default 0: plain ONNX, so pass 16 or 8 to profile what trains)
 * @module
 */
import { parseArgs } from "node:util";
import * as ort from "npm:onnxruntime-node@1.30.0";
import onnxProto from "npm:onnx-proto@8.0.1";
import { getModel, paramSpecs } from "../lib/models/registry.ts";
import { randomInit } from "../lib/models/init.ts";
import { buildTrainGraph, type ModelFn } from "../lib/train/step.ts";
import type { GradOptions } from "../lib/autodiff/mod.ts";
import type { ConvChoice } from "../lib/graph/conv_plan.ts";
import { backendFor } from "../lib/train/backend.ts";
import { STEP_OPTIONS } from "./common.ts";
import { convChoiceHook, tuneConvs } from "./tune.ts";

/** Kernel time of one training step, per node, from onnxruntime's profiler. */
export interface StepProfile {
  /** session.run wall times, ms (the first is the warm-up) */
  wall: number[];
  /** node name → op type (grouped im2col Convs as `Conv(im2col)`) and kernel ms per step */
  nodes: Map<string, { op: string; ms: number; backward: boolean }>;
}

/** Profiles `steps` training steps (after one warm-up) of `name` at batch × 3 × size². */
export async function profileStep(
  name: string,
  opts: {
    batch: number;
    size: number;
    threads: number;
    steps: number;
    ftz?: boolean;
    grad?: GradOptions;
    nchwcBlock?: number;
  },
): Promise<StepProfile> {
  const { batch, size, steps } = opts;
  const def = getModel(name);
  const mopts = { classes: 5, aux: false, transformInput: false };
  const model: ModelFn = (net, x) => def.build(net, x, mopts);
  const backend = backendFor("cpu", opts.nchwcBlock ?? 0);
  const tg = buildTrainGraph(model, { batch, size }, { backend, grad: { ...backend.grad, ...opts.grad } });
  // grouped Convs in the backward pass are im2col (dW); tell them apart from the dX Convs
  const grouped = new Set<string>();
  for (const n of onnxProto.onnx.ModelProto.decode(tg.bytes).graph!.node!) {
    if (n.opType === "Conv" && n.attribute?.some((a) => a.name === "group" && Number(a.i) > 1)) {
      grouped.add(n.name!);
    }
  }
  const state = randomInit(paramSpecs(name, { ...mopts, inputSize: size }), 1);
  const dir = await Deno.makeTempDir();
  const session = await ort.InferenceSession.create(tg.bytes, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    enableMemPattern: false,
    enableProfiling: true,
    profileFilePrefix: `${dir}/prof`,
    ...(opts.ftz ? { extra: { session: { set_denormal_as_zero: "1" } } } : {}),
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
  feeds[tg.input] = new ort.Tensor("float32", x, [batch, 3, size, size]);
  feeds[tg.labels] = new ort.Tensor(
    "int64",
    BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 5)),
    [batch],
  );
  for (const m of tg.masks) {
    const ones = new Float32Array(m.shape.reduce((a, b) => a * b, 1)).fill(1);
    feeds[m.name] = new ort.Tensor("float32", ones, m.shape);
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
    args?: { op_name?: string };
  }[];
  await Deno.remove(dir, { recursive: true });
  const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"));
  const used = kernels.slice(Math.floor(kernels.length / (steps + 1))); // drop the warm-up run
  const nodes: StepProfile["nodes"] = new Map();
  for (const e of used) {
    const node = e.name.replace(/_kernel_time$/, "");
    const op = (e.args?.op_name ?? "?") + (grouped.has(node) ? "(im2col)" : "");
    const n = nodes.get(node) ?? { op, ms: 0, backward: node.includes("grad/") };
    n.ms += e.dur / 1000 / steps;
    nodes.set(node, n);
  }
  return { wall, nodes };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      ...STEP_OPTIONS,
      steps: { type: "string", default: "3" },
      top: { type: "string", default: "25" },
      ftz: { type: "boolean", default: false },
      im2col: { type: "string" },
      "max-pool": { type: "string" },
      "conv-weight": { type: "string" },
      tune: { type: "string" },
      nchwc: { type: "string", default: "0" },
      dw: { type: "string" },
      dx: { type: "string" },
    },
  });
  const name = positionals[0] ?? "resnet50";
  const grad: GradOptions = {
    im2col: values.im2col as GradOptions["im2col"],
    maxPool: values["max-pool"] as GradOptions["maxPool"],
    convWeight: values["conv-weight"] as GradOptions["convWeight"],
  };
  if (values.dw || values.dx) {
    grad.convChoice = (sig) => {
      const spatial = sig.w[2] * sig.w[3] > 1 && sig.s.every((v) => v === 1);
      const dw = values.dw === "conv-k" ? (spatial ? "conv" : undefined) : values.dw as ConvChoice["dw"];
      return { dw, dx: values.dx as ConvChoice["dx"] };
    };
  }
  if (values.tune) {
    const def = getModel(name), mopts = { classes: 5, aux: false, transformInput: false };
    const shape = { batch: Number(values.batch), size: Number(values.size) };
    const choices = await tuneConvs((net, x) => def.build(net, x, mopts), shape, values.tune, {
      threads: Number(values.threads),
      // timed as profiled: with the lowering of --nchwc
      backend: backendFor("cpu", Number(values.nchwc)),
    });
    grad.convChoice = convChoiceHook(choices);
  }
  const { wall, nodes } = await profileStep(name, {
    batch: Number(values.batch),
    size: Number(values.size),
    threads: Number(values.threads),
    steps: Number(values.steps),
    ftz: values.ftz,
    grad,
    nchwcBlock: Number(values.nchwc),
  });
  const byOp = new Map<string, number>();
  let fwd = 0, bwd = 0;
  for (const n of nodes.values()) {
    const key = `${n.backward ? "bwd" : "fwd"} ${n.op}`;
    byOp.set(key, (byOp.get(key) ?? 0) + n.ms);
    if (n.backward) bwd += n.ms;
    else fwd += n.ms;
  }
  const top = Number(values.top);
  console.log(
    `${name}: wall ms/run ${wall.map((w) => w.toFixed(0)).join(" ")}; kernel ms/step fwd ${
      fwd.toFixed(1)
    } bwd ${bwd.toFixed(1)}`,
  );
  for (const [k, ms] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${ms.toFixed(1).padStart(8)}  ${k}`);
  }
  console.log("top nodes:");
  for (const [k, v] of [...nodes].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`  ${v.ms.toFixed(1).padStart(8)}  ${v.op.padEnd(18)} ${k}`);
  }
}
