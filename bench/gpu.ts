/**
 * The GPU benchmark, one command for a GPU machine (see ../shared/device/README.md for the device pack):
 * for each model and setting, in a child process of its own (a WebGPU failure can abort the process),
 * - the largest tensor of the training graph against the adapter's buffer limit (checked before running),
 * - the placement check: nodes of the training and evaluation graphs on the CPU provider (must be 0),
 * - one-step parity of the device-resident webgpu step against the CPU provider from the same weights and
 *   batch (loss, gradients through Adam's first moment, BN buffers), at the smaller settings,
 * - ms/step and images/s of the resident `Trainer.step`, evaluation ms/image and the cost of one state download,
 * - PyTorch-CUDA's ms/step for the same model, batch and input (`bench/torch_train.py ... cuda`),
 * - peak GPU memory of each (nvidia-smi's memory.used, sampled, above the idle level),
 * then the estimated wall time of one `--preset paper` run per model on this GPU.
 *
 * Usage: deno run -A bench/gpu.ts [--models resnet50,inception_v3,cbr-small] [--settings 224x16,587x32]
 *   [--steps 10] [--python python3] [--no-torch] [--parity-max 802816] [--max-tensor-bytes N] [--out FILE]
 *   [--quick]   (--quick: cbr-small at 32² batch 2, 2 steps, no torch: proves the script on lavapipe)
 * Inception-v3 runs without its AuxLogits head on both sides (bench/torch_train.py has it off).
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { describePlacement, nodePlacements } from "../lib/graph/placement.ts";
import { randomInit } from "../lib/models/init.ts";
import { getModel, paramSpecs } from "../lib/models/registry.ts";
import { backendFor } from "../lib/train/backend.ts";
import { buildEvalGraph, buildTrainGraph, type ModelFn, trainGraphOptionsFor } from "../lib/train/step.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { Rng } from "../lib/util/random.ts";
import type { Value } from "../lib/graph/mod.ts";
import { median, TORCH_NAME } from "./common.ts";

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string", default: "resnet50,inception_v3,cbr-small" },
    settings: { type: "string", default: "224x16,587x32" },
    // the WebGPU convolution layouts measured at the first setting (later settings: the first of them)
    layouts: { type: "string", default: "NHWC,NCHW" },
    steps: { type: "string", default: "10" },
    python: { type: "string", default: "python3" },
    "no-torch": { type: "boolean", default: false },
    // parity (which runs the CPU provider too) only where size² × batch is at most this: 224² × 16
    "parity-max": { type: "string", default: String(224 * 224 * 16) },
    "max-tensor-bytes": { type: "string" },
    out: { type: "string" },
    quick: { type: "boolean", default: false },
    one: { type: "string" }, // internal: model,size,batch for the child process
  },
});

/** The paper preset's per-run workload (lib/study/presets/paper.json): 35 000 photos, 9:1 split, 50 epochs. */
const PAPER = { photos: 35_000, trainFraction: 0.9, epochs: 50, batch: 32, size: 587 };

interface OneResult {
  model: string;
  size: number;
  batch: number;
  layout: string;
  largestTensor: { name: string; mib: number };
  maxTensorMib: number;
  error?: string;
  placement?: { train: string; eval: string; trainCpuNodes: number; evalCpuNodes: number };
  parity?: Record<string, unknown>;
  msPerStep?: number;
  imagesPerSec?: number;
  evalMsPerImage?: number;
  syncMs?: number;
  createSec?: number;
}

function modelFn(name: string): { fn: ModelFn; name: string } {
  const def = getModel(name);
  const fn: ModelFn = (net, x) =>
    def.build(net, x, { classes: 5, aux: def.hasAux ? false : undefined }) as { logits: Value };
  return { fn, name: def.name };
}

/** max |a − b| / max |a| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(a[i]));
  }
  return num / den;
}

async function adapterLimits(): Promise<
  { maxBufferSize?: number; maxStorageBufferBindingSize?: number; info?: string }
> {
  try {
    // Deno's own WebGPU (wgpu) sees the same Vulkan device as onnxruntime's Dawn: its limits are indicative
    const a = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } })
      .gpu
      ?.requestAdapter();
    if (!a) return {};
    return {
      maxBufferSize: a.limits.maxBufferSize,
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      info: [a.info?.vendor, a.info?.architecture, a.info?.device, a.info?.description].filter(Boolean).join(
        " ",
      ),
    };
  } catch {
    return {};
  }
}
interface GpuAdapterLike {
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

// ---------------------------------------------------------------- child: one model at one setting
async function runOne(
  spec: string,
  steps: number,
  parityMax: number,
  maxTensorBytes: number,
): Promise<OneResult> {
  const [name, sizeS, batchS, layoutS] = spec.split(",");
  const layout = layoutS as "NHWC" | "NCHW";
  const size = Number(sizeS), batch = Number(batchS);
  const { fn, name: model } = modelFn(name);
  const tg = buildTrainGraph(fn, { batch, size }, trainGraphOptionsFor(backendFor("webgpu")));
  const r: OneResult = {
    model,
    size,
    batch,
    layout,
    largestTensor: { name: tg.largest.name, mib: tg.largest.bytes / 2 ** 20 },
    maxTensorMib: maxTensorBytes / 2 ** 20,
  };
  if (tg.largest.bytes > maxTensorBytes) {
    r.error = `tensor ${tg.largest.name} needs ${(tg.largest.bytes / 2 ** 20).toFixed(0)} MiB, above the ` +
      `adapter's ${(maxTensorBytes / 2 ** 20).toFixed(0)} MiB buffer limit: not run (a smaller batch fits)`;
    return r;
  }
  const pt = await nodePlacements(tg.bytes, { device: "webgpu" });
  const pe = await nodePlacements(buildEvalGraph(fn, { batch, size }).bytes, { device: "webgpu" });
  r.placement = {
    train: describePlacement(pt),
    eval: describePlacement(pe),
    trainCpuNodes: pt.cpuNodes,
    evalCpuNodes: pe.cpuNodes,
  };
  const specs = paramSpecs(model, {
    classes: 5,
    inputSize: size,
    aux: getModel(model).hasAux ? false : undefined,
  });
  const rng = new Rng(3);
  const x = Float32Array.from({ length: batch * 3 * size * size }, () => rng.normal());
  const y = Int32Array.from({ length: batch }, () => rng.int(5));
  const opts = { batch, size, lr: 1e-3, maxTensorBytes };

  const t0 = performance.now();
  const t = await Trainer.create(fn, randomInit(specs, 1), { ...opts, device: "webgpu", layout });
  r.createSec = (performance.now() - t0) / 1000;
  if (size * size * batch <= parityMax) {
    const cpu = await Trainer.create(fn, randomInit(specs, 1), { ...opts, device: "cpu" });
    const gpu = t;
    const a = await cpu.step(x, y), b = await gpu.step(x, y);
    await gpu.sync();
    // after one step Adam's first moment is 0.1 × the gradient: its error is the gradient's
    const errs: [number, string][] = [];
    for (const [p, m] of cpu.optimizer.state.m) errs.push([relErr(m, gpu.optimizer.state.m.get(p)!), p]);
    errs.sort((p, q) => p[0] - q[0]);
    let bufErr = 0;
    for (const k of cpu.trainGraph.buffers) {
      bufErr = Math.max(
        bufErr,
        relErr(cpu.state.get(k)!.data as Float32Array, gpu.state.get(k)!.data as Float32Array),
      );
    }
    r.parity = {
      lossCpu: a.loss,
      lossGpu: b.loss,
      lossRelDiff: Math.abs(a.loss - b.loss) / Math.abs(a.loss),
      gradRelErrMedian: errs[errs.length >> 1][0],
      gradRelErrMax: errs.at(-1)![0],
      worstGrads: errs.slice(-3).map(([e, p]) => `${p}: ${e.toPrecision(3)}`),
      bnBufferRelErrMax: bufErr,
    };
    await cpu.release();
  }
  const times: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const s0 = performance.now();
    await t.step(x, y); // the loss comes down each step, so each step is complete when it returns
    if (i >= 2) times.push(performance.now() - s0);
  }
  r.msPerStep = median(times);
  r.imagesPerSec = batch / (r.msPerStep / 1000);
  await t.evaluate([{ x, n: batch }]); // session and shaders
  const e0 = performance.now();
  await t.evaluate([{ x, n: batch }, { x, n: batch }, { x, n: batch }]);
  r.evalMsPerImage = (performance.now() - e0) / (3 * batch);
  await t.step(x, y);
  await t.sync(); // the download session's creation
  await t.step(x, y);
  const c0 = performance.now();
  await t.sync();
  r.syncMs = performance.now() - c0;
  await t.release();
  return r;
}

if (v.one) {
  const res = await runOne(v.one, Number(v.steps), Number(v["parity-max"]), Number(v["max-tensor-bytes"]));
  console.log(`RESULT ${JSON.stringify(res)}`);
  Deno.exit(0);
}

// ---------------------------------------------------------------- parent: the grid, torch, memory, estimate
async function nvidiaSmi(args: string[]): Promise<string | undefined> {
  try {
    const o = await new Deno.Command("nvidia-smi", { args, stdout: "piped", stderr: "null" }).output();
    return o.success ? new TextDecoder().decode(o.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}
const memUsed = async () =>
  Number((await nvidiaSmi(["--query-gpu=memory.used", "--format=csv,noheader,nounits"]))?.split("\n")[0]);

/** Runs a command while sampling the GPU's used memory; returns its output and the peak above the idle level. */
async function sampled(cmd: string, args: string[], timeoutMs: number) {
  const idle = await memUsed();
  let peak = idle, stop = false;
  const sampler = (async () => {
    while (!stop) {
      const m = await memUsed();
      if (Number.isFinite(m)) peak = Math.max(peak, m);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  stop = true;
  await sampler;
  return {
    ok: out.success,
    code: out.code,
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    peakMib: Number.isFinite(idle) ? peak - idle : undefined,
  };
}

const quick = v.quick;
const models = (quick ? "cbr-small" : v.models!).split(",");
const settings = (quick ? "32x2" : v.settings!).split(",").map((s) =>
  s.split("x").map(Number) as [number, number]
);
const steps = quick ? 2 : Number(v.steps);
const limits = await adapterLimits();
const maxTensorBytes = Number(v["max-tensor-bytes"] ?? limits.maxBufferSize ?? 2 ** 31 - 1);
const header = {
  date: new Date().toISOString(),
  gpu: await nvidiaSmi(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]),
  adapter: limits,
  maxTensorBytes,
  cpus: navigator.hardwareConcurrency,
};
console.log(JSON.stringify(header));
const self = fileURLToPath(import.meta.url);
const rows: {
  one?: OneResult;
  torch?: Record<string, unknown>;
  gpuPeakMib?: number;
  torchPeakMib?: number;
}[] = [];
const layouts = (quick ? "NHWC" : v.layouts!).split(",").map((l) => l.trim().toUpperCase());
for (const l of layouts) {
  if (l !== "NHWC" && l !== "NCHW") throw new RangeError(`Layout must be NHWC or NCHW, got '${l}'`);
}
for (const name of models) {
  for (const [si, [size, batch]] of settings.entries()) {
    for (const layout of si === 0 ? layouts : layouts.slice(0, 1)) {
      const row: (typeof rows)[number] = {};
      const r = await sampled(Deno.execPath(), [
        "run",
        "--cached-only",
        "-A",
        self,
        "--one",
        `${name},${size},${batch},${layout}`,
        "--steps",
        String(steps),
        "--parity-max",
        v["parity-max"]!,
        "--max-tensor-bytes",
        String(maxTensorBytes),
      ], 480_000);
      const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (line) row.one = JSON.parse(line.slice(7));
      else {
        const why = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
        const last = r.stderr.split("\n").filter((l) => l.trim() && !/^Warning:/.test(l)).slice(-2).join(
          " | ",
        );
        row.one = {
          model: name,
          size,
          batch,
          layout,
          largestTensor: { name: "?", mib: NaN },
          maxTensorMib: maxTensorBytes / 2 ** 20,
          error: `${why}: ${last}`,
        };
      }
      row.gpuPeakMib = r.peakMib;
      if (!quick && !v["no-torch"] && layout === layouts[0]) {
        const t = await sampled(v.python!, [
          new URL("./torch_train.py", import.meta.url).pathname,
          TORCH_NAME[name] ?? name,
          String(batch),
          String(size),
          String(navigator.hardwareConcurrency),
          String(steps),
          "cuda",
        ], 300_000);
        try {
          row.torch = JSON.parse(t.stdout.trim().split("\n").at(-1)!);
        } catch {
          row.torch = { error: t.stderr.trim().split("\n").at(-1) ?? `exit ${t.code}` };
        }
        row.torchPeakMib = t.peakMib;
      } else if (layout !== layouts[0]) {
        // the same model and setting's torch figures (measured once, with the first layout)
        const first = rows.findLast((r) => r.one?.model === row.one?.model && r.one?.size === size);
        row.torch = first?.torch;
        row.torchPeakMib = first?.torchPeakMib;
      }
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}

// one paper run: full training batches of each epoch, the held-out split evaluated after each epoch
const estimates: Record<string, unknown> = {};
for (const row of rows) {
  const o = row.one!;
  if (o.size !== PAPER.size || o.batch !== PAPER.batch || !o.msPerStep) continue;
  const prev = estimates[o.model] as { msPerStep: number } | undefined;
  if (prev && prev.msPerStep <= o.msPerStep) continue;
  const stepsPerEpoch = Math.floor(PAPER.photos * PAPER.trainFraction / PAPER.batch);
  const evalImages = PAPER.photos - Math.round(PAPER.photos * PAPER.trainFraction);
  const epochSec = (stepsPerEpoch * o.msPerStep + evalImages * (o.evalMsPerImage ?? 0) + (o.syncMs ?? 0)) /
    1000;
  const torchMs = Number(row.torch?.ms_per_step);
  estimates[o.model] = {
    layout: o.layout,
    msPerStep: o.msPerStep,
    hoursPerRun: (epochSec * PAPER.epochs) / 3600,
    torchTrainingHoursPerRun: Number.isFinite(torchMs)
      ? (stepsPerEpoch * torchMs * PAPER.epochs) / 3.6e6
      : undefined,
    stepsPerEpoch,
    note:
      "training steps + held-out evaluation + one checkpoint download per epoch; data loading assumed to keep up",
  };
}

const fmt = (x: unknown, d = 1) => typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–";
const table = [
  "| model | setting | layout | ours ms/step | img/s | torch-cuda ms/step | ours/torch | GPU MiB ours / torch | largest tensor MiB | CPU nodes train / eval | loss rel. diff | grad rel. err median / max | note |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map(({ one: o, torch, gpuPeakMib, torchPeakMib }) => {
    const tm = Number(torch?.ms_per_step);
    const p = o!.parity as Record<string, number> | undefined;
    return `| ${o!.model} | ${o!.size}² × ${o!.batch} | ${o!.layout} | ${fmt(o!.msPerStep)} | ${
      fmt(o!.imagesPerSec)
    } | ${fmt(tm)} | ${fmt((o!.msPerStep ?? NaN) / tm, 2)}× | ${fmt(gpuPeakMib, 0)} / ${
      fmt(torchPeakMib, 0)
    } | ${fmt(o!.largestTensor.mib, 0)} | ${
      o!.placement ? `${o!.placement.trainCpuNodes} / ${o!.placement.evalCpuNodes}` : "–"
    } | ${p ? p.lossRelDiff.toExponential(1) : "–"} | ${
      p ? `${p.gradRelErrMedian.toExponential(1)} / ${p.gradRelErrMax.toExponential(1)}` : "–"
    } | ${o!.error ?? (torch?.error ? `torch: ${torch.error}` : "")} |`;
  }),
].join("\n");
console.log(`\n${table}\n`);
for (const [m, e] of Object.entries(estimates)) console.log(`paper preset, ${m}: ${JSON.stringify(e)}`);
const placementFail = rows.some((r) =>
  (r.one?.placement?.trainCpuNodes ?? 0) + (r.one?.placement?.evalCpuNodes ?? 0) > 0
);
if (placementFail) console.log("PLACEMENT CHECK FAILED: some node runs on the CPU provider (see the rows)");
if (v.out) {
  await Deno.writeTextFile(v.out, JSON.stringify({ ...header, rows, estimates, table }, null, 2) + "\n");
}
