/**
 * Training-step benchmark of the engine (lib/train's Trainer: onnxruntime-node session + Adam in TypeScript +
 * BN buffer copy) against PyTorch on the same machine, same script run: median ms per step after 2 warm-ups,
 * peak RSS, graph build and session creation time. Each model runs in its own child process (so RSS is per
 * model), ours and torch's alternately.
 *
 * Usage: deno run -A bench/train.ts [--models cbr-small,resnet50,inception_v3] [--batch 16] [--size 128]
 *        [--steps 5] [--threads 2] [--rounds 1] [--out bench/results/engine.md] [--no-write]
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import process from "node:process";
import { getModel } from "../lib/models/registry.ts";
import { paramSpecs } from "../lib/models/registry.ts";
import { randomInit } from "../lib/models/init.ts";
import { buildTrainGraph, type ModelFn } from "../lib/train/step.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { median, STEP_OPTIONS, TORCH_NAME, writeLatest } from "./common.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...STEP_OPTIONS,
    steps: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    out: { type: "string", default: "bench/results/engine.md" },
    child: { type: "string" },
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
  let t = performance.now();
  buildTrainGraph(model, { batch, size }); // timed alone; Trainer.create builds its own
  const buildS = (performance.now() - t) / 1000;
  t = performance.now();
  const trainer = await Trainer.create(model, state, { batch, size, threads, lr: 1e-3 });
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

async function main(): Promise<void> {
  const models = values.models!.split(",").map((m) => getModel(m.trim()).name);
  const load0 = os.loadavg().map((v) => v.toFixed(2)).join(", ");
  const ours = new Map<string, Result[]>(), torch = new Map<string, Result[]>();
  const common = [String(batch), String(size), String(threads), String(steps)];
  for (let r = 0; r < rounds; r++) {
    for (const [mi, m] of models.entries()) {
      // alternate which framework goes first, round by round and model by model
      const oursFirst = (r + mi) % 2 === 0;
      const runOurs = async () => {
        const res = await run(Deno.execPath(), [
          "run",
          "-A",
          import.meta.filename!,
          "--child",
          m,
          "--batch",
          String(batch),
          "--size",
          String(size),
          "--steps",
          String(steps),
          "--threads",
          String(threads),
        ]);
        ours.set(m, [...(ours.get(m) ?? []), res]);
        console.error(
          `ours  ${m}: ${res.ms_per_step.toFixed(0)} ms ${JSON.stringify(res.all_ms)}, ` +
            `${res.peak_rss_mib.toFixed(0)} MiB`,
        );
      };
      const runTorch = async () => {
        const res = await run("/usr/bin/python3", ["bench/torch_train.py", TORCH_NAME[m] ?? m, ...common]);
        torch.set(m, [...(torch.get(m) ?? []), res]);
        console.error(`torch ${m}: ${res.ms_per_step.toFixed(0)} ms, ${res.peak_rss_mib.toFixed(0)} MiB`);
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
  const rows = models.map((m) => {
    const o = ours.get(m)!, t = torch.get(m)!;
    const om = best(o), tm = best(t), orss = rss(o), trss = rss(t);
    // each round's ours and torch ran back to back: their ratio is less exposed to the load drifting
    const ratio = median(o.map((r, i) => t[i].ms_per_step / r.ms_per_step));
    const runs = o.map((r, i) => `${r.ms_per_step.toFixed(0)}/${t[i].ms_per_step.toFixed(0)}`).join(", ");
    return `| ${m} | ${om.toFixed(0)} | ${tm.toFixed(0)} | ${ratio.toFixed(2)}× | ${runs} | ${
      orss.toFixed(0)
    } | ${trss.toFixed(0)} | ${(orss / trss).toFixed(2)}× | ${
      median(o.map((r) => r.build_s!)).toFixed(2)
    } | ${median(o.map((r) => r.session_s!)).toFixed(2)} |`;
  });
  const table = [
    `| model | ours ms/step | torch ms/step | throughput ours/torch | rounds (ours/torch ms) | ours peak RSS MiB | torch peak RSS MiB | RSS ours/torch | graph build s | session s |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
    ...rows,
  ].join("\n");
  const machine = `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length} cores, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB; Deno ${Deno.version.deno}, onnxruntime-node 1.30.0; torch from /usr/bin/python3`;
  const header = [
    `Run ${new Date().toISOString()}: batch ${batch}, 3×${size}×${size}, 5 classes, ${threads} threads, ` +
    `median of ${steps} steps after 2 warm-ups, ${rounds} round(s) (ms columns: median over rounds; ratio: median of ` +
    `the per-round ratios), each model in its own process, ours and torch alternately.`,
    `Machine: ${machine}. Load average (1, 5, 15 min) before: ${load0}; after: ${load1}.`,
  ].join("\n");
  console.log(`${header}\n\n${table}`);
  if (!values["no-write"]) {
    await writeLatest(values.out!, `${header}\n\n${table}`, "Training engine benchmark");
  }
}

if (values.child) await child(values.child);
else await main();
