/**
 * The study's steps as `deno task reproduce` runs them: each its own Deno process with only the permissions
 * it needs (reads of the project, the data, the weights and `--out`; writes of `--out`; no network). One
 * table, read by reproduce and by the test that runs the steps as configured.
 * @module
 */
import { join, resolve } from "node:path";
import type { StudyConfig } from "./config.ts";

/** One step of the study: its task file `tasks/<name>.ts` and what it may touch. */
export interface StudyStep {
  /** task name: `tasks/<name>.ts` */
  name: string;
  /** paths it may read (empty: any) */
  read: string[];
  /** paths it may write (empty: none) */
  write: string[];
  /** the other permission flags */
  allow: string[];
}

// onnxruntime-node and sharp are Node-API addons (ffi); they read a few environment variables and the
// loaders count cores (sys)
const ADDONS = ["--allow-env", "--allow-ffi", "--allow-sys"];

/**
 * The steps in order for `c`, `root` being the project folder. Every step reads the project itself: worker
 * threads load their module files from it, and the report hashes deno.lock and reads the git commit for its
 * provenance section.
 *
 * @example
 * ```ts
 * import { studySteps } from "./steps.ts";
 * import { resolveConfig } from "./config.ts";
 * const names = studySteps(resolveConfig(["--preset", "synthetic"]), "/project").map((s) => s.name);
 * if (names.join() !== "preflight,data,pretrain,train,analyze,report") throw new Error(names.join());
 * ```
 */
export function studySteps(c: StudyConfig, root: string): StudyStep[] {
  const out = resolve(c.out);
  const weights = Object.values(c.weights as Record<string, string>).map((w) => resolve(w));
  const data = c.data.kind === "path" ? [resolve(c.data.path)] : [];
  return [
    // every check before any work (lib/study/preflight.ts): reads what the steps will read, writes nothing
    {
      name: "preflight",
      read: c.allowOutsidePaths ? [] : [root, ...data, out, ...weights],
      write: [],
      allow: ADDONS,
    },
    // --allow-outside-paths: the user vouches for a listing that names photos anywhere
    {
      name: "data",
      read: c.allowOutsidePaths ? [] : [root, ...data, out],
      write: [out],
      allow: ADDONS,
    },
    ...(c.source ? [{ name: "pretrain", read: [root, out], write: [out], allow: ADDONS }] : []),
    { name: "train", read: [root, out, ...weights], write: [out], allow: ADDONS },
    // CCA's large products run through onnxruntime
    { name: "analyze", read: [root, out], write: [out], allow: ["--allow-ffi", "--allow-sys"] },
    { name: "report", read: [root, out, ...weights], write: [out], allow: ["--allow-sys"] },
  ];
}

/**
 * The arguments of `deno` that run `step` with its permissions and the study flags `args` (no prompt: a
 * permission the step lacks is an error, never a question).
 */
export function stepArgs(step: StudyStep, root: string, args: readonly string[]): string[] {
  return [
    "run",
    "--no-prompt",
    step.read.length ? `--allow-read=${step.read.join(",")}` : "--allow-read",
    ...(step.write.length ? [`--allow-write=${step.write.join(",")}`] : []),
    ...step.allow,
    join(root, "tasks", `${step.name}.ts`),
    ...args,
  ];
}
