/**
 * `deno task analyze [study flags] [--force] [--bootstrap-reps N] [--quiet]`
 * Reads every finished run directory of the study under `--out` (all shards) and writes
 * `<out>/analysis.json`: mean ± sd per model and init, convergence speed, DeLong tests and bootstrap CIs
 * between inits, SVCCA / PWCCA / CKA per layer, and the missing runs. A rerun over unchanged runs is a no-op.
 * Permissions: --allow-read=OUT,. (run folders; .git and deno.lock for provenance; node_modules for
 * onnxruntime, which runs the large CCA products) --allow-write=OUT --allow-ffi
 * --allow-sys=cpus,osRelease,systemMemoryInfo; add --no-prompt (unreadable weights get no checksum).
 * @module
 */
import { analyzeStudy } from "../lib/study/analyze.ts";
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { preflight } from "../lib/study/preflight.ts";
import { exitCode } from "../lib/util/cli.ts";
import { exists, removeLeftoverTmp } from "../lib/util/fs.ts";
import { stopOnSignals, withLocks } from "../lib/util/lock.ts";

const HELP = `Usage: deno task analyze [study flags] [--force] [--bootstrap-reps N] [--quiet]

Analyses the finished runs under --out (default out/) and writes OUT/analysis.json. Use the same study
flags as the training command (preset, models, inits, seeds, out), so the grid and its missing runs match.

  --force              recompute even when analysis.json matches the run folders
  --bootstrap-reps N   bootstrap resamples per comparison (default 2000)
  --quiet              no progress lines on stderr
  -h, --help           this text

${STUDY_USAGE}`;

/** Splits this task's own flags from the study flags that resolveConfig parses. */
function ownFlags(argv: string[]) {
  const rest: string[] = [];
  let force = false, quiet = false, help = false, reps = 2000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--force") force = true;
    else if (a === "--quiet") quiet = true;
    else if (a === "-h" || a === "--help") help = true;
    else if (a === "--bootstrap-reps" || a.startsWith("--bootstrap-reps=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) {
        throw new RangeError(`--bootstrap-reps must be a whole number ≥ 1, got "${v ?? ""}"`);
      }
      reps = Number(v);
    } else rest.push(a);
  }
  return { rest, force, quiet, help, reps };
}

/** Runs the analyze task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("analyze", async () => {
    const own = ownFlags(argv);
    if (own.help) {
      console.log(HELP);
      return;
    }
    const config = resolveConfig(own.rest, { requireInputs: false });
    await preflight(config, ["study"]);
    const t0 = performance.now();
    // one writer of the study folder's analysis.json (and report) at a time; nothing to lock in no folder
    const r = await withLocks((await exists(config.out)) ? [config.out] : [], async () => {
      // a kill mid-write of analysis.json or the report left its temp file (only they write at the top)
      await removeLeftoverTmp(config.out);
      return await analyzeStudy(config, {
        force: own.force,
        bootstrapReps: own.reps,
        log: own.quiet ? undefined : (line) => console.error(line),
      });
    });
    const total = r.runs.length + r.missing.length;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `analyze: ${r.runs.length} of ${total} runs finished` +
        (r.missing.length ? ` (missing: ${r.missing.map((m) => m.id).join(", ")})` : "") +
        `; ${r.comparisons.length} comparisons, ${r.similarity.length} similarity rows; ` +
        `${config.out}/analysis.json (${secs} s)`,
    );
  });
}

if (import.meta.main) {
  stopOnSignals("analyze");
  Deno.exit(await main(Deno.args));
}
