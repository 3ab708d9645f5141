/**
 * The study's steps as `deno task reproduce` runs them: each its own Deno process with only the permissions
 * it needs (reads of the project, the data, the weights and `--out`; writes of `--out`; no network). One
 * table, read by reproduce and by the test that runs the steps as configured.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
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

/**
 * What every step that loads onnxruntime-node or sharp needs beside its paths: they are Node-API addons
 * (ffi), read a few environment variables, and the loaders count cores (sys).
 */
export const ADDONS: string[] = ["--allow-env", "--allow-ffi", "--allow-sys"];

/**
 * `path` made absolute and, where links lead elsewhere, the real path too: Deno checks a permission against
 * the path a step names, and the real path is what a step reads after resolving links (the vendored-file
 * check, path confinement). A path not made yet (an `--out`) is taken through its nearest existing folder.
 */
export async function withRealPath(path: string): Promise<string[]> {
  const abs = resolve(path);
  const rest: string[] = [];
  for (let head = abs;;) {
    try {
      const real = join(await Deno.realPath(head), ...rest);
      return real === abs ? [abs] : [abs, real];
    } catch {
      const up = dirname(head);
      if (up === head) return [abs];
      rest.unshift(basename(head));
      head = up;
    }
  }
}

/**
 * What reading the study's data takes: a folder itself; a listing file (a CSV) its folder, where the photos
 * it names lie; an `.npz` itself.
 */
async function dataReads(path: string): Promise<string[]> {
  const abs = resolve(path);
  const st = await Deno.stat(abs).catch(() => null);
  return await withRealPath(st?.isFile && !/\.npz$/i.test(abs) ? dirname(abs) : abs);
}

/**
 * The steps in order for `c`, `root` being the project folder. Every step reads the project itself: worker
 * threads load their module files from it, and the report hashes deno.lock and reads the git commit for its
 * provenance section. The user's data, weights and `--out` may lie anywhere on disk: each step may read
 * exactly those it uses (and where they are links, what they lead to).
 *
 * @example
 * ```ts
 * import { studySteps } from "./steps.ts";
 * import { resolveConfig } from "./config.ts";
 * const steps = await studySteps(resolveConfig(["--preset", "synthetic"]), "/project");
 * const names = steps.map((s) => s.name);
 * if (names.join() !== "preflight,data,pretrain,train,analyze,report") throw new Error(names.join());
 * ```
 */
export async function studySteps(c: StudyConfig, root: string): Promise<StudyStep[]> {
  const out = await withRealPath(c.out);
  const weights = (await Promise.all(Object.values(c.weights as Record<string, string>).map(withRealPath)))
    .flat();
  const data = c.data.kind === "path" ? await dataReads(c.data.path) : [];
  return [
    // every check before any work (lib/study/preflight.ts): reads what the steps will read, writes nothing
    {
      name: "preflight",
      read: c.allowOutsidePaths ? [] : [root, ...data, ...out, ...weights],
      write: [],
      allow: ADDONS,
    },
    // --allow-outside-paths: the user vouches for a listing that names photos anywhere
    {
      name: "data",
      read: c.allowOutsidePaths ? [] : [root, ...data, ...out],
      write: out,
      allow: ADDONS,
    },
    ...(c.source ? [{ name: "pretrain", read: [root, ...out], write: out, allow: ADDONS }] : []),
    { name: "train", read: [root, ...out, ...weights], write: out, allow: ADDONS },
    // CCA's large products run through onnxruntime
    { name: "analyze", read: [root, ...out], write: out, allow: ["--allow-ffi", "--allow-sys"] },
    { name: "report", read: [root, ...out, ...weights], write: out, allow: ["--allow-sys"] },
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

/**
 * How a task's own flag (beside the study flags) is used: a switch (`ffi-switch`: one that loads a native
 * addon), a plain value, or a path that it reads (a file or folder), reads as a listing (its folder too, where
 * the photos it names lie), writes as a folder, or writes as a file (its folder: files are written atomically
 * through a temp file beside them).
 */
export type FlagKind = "switch" | "ffi-switch" | "value" | "read" | "listing" | "write-dir" | "write-file";

/** The study steps' own flags, for running one step alone (`deno task analyze --force`, `report --dir D`). */
export const STEP_FLAGS: Readonly<Record<string, Readonly<Record<string, FlagKind>>>> = {
  analyze: { force: "switch", "bootstrap-reps": "value", quiet: "switch" },
  report: { analysis: "read", dir: "write-dir", manifest: "read", png: "ffi-switch" },
};

/** The tool tasks beside the study steps, and the path flags each takes. */
export const TOOLS: Readonly<Record<string, Readonly<Record<string, FlagKind>>>> = {
  synth: { out: "write-dir" },
  preprocess: { data: "listing", out: "write-dir" },
  predict: { weights: "read", input: "read", out: "write-file" },
  export: { run: "read", out: "write-file" },
};

/** One of a task's own flags found in its arguments. */
interface OwnFlag {
  /** the flag's name, without dashes */
  name: string;
  kind: FlagKind;
  /** its value (`--x V` or `--x=V`), absent for a switch or a value missing at the end */
  value?: string;
}

/** Splits `argv` into the flags `kinds` names (with their values) and the rest, in order. */
function pickFlags(
  argv: readonly string[],
  kinds: Readonly<Record<string, FlagKind>>,
): { rest: string[]; own: OwnFlag[] } {
  const rest: string[] = [], own: OwnFlag[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    const kind = m ? kinds[m[1]] : undefined;
    if (!kind) rest.push(argv[i]);
    else if (kind === "switch" || kind === "ffi-switch") own.push({ name: m![1], kind });
    else own.push({ name: m![1], kind, value: m![2] ?? argv[++i] });
  }
  return { rest, own };
}

/** The flags that give `own` back to a task. */
function flagArgs(own: readonly OwnFlag[]): string[] {
  return own.flatMap((f) => [`--${f.name}`, ...(f.value === undefined ? [] : [f.value])]);
}

/** What a path flag's value lets its task read and write (links' targets included). */
async function pathAccess(kind: FlagKind, path: string): Promise<{ read: string[]; write: string[] }> {
  switch (kind) {
    case "read":
      return { read: await withRealPath(path), write: [] };
    case "listing":
      return { read: await dataReads(path), write: [] };
    case "write-dir": {
      const p = await withRealPath(path);
      return { read: p, write: p };
    }
    case "write-file": {
      const p = await withRealPath(dirname(path));
      return { read: p, write: p };
    }
    default:
      return { read: [], write: [] };
  }
}

/**
 * Splits `argv` into the study flags and `step`'s own flags, and widens the step's permissions by the files
 * its own flags name (each exactly: a report written to `--dir D` may write D, nothing else).
 *
 * @example
 * ```ts
 * import { ownStepFlags } from "./steps.ts";
 * const step = { name: "report", read: ["/p"], write: ["/o"], allow: [] };
 * const r = await ownStepFlags(step, ["--epochs", "2", "--dir", "/tmp/r", "--png"]);
 * if (r.study.join(" ") !== "--epochs 2" || r.own.length !== 3) throw new Error("split");
 * ```
 */
export async function ownStepFlags(
  step: StudyStep,
  argv: readonly string[],
): Promise<{ study: string[]; own: string[]; step: StudyStep }> {
  const { rest, own } = pickFlags(argv, STEP_FLAGS[step.name] ?? {});
  const out: StudyStep = { ...step, read: [...step.read], write: [...step.write], allow: [...step.allow] };
  for (const f of own) {
    if (f.kind === "ffi-switch" && !out.allow.includes("--allow-ffi")) out.allow.push("--allow-ffi");
    if (f.value === undefined) continue;
    const access = await pathAccess(f.kind, f.value);
    // an unrestricted read stays unrestricted
    if (out.read.length) out.read.push(...access.read);
    out.write.push(...access.write);
  }
  return { study: rest, own: flagArgs(own), step: out };
}

/**
 * The `deno run` arguments that run tool `name` with `argv` reading and writing only what its path flags name
 * (and the project `root`): each path made absolute against `cwd` (the user's folder), links' targets added.
 * `preprocess --allow-outside-paths` reads anywhere, as a listing naming photos anywhere needs.
 *
 * @example
 * ```ts
 * import { toolArgs } from "./steps.ts";
 * const a = await toolArgs("synth", ["--out", "photos", "--count", "3"], "/project", "/home/me");
 * if (!a.includes("--allow-write=/home/me/photos") || !a.includes("/home/me/photos")) throw new Error(a.join(" "));
 * ```
 */
export async function toolArgs(
  name: string,
  argv: readonly string[],
  root: string,
  cwd: string,
): Promise<string[]> {
  const kinds = TOOLS[name];
  if (!kinds) throw new RangeError(`Unknown tool "${name}" (known: ${Object.keys(TOOLS).join(", ")})`);
  const { rest, own } = pickFlags(argv, kinds);
  const read = [root], write: string[] = [];
  for (const f of own) {
    if (f.value === undefined) continue;
    f.value = resolve(cwd, f.value);
    const access = await pathAccess(f.kind, f.value);
    read.push(...access.read);
    write.push(...access.write);
  }
  const args = [...flagArgs(own), ...rest];
  const anywhere = name === "preprocess" && args.includes("--allow-outside-paths");
  return [
    "run",
    "--no-prompt",
    anywhere ? "--allow-read" : `--allow-read=${[...new Set(read)].join(",")}`,
    ...(write.length ? [`--allow-write=${[...new Set(write)].join(",")}`] : []),
    ...ADDONS,
    join(root, "tasks", `${name}.ts`),
    ...args,
  ];
}
