/**
 * `deno task reproduce [study flags]`: the whole study into `<out>/report.md`. Runs each step as its own
 * Deno process with only the permissions that step needs — data (reads the photos, writes the cache),
 * pretrain, train (reads the cache and the weights, writes runs), analyze, report — and no network for
 * any of them. Every step is idempotent, so a rerun resumes where the last one stopped. SIGTERM or SIGINT
 * is passed on to the step under way, which releases its locks and exits; then this process exits too, with
 * one line, so no process is left behind.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configToArgs, resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { ADDONS, ownStepFlags, stepArgs, type StudyStep, studySteps } from "../lib/study/steps.ts";
import { exitCode } from "../lib/util/cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
/** the step under way, and the signal that asked this process to stop */
let child: Deno.ChildProcess | null = null;
let current = "setup";
let stop: keyof typeof SIGNALS | null = null;

function stopped(step: string): never {
  console.error(
    `reproduce: stopped by ${stop} during step ${step}; finished work is kept: rerun the same command to resume`,
  );
  Deno.exit(128 + SIGNALS[stop!]);
}

for (const sig of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) {
  try {
    Deno.addSignalListener(sig, () => {
      if (stop) return;
      stop = sig;
      if (!child) stopped(current);
      try {
        child.kill(sig);
      } catch {
        // it has just ended
      }
      // a step stops within a moment (its signal handler exits); one that does not is killed
      const t = setTimeout(() => {
        try {
          child?.kill("SIGKILL");
        } catch {
          // ended meanwhile
        }
      }, 20_000);
      Deno.unrefTimer(t);
    });
  } catch {
    // Windows: no SIGTERM listener
  }
}

/**
 * Runs the reproduce task on `argv`; returns the process exit code. `--step NAME` (how deno.json runs
 * `deno task data`, `train` …) runs that one step alone, with the same permissions as under reproduce.
 */
export function main(argv: string[]): Promise<number> {
  const at = argv.findIndex((a) => a === "--step" || a.startsWith("--step="));
  const only = at < 0 ? null : argv[at].startsWith("--step=") ? argv[at].slice(7) : argv[at + 1] ?? "";
  if (at >= 0) argv = argv.filter((_, i) => i !== at && (argv[at].includes("=") || i !== at + 1));
  const task = only ?? "reproduce";
  return exitCode(task, async () => {
    if (argv.includes("--help") || argv.includes("-h")) {
      if (only === null) {
        console.log(`Usage: deno task reproduce [flags]\n\nRuns the whole study.\n\n${STUDY_USAGE}`);
        return;
      }
      // the step's own help names its own flags (analyze --force, report --dir …) beside the study's
      const help = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          `--allow-read=${ROOT}`,
          ...ADDONS,
          join(ROOT, "tasks", `${only}.ts`),
          "--help",
        ],
        cwd: ROOT,
        stdin: "null",
      }).spawn().status;
      if (!help.success) Deno.exit(help.code);
      return;
    }
    // a step run alone keeps its own flags (analyze --force, report --dir …) and may touch what they name
    let own: string[] = [];
    let widen = (s: StudyStep) => Promise.resolve(s);
    if (only !== null) {
      const split = await ownStepFlags({ name: only, read: [], write: [], allow: [] }, argv);
      argv = split.study;
      own = split.own;
      widen = async (s) => (await ownStepFlags(s, own)).step;
    }
    // relative paths are the user's, not the project folder's where deno task runs this
    const config = resolveConfig(argv, {
      cwd: Deno.env.get("INIT_CWD") ?? Deno.cwd(),
      requireInputs: only === null || !["analyze", "report"].includes(only),
    });
    const args = configToArgs(config);
    const all = await studySteps(config, ROOT);
    const steps = only === null ? all : await Promise.all(all.filter((s) => s.name === only).map(widen));
    if (!steps.length) {
      throw new RangeError(
        `--step ${only}: no such step in this study (its steps: ${all.map((s) => s.name).join(", ")})`,
      );
    }
    const t0 = performance.now();
    for (const step of steps) {
      current = step.name;
      if (stop) stopped(step.name);
      if (only === null) console.error(`reproduce: step ${step.name}`);
      child = new Deno.Command(Deno.execPath(), {
        args: stepArgs(step, ROOT, [...args, ...own]),
        cwd: ROOT,
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      const st = await child.status;
      child = null;
      if (stop) stopped(step.name);
      if (only !== null) {
        // the step said what went wrong in its own line; its exit code is the task's
        if (!st.success) Deno.exit(st.code);
        return;
      }
      if (!st.success && step.name === "preflight") {
        throw new Error("nothing was started: fix the problem above and rerun");
      }
      if (!st.success) {
        throw new Error(`step ${step.name} failed (exit ${st.code}); rerun the same command to resume`);
      }
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`reproduce: report at ${join(resolve(config.out), "report.md")} (${secs.toFixed(0)} s)`);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
