/**
 * `deno task reproduce [study flags]`: the whole study into `<out>/report.md`. Runs each step as its own
 * Deno process with only the permissions that step needs — data (reads the photos, writes the cache),
 * pretrain, train (reads the cache and the weights, writes runs), analyze, report — and no network for
 * any of them. Every step is idempotent, so a rerun resumes where the last one stopped.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configToArgs, resolveConfig, STUDY_USAGE, type StudyConfig } from "../lib/study/config.ts";
import { runCli } from "../lib/util/cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// onnxruntime-node and sharp are Node-API addons (ffi); they read a few environment variables and the
// loaders count cores (sys)
const ADDONS = ["--allow-env", "--allow-ffi", "--allow-sys"];

/** The steps in order, each with the paths it may read and write and the other permissions it needs. */
function steps(c: StudyConfig): { name: string; read: string[]; write: string[]; allow: string[] }[] {
  const out = resolve(c.out);
  const weights = Object.values(c.weights as Record<string, string>).map((w) => resolve(w));
  const data = c.data.kind === "path" ? [resolve(c.data.path)] : [];
  // every step reads the project itself: worker threads load their module files from it, and the report
  // hashes deno.lock and reads the git commit for its provenance section
  return [
    { name: "data", read: [ROOT, ...data, out], write: [out], allow: ADDONS },
    ...(c.source ? [{ name: "pretrain", read: [ROOT, out], write: [out], allow: ADDONS }] : []),
    { name: "train", read: [ROOT, out, ...weights], write: [out], allow: ADDONS },
    // CCA's large products run through onnxruntime
    { name: "analyze", read: [ROOT, out], write: [out], allow: ["--allow-ffi", "--allow-sys"] },
    { name: "report", read: [ROOT, out, ...weights], write: [out], allow: ["--allow-sys"] },
  ];
}

await runCli("reproduce", async () => {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`Usage: deno task reproduce [flags]\n\nRuns the whole study.\n\n${STUDY_USAGE}`);
    return;
  }
  const config = resolveConfig(Deno.args);
  const args = configToArgs(config);
  const t0 = performance.now();
  for (const step of steps(config)) {
    const flags = [
      `--allow-read=${step.read.join(",")}`,
      `--allow-write=${step.write.join(",")}`,
      ...step.allow,
    ];
    console.error(`reproduce: step ${step.name}`);
    const st = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, join(ROOT, "tasks", `${step.name}.ts`), ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!st.success) {
      throw new Error(`step ${step.name} failed (exit ${st.code}); rerun the same command to resume`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`reproduce: report at ${join(resolve(config.out), "report.md")} (${secs.toFixed(0)} s)`);
});
