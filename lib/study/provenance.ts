/**
 * Provenance: what a reader needs to rerun the study from its report alone — the commit, the resolved
 * configuration and the exact command, the versions of the runtime and the libraries, checksums of the
 * lockfile, data manifest and weights, and the machine. Reads `.git` directly so no `git` process (and no
 * `--allow-run`) is needed.
 * @module
 */
import { sha256File } from "../util/fs.ts";
import os from "node:os";
import { join, resolve } from "node:path";
import { configToArgs, type StudyConfig } from "./config.ts";

/**
 * Versions of the npm packages, as pinned by the `npm:` specifiers in `lib/` (a test checks them against
 * deno.json); constants, so collecting provenance loads none of them.
 */
export const PINNED_VERSIONS = {
  onnxruntime: "1.30.0",
  sharp: "0.35.5",
  vega: "6.4.0",
  vegaLite: "6.5.0",
} as const;

/** A file and its SHA-256 (hex), or null when it could not be read. */
export interface FileHash {
  /** the file as named in the configuration */
  path: string;
  /** hex digest, or null when unreadable */
  sha256: string | null;
}

/** Everything the report's provenance section prints. */
export interface Provenance {
  /** commit SHA, or "unknown" (no .git, or no commit yet) */
  gitCommit: string;
  /** branch ("main") or null for a detached HEAD or no .git */
  gitBranch: string | null;
  /** the command that reruns this study from scratch */
  command: string;
  /** the arguments this process was started with */
  argv: string[];
  /** the resolved configuration */
  config: StudyConfig;
  /** runtime and library versions by name */
  versions: Record<string, string>;
  /** checksum of deno.lock */
  denoLock: FileHash | null;
  /** checksum of the data manifest */
  dataManifest: FileHash | null;
  /** checksum of each pretrained weights file */
  weights: (FileHash & { model: string })[];
  /** the machine the provenance was collected on */
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    os: string;
    /** GPU name(s), or null when none was found (or not asked) */
    gpu: string | null;
    /** the device the runs asked for */
    device: string;
  };
  /** ISO time the provenance was collected */
  collectedAt: string;
}

/** Options of {@linkcode collectProvenance}. */
export interface ProvenanceOptions {
  /** the resolved configuration */
  config: StudyConfig;
  /** the arguments to record; default `Deno.args` */
  argv?: string[];
  /** repository root holding `.git` and `deno.lock`; default the current directory */
  root?: string;
  /** the data manifest written by the data step, if any */
  dataManifest?: string;
  /** GPU description; default: asks `nvidia-smi` when the device is not cpu (null without --allow-run) */
  gpu?: string | null;
}

/** True when this process may read `path` without a permission prompt (a prompt would stall a pipeline). */
async function mayRead(path: string): Promise<boolean> {
  return (await Deno.permissions.query({ name: "read", path })).state === "granted";
}

async function hashOrNull(path: string): Promise<FileHash> {
  if (!(await mayRead(path))) return { path, sha256: null };
  try {
    return { path, sha256: await sha256File(path) };
  } catch {
    return { path, sha256: null };
  }
}

async function readText(path: string): Promise<string | null> {
  if (!(await mayRead(path))) return null;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    return null;
  }
}

/**
 * The checked-out commit, read from `.git` (loose ref, `packed-refs`, or a `gitdir:` file of a worktree).
 *
 * @example
 * ```ts
 * import { gitCommit } from "./provenance.ts";
 * const { commit, branch } = await gitCommit(".");
 * ```
 */
export async function gitCommit(root: string): Promise<{ commit: string; branch: string | null }> {
  let gitDir = join(root, ".git");
  const pointer = await readText(gitDir);
  if (pointer?.startsWith("gitdir:")) gitDir = resolve(root, pointer.slice("gitdir:".length).trim());
  const head = await readText(join(gitDir, "HEAD"));
  if (head === null) return { commit: "unknown", branch: null };
  if (/^[0-9a-f]{40,64}$/.test(head)) return { commit: head, branch: null };
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return { commit: "unknown", branch: null };
  const branch = ref.replace(/^refs\/heads\//, "");
  // Worktrees keep HEAD in their own folder but refs in the common one.
  const common = await readText(join(gitDir, "commondir"));
  const dirs = common ? [gitDir, resolve(gitDir, common)] : [gitDir];
  for (const dir of dirs) {
    const loose = await readText(join(dir, ref));
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return { commit: loose, branch };
    const packed = await readText(join(dir, "packed-refs"));
    const line = packed?.split("\n").find((l) => l.endsWith(` ${ref}`));
    if (line) return { commit: line.split(" ")[0], branch };
  }
  return { commit: "unknown", branch };
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The command that reruns the whole study with exactly this configuration (all shards, every field
 * spelled out), for a fresh clone: `npx -y deno@2.9.6 task reproduce ...`.
 */
export function rerunCommand(config: StudyConfig): string {
  const args = configToArgs({ ...config, shard: null });
  return ["npx", "-y", `deno@${Deno.version.deno}`, "task", "reproduce", ...args].map(shellQuote).join(" ");
}

/** Names of the machine's NVIDIA GPUs via `nvidia-smi`, or null (none, no driver, or no --allow-run). */
export async function detectGpu(): Promise<string | null> {
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=name,memory.total", "--format=csv,noheader"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return out.success && text ? text.split("\n").map((l) => l.trim()).join("; ") : null;
  } catch {
    return null;
  }
}

/**
 * Collects the study's provenance. Files that cannot be read get a null checksum rather than an error, so
 * a report can always be written; the report shows them as "unreadable".
 *
 * @example
 * ```ts
 * import { collectProvenance } from "./provenance.ts";
 * import { resolveConfig } from "./config.ts";
 * const p = await collectProvenance({ config: resolveConfig([]), argv: [], gpu: null });
 * if (!p.command.includes("task reproduce")) throw new Error("no rerun command");
 * ```
 */
export async function collectProvenance(opts: ProvenanceOptions): Promise<Provenance> {
  const root = opts.root ?? ".";
  const { commit, branch } = await gitCommit(root);
  const weights: Provenance["weights"] = [];
  for (const [model, path] of Object.entries(opts.config.weights)) {
    weights.push({ model, ...(await hashOrNull(path)) });
  }
  const cpus = os.cpus();
  const gpu = opts.gpu !== undefined ? opts.gpu : opts.config.device === "cpu" ? null : await detectGpu();
  return {
    gitCommit: commit,
    gitBranch: branch,
    command: rerunCommand(opts.config),
    argv: opts.argv ?? [...Deno.args],
    config: opts.config,
    versions: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      "onnxruntime-node": PINNED_VERSIONS.onnxruntime,
      sharp: PINNED_VERSIONS.sharp,
      vega: PINNED_VERSIONS.vega,
      "vega-lite": PINNED_VERSIONS.vegaLite,
    },
    denoLock: await hashOrNull(join(root, "deno.lock")),
    dataManifest: opts.dataManifest ? await hashOrNull(opts.dataManifest) : null,
    weights,
    machine: {
      cpu: cpus[0]?.model?.trim() || "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
      os: `${Deno.build.os} ${os.release()} (${Deno.build.arch})`,
      gpu,
      device: opts.config.device,
    },
    collectedAt: new Date().toISOString(),
  };
}
