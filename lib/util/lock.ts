/**
 * One writer per folder: a lock file (`<folder>/.lock`) created atomically, holding the writer's host, PID,
 * start time and the folder it guards. Every step that writes a study folder holds one (the data step, the
 * pretraining, each run folder, analyze, report), so two processes on one `--out` cannot interleave their
 * writes; runs of one grid still train in parallel (`--shard`), each process holding its own runs' locks.
 *
 * Stale locks are taken over with a one-line message: one copied along with its folder (`cp -a`: it names
 * another folder), one whose writer is gone, one cut short while being written. Whether the writer is gone
 * is told by its heartbeat: the holder touches its lock every {@linkcode HEARTBEAT_MS} from a worker thread
 * (so a busy main thread does not stop it). A lock from this host whose writer may be gone is watched for up
 * to {@linkcode LOCAL_STALE_MS}: a touch means a live writer, none means it is gone (a SIGKILL, a crash; the
 * rerun waits those few seconds once). Deno lets a process ask the OS whether a PID runs only with
 * `--allow-run`; where granted, that answers at once. A lock from another host (a shared filesystem on a
 * cluster) counts as abandoned once untouched for {@linkcode FOREIGN_STALE_MS}, so a node that died does not
 * block its resubmitted task for good, while a live writer on another node is never taken over (the hosts'
 * clocks must agree to within that time).
 *
 * Locks are released when their body ends, and on SIGTERM / SIGINT by {@linkcode stopOnSignals}.
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import { join, resolve } from "node:path";
import { errorMessage } from "./errors.ts";

/** The lock file's name inside the folder it guards. */
export const LOCK_NAME = ".lock";
/** How often a holder touches its lock file. */
export const HEARTBEAT_MS = 1_000;
/** A lock of this host untouched this long belongs to a process that is gone. */
export const LOCAL_STALE_MS = 5_000;
/** A lock of another host untouched this long is abandoned (its node died or lost the filesystem). */
export const FOREIGN_STALE_MS = 60_000;

/** What a lock file holds. */
export interface LockInfo {
  /** the writer's host name */
  host: string;
  /** the writer's process id */
  pid: number;
  /** ISO time the lock was taken */
  since: string;
  /** the absolute folder the lock guards (a copied lock names the original) */
  folder: string;
}

/** A held lock. */
export interface Lock {
  /** the lock file */
  path: string;
  /** what the lock file holds */
  info: LockInfo;
  /** removes the lock file (only while it is still this one); idempotent */
  release(): Promise<void>;
}

/** Another live writer holds the folder. */
export class FolderLockedError extends Error {
  /** the other writer */
  readonly holder: LockInfo;
  /** Makes the one-line message from the folder and its holder. */
  constructor(folder: string, holder: LockInfo) {
    super(`${folder} is being written by PID ${holder.pid} on ${holder.host} since ${holder.since}`);
    this.name = "FolderLockedError";
    this.holder = holder;
  }
}

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** where the takeover of a stale lock is reported (default stderr) */
  log?: (line: string) => void;
}

const held = new Map<string, { text: string; beat: Worker }>();

// the heartbeat: a worker thread touching the lock file, so that a main thread busy for minutes still beats
const BEAT = URL.createObjectURL(
  new Blob([
    `self.onmessage = (e) => { const { path, ms } = e.data; setInterval(() => { ` +
    `try { const t = new Date(); Deno.utimeSync(path, t, t); } catch (_) { /* taken over or removed */ } ` +
    `}, ms); };`,
  ], { type: "application/javascript" }),
);

function thisHost(): string {
  try {
    return hostname();
  } catch {
    return "unknown-host";
  }
}

/** True / false when this process may ask the OS whether `pid` runs here (`--allow-run`); null otherwise. */
function alive(pid: number): boolean | null {
  if (pid === Deno.pid) return true;
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") return null;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as { code?: string }).code === "EPERM";
  }
}

async function mtimeMs(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** Why an existing lock is stale, or null when its writer is (or may be) live. */
async function staleReason(
  info: LockInfo,
  folder: string,
  path: string,
  mtime: number,
): Promise<string | null> {
  if (info.folder && resolve(info.folder) !== folder) return `it was copied from ${info.folder}`;
  const secs = (ms: number) => `${Math.round(ms / 1000)} s`;
  if (info.host !== thisHost()) {
    const age = Date.now() - mtime;
    return age > FOREIGN_STALE_MS ? `its heartbeat stopped ${secs(age)} ago` : null;
  }
  const a = alive(info.pid);
  if (a !== null) return a ? null : `PID ${info.pid} is no longer running`;
  // watch the heartbeat: a live holder touches the file within HEARTBEAT_MS
  while (Date.now() - mtime <= LOCAL_STALE_MS) {
    await new Promise((r) => setTimeout(r, 200));
    const m = await mtimeMs(path);
    if (m === null) return "it was released meanwhile";
    if (m !== mtime) return null;
  }
  return `PID ${info.pid} is no longer running (no heartbeat for ${secs(Date.now() - mtime)})`;
}

function parse(text: string): LockInfo | null {
  try {
    const o = JSON.parse(text);
    return typeof o?.pid === "number" && typeof o?.host === "string" ? o as LockInfo : null;
  } catch {
    return null;
  }
}

async function readLock(path: string): Promise<{ text: string; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
    return { text, mtimeMs: st.mtime?.getTime() ?? Date.now() };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read lock ${path}: ${errorMessage(e)}`);
  }
}

/**
 * Takes `<folder>/.lock` for this process, creating the folder if needed. A live writer's lock makes it throw
 * {@linkcode FolderLockedError} ("<folder> is being written by PID N on HOST since <time>"); a stale lock
 * is taken over with a one-line message saying why it was stale.
 *
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await acquireLock(dir);
 * await lock.release();
 * ```
 */
export async function acquireLock(folder: string, opts: LockOptions = {}): Promise<Lock> {
  const log = opts.log ?? ((line: string) => console.error(line));
  folder = resolve(folder);
  const path = join(folder, LOCK_NAME);
  const info: LockInfo = { host: thisHost(), pid: Deno.pid, since: new Date().toISOString(), folder };
  const text = JSON.stringify(info) + "\n";
  await Deno.mkdir(folder, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      // createNew is O_CREAT | O_EXCL: of two processes racing here exactly one succeeds
      const f = await Deno.open(path, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(text));
      } finally {
        f.close();
      }
      const beat = new Worker(BEAT, { type: "module" });
      beat.postMessage({ path, ms: HEARTBEAT_MS });
      held.set(path, { text, beat });
      let released = false;
      return {
        path,
        info,
        release: async () => {
          if (released) return;
          released = true;
          await releasePath(path);
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`Cannot create lock ${path}: ${errorMessage(e)}`);
      }
    }
    const cur = await readLock(path);
    if (!cur) continue; // released in between: try again
    const other = parse(cur.text);
    // a lock file that is not JSON was cut short by a kill while it was being written
    const why = other ? await staleReason(other, folder, path, cur.mtimeMs) : "it is unreadable";
    if (!why) throw new FolderLockedError(folder, other!);
    // move the stale lock aside, then check that what moved is what was judged stale: another process
    // may have taken it over (and written its own) between the read and the rename
    const aside = `${path}.${Deno.pid}.stale`;
    try {
      await Deno.rename(path, aside);
    } catch {
      continue;
    }
    const moved = await Deno.readTextFile(aside).catch(() => "");
    if (moved !== cur.text) {
      await Deno.rename(aside, path).catch(() => {});
      continue;
    }
    await Deno.remove(aside).catch(() => {});
    log(
      other
        ? `${folder}: taking over the lock of PID ${other.pid} on ${other.host} (since ${other.since}): ${why}`
        : `${folder}: taking over a damaged lock file: ${why}`,
    );
  }
  throw new Error(`Cannot take the lock ${path}: other processes keep taking it`);
}

async function releasePath(path: string): Promise<void> {
  const h = held.get(path);
  if (!h) return;
  h.beat.terminate();
  held.delete(path);
  // remove it only while it is still ours (a lock taken over as stale belongs to its new holder)
  const cur = await Deno.readTextFile(path).catch(() => null);
  if (cur === h.text) await Deno.remove(path).catch(() => {});
}

/** Removes every lock this process holds, synchronously (signal handlers and exits). */
export function releaseAllSync(): void {
  for (const [path, h] of held) {
    h.beat.terminate();
    try {
      if (Deno.readTextFileSync(path) === h.text) Deno.removeSync(path);
    } catch {
      // already gone
    }
  }
  held.clear();
}

/** Runs `body` holding the locks of `folders` (taken in the order given, released in reverse). */
export async function withLocks<T>(
  folders: readonly string[],
  body: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const locks: Lock[] = [];
  try {
    for (const f of folders) locks.push(await acquireLock(f, opts));
    return await body();
  } finally {
    for (const l of locks.reverse()) await l.release();
  }
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
let stopping = false;

/**
 * Makes SIGTERM and SIGINT stop this task cleanly: its locks are released, one line
 * `<task>: stopped by SIGTERM; <note>` is printed, and it exits with 128 + the signal's number. Every
 * result and checkpoint is written atomically, so whatever was finished stays and a rerun resumes from it
 * (a `*.tmp` file that a write left is removed by the next run). Idempotent.
 */
export function stopOnSignals(task: string, note = "rerun the same command to resume"): void {
  if (stopping) return;
  stopping = true;
  for (const [sig, n] of Object.entries(SIGNALS)) {
    try {
      Deno.addSignalListener(sig as Deno.Signal, () => {
        releaseAllSync();
        console.error(`${task}: stopped by ${sig}; ${note}`);
        Deno.exit(128 + n);
      });
    } catch {
      // Windows has no SIGTERM listener; the default action still ends the process
    }
  }
}
