/**
 * The arithmetic floor of a training step on this machine: how fast could any engine built from
 * onnxruntime's CPU kernels go, at best, against torch's measured step?
 *
 * - Counts each model's necessary training FLOPs from its forward graph: for every Conv and Gemm, the
 *   forward product, the weight gradient (same count) and the input gradient (same count, except where the
 *   input is the image batch). Nothing else (BN, ReLU, pooling, the optimiser, im2col) is counted.
 * - Measures onnxruntime's best dense float32 rate at the same thread count (MatMul, n³ for a few n, best of
 *   8 runs): MLAS's SGEMM, the kernel every Conv, MatMul and Gemm reaches on the CPU provider.
 * - Measures torch's whole training step (bench/torch_train.py) and its matmul rate in the same run.
 * - Profiles our training-step graph (bench/profile_train.ts) and splits its kernel time into the
 *   convolution and matrix-product kernels (Conv, ConvTranspose, MatMul, FusedMatMul, Gemm; not the im2col
 *   Convs) and everything else.
 *
 * floor ms = training FLOPs ÷ onnxruntime's best rate: a step can only be slower. If it exceeds torch's
 * whole step, 1.0× torch's throughput is out of reach for an onnxruntime CPU engine on this machine, however
 * the graph is formulated. Usage: deno run -A bench/floor.ts [--models cbr-small,resnet50,inception_v3]
 * [--batch 16] [--size 128] [--threads 2] [--torch-steps 5] [--rounds 3] [--out bench/results/floor.md] [--no-write]
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { Graph } from "../lib/graph/graph.ts";
import { getModel } from "../lib/models/registry.ts";
import { GraphNet } from "../lib/train/graph_net.ts";
import { median, STEP_OPTIONS, TORCH_NAME, writeLatest } from "./common.ts";
import { profileStep } from "./profile_train.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...STEP_OPTIONS,
    "torch-steps": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    out: { type: "string", default: "bench/results/floor.md" },
  },
});
const batch = Number(values.batch), size = Number(values.size), threads = Number(values.threads);

/** Multiply-adds of one training step's convolutions and dense layers: forward, dW and dX. */
export function trainingMacs(model: string, batchSize: number, imageSize: number): {
  forward: number;
  total: number;
} {
  const def = getModel(model);
  const g = new Graph("flops");
  const net = new GraphNet(g, { mode: "train" });
  const x = g.input("input", "float32", [batchSize, 3, imageSize, imageSize]);
  def.build(net, x, { classes: 5, aux: false, transformInput: false });
  let forward = 0, total = 0;
  for (const node of g.nodes) {
    let macs = 0;
    if (node.op === "Conv") {
      const [w, y] = [node.inputs[1]!, node.outputs[0]!];
      macs = y.shape.reduce((a, b) => a * b, 1) * w.shape.slice(1).reduce((a, b) => a * b, 1);
    } else if (node.op === "Gemm" || node.op === "MatMul") {
      const [a, y] = [node.inputs[0]!, node.outputs[0]!];
      macs = y.shape.reduce((s, d) => s * d, 1) * a.shape.at(-1)!;
    } else continue;
    const fromImage = g.origin(node.inputs[0]!).kind === "input";
    forward += macs;
    total += macs * (fromImage ? 2 : 3);
  }
  return { forward, total };
}

/** onnxruntime's best float32 MatMul rate (GFLOP/s) over a few square sizes. */
async function ortGemmRate(): Promise<{ gflops: number; n: number }> {
  let best = { gflops: 0, n: 0 };
  for (const n of [1024, 2048, 3072]) {
    const g = new Graph("gemm");
    g.output(g.op.MatMul(g.input("a", "float32", [n, n]), g.input("b", "float32", [n, n])), "y");
    const s = await ort.InferenceSession.create(g.toBytes(), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
    const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const feeds = { a: new ort.Tensor("float32", a, [n, n]), b: new ort.Tensor("float32", a, [n, n]) };
    let ms = Infinity;
    for (let i = 0; i < 8; i++) {
      const t = performance.now();
      await s.run(feeds);
      ms = Math.min(ms, performance.now() - t);
    }
    await s.release();
    const gflops = (2 * n ** 3) / ms / 1e6;
    if (gflops > best.gflops) best = { gflops, n };
  }
  return best;
}

async function python(args: string[]): Promise<string> {
  const out = await new Deno.Command("/usr/bin/python3", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`python3 ${args[0]} failed: ${new TextDecoder().decode(out.stderr).slice(-1000)}`);
  }
  return new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
}

const TORCH_GEMM = `
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
best = 0
for n in (1024, 2048, 3072):
    a = torch.rand(n, n); b = torch.rand(n, n)
    for _ in range(8):
        t = time.perf_counter(); a @ b; best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)`;

const MATH_OPS = new Set(["Conv", "ConvTranspose", "MatMul", "FusedMatMul", "Gemm"]);

const models = values.models!.split(",").map((m) => getModel(m.trim()).name);
const rounds = Number(values.rounds);
const load0 = os.loadavg().map((v) => v.toFixed(2)).join(", ");
// Each round measures everything again; the machine is shared, so the bound takes onnxruntime's best rate
// and our fastest kernels over rounds (the lowest floor) and torch's median step.
let ortRate = { gflops: 0, n: 0 }, torchRate = 0;
const torchMs = new Map<string, number[]>(), mathMs = new Map<string, number[]>();
const otherMs = new Map<string, number[]>();
const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
for (let r = 0; r < rounds; r++) {
  const rate = await ortGemmRate();
  if (rate.gflops > ortRate.gflops) ortRate = rate;
  torchRate = Math.max(torchRate, Number(await python(["-c", TORCH_GEMM, String(threads)])));
  for (const m of models) {
    const torch = JSON.parse(
      await python([
        new URL("./torch_train.py", import.meta.url).pathname,
        TORCH_NAME[m] ?? m,
        String(batch),
        String(size),
        String(threads),
        values["torch-steps"]!,
      ]),
    ) as { ms_per_step: number };
    push(torchMs, m, torch.ms_per_step);
    const prof = await profileStep(m, { batch, size, threads, steps: 3 });
    let math = 0, other = 0;
    for (const n of prof.nodes.values()) {
      if (MATH_OPS.has(n.op)) math += n.ms;
      else other += n.ms;
    }
    push(mathMs, m, math);
    push(otherMs, m, other);
    console.error(
      `round ${r + 1}: ${m} onnxruntime ${rate.gflops.toFixed(0)} GFLOP/s, torch ${
        torch.ms_per_step.toFixed(0)
      } ms/step, ours conv+matmul ${math.toFixed(0)} ms, other ${other.toFixed(0)} ms`,
    );
  }
}
const rows: string[] = [];
for (const m of models) {
  const { forward, total } = trainingMacs(m, batch, size);
  const gflop = (2 * total) / 1e9;
  const floorMs = (gflop / ortRate.gflops) * 1000;
  const tMs = median(torchMs.get(m)!),
    math = Math.min(...mathMs.get(m)!),
    other = Math.min(...otherMs.get(m)!);
  const row = [
    m,
    ((2 * forward) / 1e9).toFixed(1),
    gflop.toFixed(1),
    floorMs.toFixed(0),
    `${tMs.toFixed(0)} (${torchMs.get(m)!.map((v) => v.toFixed(0)).join(", ")})`,
    ((gflop / tMs) * 1000).toFixed(0),
    `${(tMs / floorMs).toFixed(2)}×`,
    math.toFixed(0),
    other.toFixed(0),
    `${(tMs / math).toFixed(2)}×`,
  ];
  rows.push(`| ${row.join(" | ")} |`);
}
const load1 = os.loadavg().map((v) => v.toFixed(2)).join(", ");
const text = [
  `Run ${
    new Date().toISOString()
  }: batch ${batch}, 3×${size}×${size}, ${threads} threads, ${rounds} round(s): onnxruntime's best rate and our fastest kernel sums over rounds, torch's median step. Machine: ${
    os.cpus()[0]?.model ?? "?"
  } × ${os.cpus().length} cores; onnxruntime-node 1.30.0; torch from /usr/bin/python3. Load average before: ${load0}; after: ${load1}.`,
  `Best dense float32 rate at ${threads} threads: onnxruntime MatMul ${
    ortRate.gflops.toFixed(0)
  } GFLOP/s (n = ${ortRate.n}), torch matmul ${torchRate.toFixed(0)} GFLOP/s.`,
  "",
  "| model | forward GFLOP | training GFLOP (fwd + dW + dX) | floor ms at onnxruntime's best rate | torch ms/step, median (rounds) | torch's whole step, GFLOP/s | throughput bound ours/torch (FLOPs at best rate) | ours: conv + matrix-product kernel ms | ours: other kernel ms | throughput bound ours/torch (our conv kernels alone) |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");
console.log(text);
if (!values["no-write"]) {
  await writeLatest(values.out!, text, "Arithmetic floor of a training step under onnxruntime's CPU kernels");
}
