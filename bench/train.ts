/**
 * Training-step benchmark of the engine (lib/train's Trainer: onnxruntime-node session + Adam on the host +
 * BN buffer copy) against PyTorch on the same machine, same script run: median ms per step after 2 warm-ups,
 * peak RSS, graph build and session creation time. Each model runs in its own child process (so RSS is per
 * model), ours and torch's alternately.
 *
 * Usage: deno run -A bench/train.ts [--models cbr-small,resnet50,inception_v3] [--batch 16] [--size 128]
 *        [--grid sizes | [MODEL@]SIZE:BATCH,...] [--steps 5] [--threads 2] [--rounds 1]
 *        [--tune out/bench/conv_tune.json | --no-tune] [--no-nchwc] [--out bench/results/engine.md] [--no-write]
 * `--grid sizes` is issue 14's table: CBR-Small and ResNet-50 at 28² batch 64, 64² batch 32, 128² batch 16,
 * Inception-v3 at 128² and 299² batch 16. `--tune FILE` (default) measures each conv's backward formulation
 * once per shape and thread count (bench/tune.ts) and caches the choices in FILE; `--no-tune` uses the
 * Conv rule's fixed choices. `--no-nchwc` runs the convolutions on onnxruntime's plain kernels instead of the
 * blocked-channel ones (lib/graph/nchwc.ts), for comparison.
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import process from "node:process";
import { getModel } from "../lib/models/registry.ts";
import { paramSpecs } from "../lib/models/registry.ts";
import { randomInit } from "../lib/models/init.ts";
import { buildTrainGraph, type ModelFn, trainGraphOptionsFor } from "../lib/train/step.ts";
import { nchwcBlockSize, resolveBackend } from "../lib/train/backend.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { convChoiceHook, tuneConvs } from "./tune.ts";
import { median, STEP_OPTIONS, TORCH_NAME, writeLatest } from "./common.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...STEP_OPTIONS,
    steps: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    out: { type: "string", default: "bench/results/engine.md" },
    child: { type: "string" },
    grid: { type: "string" },
    tune: { type: "string", default: "out/bench/conv_tune.json" },
    "no-tune": { type: "boolean", default: false },
    "no-nchwc": { type: "boolean", default: false },
    "tune-only": { type: "boolean", default: false },
  },
});
const batch = Number(values.batch), size = Number(values.size), steps = Number(values.steps);
const threads = Number(values.threads), rounds = Number(values.rounds);

/** What one measurement (ours or torch's) reports. */
interface Result {
  ms_per_step: number;
  peak_rss_mib: number;
  build_s?: number;
  session_s?: number;
  /** conv formulation tuning (0 when cached or off) */
  tune_s?: number;
  /** the chosen formulations, "dx/dw" per conv in graph order */
  choices?: string;
  all_ms?: number[];
  /** process CPU time per step (user + system, all threads; includes onnxruntime's spin-waiting) */
  cpu_ms?: number;
}

function peakRssMib(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Child mode: trains `name` for 2 + steps steps on one fixed random batch and prints one JSON line. */
async function child(name: string): Promise<void> {
  const def = getModel(name);
  const opts = { classes: 5, aux: false, transformInput: false };
  const model: ModelFn = (net, x) => def.build(net, x, opts);
  const state = randomInit(paramSpecs(name, { ...opts, inputSize: size }), 1);
  const lowering = { nchwc: !values["no-nchwc"] };
  const backend = await resolveBackend(lowering);
  let t = performance.now();
  // timed alone, as the Trainer builds it (Trainer.create builds its own)
  buildTrainGraph(model, { batch, size }, trainGraphOptionsFor(backend));
  const buildS = (performance.now() - t) / 1000;
  t = performance.now();
  const tuneFile = values["no-tune"] ? undefined : values.tune!;
  let convChoices;
  if (tuneFile) {
    await Deno.mkdir(tuneFile.replace(/[^/]*$/, "") || ".", { recursive: true });
    convChoices = await tuneConvs(model, { batch, size }, tuneFile, {
      threads,
      backend,
    });
  }
  const tuneS = Math.max(0, (performance.now() - t) / 1000 - buildS);
  if (values["tune-only"]) {
    console.log(JSON.stringify({ tune_s: tuneS }));
    return;
  }
  t = performance.now();
  const trainer = await Trainer.create(model, state, {
    batch,
    size,
    threads,
    lr: 1e-3,
    convChoice: convChoices && convChoiceHook(convChoices),
    backend,
  });
  const sessionS = (performance.now() - t) / 1000 - buildS;
  const x = new Float32Array(batch * 3 * size * size);
  let s = 1;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = s / 2 ** 32 - 0.5;
  }
  const y = Int32Array.from({ length: batch }, (_, i) => i % 5);
  const times: number[] = [], cpu: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    t = performance.now();
    const c = process.cpuUsage();
    await trainer.step(x, y);
    const dc = process.cpuUsage(c);
    if (i >= 2) {
      times.push(performance.now() - t);
      cpu.push((dc.user + dc.system) / 1000);
    }
  }
  await trainer.release();
  const r: Result = {
    ms_per_step: median(times),
    peak_rss_mib: peakRssMib(),
    build_s: buildS,
    session_s: sessionS,
    tune_s: tuneS,
    choices: convChoices
      ? Object.values(convChoices).map((c) => `${c.dx ?? "-"}/${c.dw}`).join(" ")
      : "default",
    all_ms: times.map((v) => Math.round(v)),
    cpu_ms: median(cpu),
  };
  console.log(JSON.stringify(r));
}

async function run(cmd: string, args: string[]): Promise<Result> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return JSON.parse(text);
}

/** Issue 14's table: every size the engine is compared at below 587². */
const SIZES_GRID = "cbr-small@28:64,resnet50@28:64,cbr-small@64:32,resnet50@64:32,cbr-small@128:16," +
  "resnet50@128:16,inception_v3@128:16,inception_v3@299:16";

/** One benchmark cell: a model at one input size and batch. */
interface Job {
  model: string;
  size: number;
  batch: number;
}

/** `--grid` entries `[MODEL@]SIZE:BATCH` (no model: every `--models` model), or the models at --size/--batch. */
function jobs(models: string[]): Job[] {
  if (!values.grid) return models.map((model) => ({ model, size, batch }));
  const spec = values.grid === "sizes" ? SIZES_GRID : values.grid;
  return spec.split(",").flatMap((e) => {
    const m = /^(?:([\w-]+)@)?(\d+):(\d+)$/.exec(e.trim());
    if (!m) throw new RangeError(`Grid entry must be [MODEL@]SIZE:BATCH, got '${e}'`);
    const ms = m[1] ? [getModel(m[1]).name] : models;
    return ms.map((model) => ({ model, size: Number(m[2]), batch: Number(m[3]) }));
  });
}

async function main(): Promise<void> {
  const blockUsed = await nchwcBlockSize();
  const models = values.models!.split(",").map((m) => getModel(m.trim()).name);
  const cells = jobs(models);
  const load0 = os.loadavg().map((v) => v.toFixed(2)).join(", ");
  const ours = new Map<Job, Result[]>(), torch = new Map<Job, Result[]>();
  const tuneArgs = [
    ...(values["no-tune"] ? ["--no-tune"] : ["--tune", values.tune!]),
    ...(values["no-nchwc"] ? ["--no-nchwc"] : []),
  ];
  // measure the conv formulations first, each cell in a process of its own: the timing sessions' memory
  // must not count in the measured child's peak RSS (ResNet-50 at 28²: 1462 MiB with tuning in-process,
  // 798 MiB from the cache)
  const tuneS = new Map<Job, number>();
  for (const job of values["no-tune"] ? [] : cells) {
    const res = await run(Deno.execPath(), [
      "run",
      "-A",
      import.meta.filename!,
      "--child",
      job.model,
      "--batch",
      String(job.batch),
      "--size",
      String(job.size),
      "--threads",
      String(threads),
      "--tune-only",
      ...tuneArgs,
    ]);
    tuneS.set(job, res.tune_s ?? 0);
    console.error(`tuned ${job.model} ${job.size}² ×${job.batch} in ${(res.tune_s ?? 0).toFixed(1)} s`);
  }
  for (let r = 0; r < rounds; r++) {
    for (const [ji, job] of cells.entries()) {
      const m = job.model, tag = `${m} ${job.size}² ×${job.batch}`;
      const common = [String(job.batch), String(job.size), String(threads), String(steps)];
      // alternate which framework goes first, round by round and cell by cell
      const oursFirst = (r + ji) % 2 === 0;
      const runOurs = async () => {
        const res = await run(Deno.execPath(), [
          "run",
          "-A",
          import.meta.filename!,
          "--child",
          m,
          "--batch",
          String(job.batch),
          "--size",
          String(job.size),
          "--steps",
          String(steps),
          "--threads",
          String(threads),
          ...tuneArgs,
        ]);
        ours.set(job, [...(ours.get(job) ?? []), res]);
        console.error(
          `ours  ${tag}: ${res.ms_per_step.toFixed(0)} ms ${JSON.stringify(res.all_ms)}, ` +
            `${res.peak_rss_mib.toFixed(0)} MiB, conv dx/dw: ${res.choices}`,
        );
      };
      const runTorch = async () => {
        const res = await run("/usr/bin/python3", ["bench/torch_train.py", TORCH_NAME[m] ?? m, ...common]);
        torch.set(job, [...(torch.get(job) ?? []), res]);
        console.error(`torch ${tag}: ${res.ms_per_step.toFixed(0)} ms, ${res.peak_rss_mib.toFixed(0)} MiB`);
      };
      if (oursFirst) {
        await runOurs();
        await runTorch();
      } else {
        await runTorch();
        await runOurs();
      }
    }
  }
  const load1 = os.loadavg().map((v) => v.toFixed(2)).join(", ");
  const best = (rs: Result[]) => median(rs.map((r) => r.ms_per_step));
  const rss = (rs: Result[]) => Math.max(...rs.map((r) => r.peak_rss_mib));
  const rows = cells.map((job) => {
    const o = ours.get(job)!, t = torch.get(job)!;
    const om = best(o), tm = best(t), orss = rss(o), trss = rss(t);
    // each round's ours and torch ran back to back: their ratio is less exposed to the load drifting
    const ratio = median(o.map((r, i) => t[i].ms_per_step / r.ms_per_step));
    const runs = o.map((r, i) => `${r.ms_per_step.toFixed(0)}/${t[i].ms_per_step.toFixed(0)}`).join(", ");
    return `| ${job.model} | ${job.batch}, ${job.size}² | ${om.toFixed(0)} | ${tm.toFixed(0)} | ${
      ratio.toFixed(2)
    }× | ${runs} | ${orss.toFixed(0)} | ${trss.toFixed(0)} | ${(orss / trss).toFixed(2)}× | ${
      median(o.map((r) => r.build_s!)).toFixed(2)
    } | ${median(o.map((r) => r.session_s!)).toFixed(2)} | ${(tuneS.get(job) ?? 0).toFixed(1)} |`;
  });
  const table = [
    `| model | batch, size | ours ms/step | torch ms/step | throughput ours/torch | rounds (ours/torch ms) | ours peak RSS MiB | torch peak RSS MiB | RSS ours/torch | graph build s | session s | conv tuning s (separate process; 0: cached) |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|`,
    ...rows,
  ].join("\n");
  const choices = cells.map((job) =>
    `- ${job.model} ${job.batch}, ${job.size}²: ${ours.get(job)![0].choices}`
  );
  const machine = `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length} cores, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB; Deno ${Deno.version.deno}, onnxruntime-node 1.30.0; torch from /usr/bin/python3`;
  const shape = values.grid ? `grid ${values.grid}` : `batch ${batch}, 3×${size}×${size}`;
  const header = [
    `Run ${new Date().toISOString()}: ${shape}, 5 classes, ${threads} threads, ` +
    `median of ${steps} steps after 2 warm-ups, ${rounds} round(s) (ms columns: median over rounds; ratio: median of ` +
    `the per-round ratios), each model in its own process, ours and torch alternately; conv backward ` +
    `formulations ${
      values["no-tune"] ? "fixed (--no-tune)" : `measured per shape (cache ${values.tune})`
    }; ` +
    `convolutions ${
      values["no-nchwc"]
        ? "on the plain kernels (--no-nchwc)"
        : `lowered to the blocked-channel kernels (block ${blockUsed})`
    }.`,
    `Machine: ${machine}. Load average (1, 5, 15 min) before: ${load0}; after: ${load1}.`,
  ].join("\n");
  const body =
    `${header}\n\n${table}\n\nConv backward formulations (dX/dW per distinct conv shape, graph order):\n\n${
      choices.join("\n")
    }`;
  console.log(body);
  if (!values["no-write"]) await writeLatest(values.out!, body, "Training engine benchmark");
}

if (values.child) await child(values.child);
else await main();
