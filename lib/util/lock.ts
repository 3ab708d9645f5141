/**
 * One writer per folder: a lock file (`<folder>/.lock`) that its writer holds an exclusive advisory lock on
 * (flock, taken by the kernel) and fills with its host, PID, start time and the folder's identity. Every step
 * that writes a study folder holds one (the data step, the pretraining, each run folder, analyze, report), so
 * two processes on one `--out` cannot interleave their writes; runs of one grid still train in parallel
 * (`--shard`), each process holding its own runs' locks.
 *
 * The kernel decides who holds a folder, not the path text or a timer: the same folder reached through a
 * link (or a mount at another path) is the same lock file, a holder that is stopped (Ctrl-Z, SIGSTOP) or
 * busy still holds it, and a holder that died in any way (SIGKILL, a crash) has lost it, so its lock file is
 * taken over at once with a one-line message. A lock file copied along with its folder (`cp -a`) is held by
 * nobody and is taken over too. On a shared filesystem that does not carry advisory locks between hosts
 * (some cluster filesystems), the holder's heartbeat is the second line of defence: it touches its lock
 * every {@linkcode HEARTBEAT_MS} from a worker thread, and a lock of another host counts as abandoned only
 * once untouched for {@linkcode FOREIGN_STALE_MS} (the hosts' clocks must agree to within that time).
 *
 * Locks are released when their body ends, and on SIGTERM / SIGINT by {@linkcode stopOnSignals}. A lock
 * file left behind by a dead process needs no clearing; to clear one by hand, make sure no process of the
 * study runs (`ps`, `squeue`) and delete the `.lock` file.
 * @module
 */
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { errorMessage } from "./errors.ts";

/** The lock file's name inside the folder it guards. */
export const LOCK_NAME = ".lock";
/** How often a holder touches its lock file. */
export const HEARTBEAT_MS = 1_000;
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
  /** the absolute folder the lock guards, as its writer named it (a copied lock names the original) */
  folder: string;
  /** the folder's device and inode: what identifies it, whatever path reaches it */
  dev?: number;
  /** see `dev` */
  ino?: number;
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

/** The locks this process holds (two may share a path: one deleted by hand, then taken again). */
const held = new Set<Held>();

interface Held {
  path: string;
  beat: Worker;
  file: Deno.FsFile;
}

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

function parse(text: string): LockInfo | null {
  try {
    const o = JSON.parse(text);
    return typeof o?.pid === "number" && typeof o?.host === "string" ? o as LockInfo : null;
  } catch {
    return null;
  }
}

/** The holder named in a locked lock file: its writer may be filling it in right now, so read a few times. */
async function holderOf(path: string): Promise<LockInfo> {
  for (let i = 0; i < 20; i++) {
    const info = parse(await Deno.readTextFile(path).catch(() => ""));
    if (info) return info;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: "an unknown host", pid: -1, since: "an unknown time", folder: "" };
}

/** Why the previous holder named in an unlocked lock file has no claim any more. */
function goneReason(prev: LockInfo, folder: string, ino: number, ageMs: number): string {
  const copied = prev.ino !== undefined ? prev.ino !== ino : prev.folder !== folder;
  if (copied) return `it was copied from ${prev.folder}`;
  if (prev.host !== thisHost()) return `its heartbeat stopped ${Math.round(ageMs / 1000)} s ago`;
  return `PID ${prev.pid} is no longer running`;
}

/**
 * Takes `<folder>/.lock` for this process, creating the folder if needed. A live writer's lock makes it throw
 * {@linkcode FolderLockedError} ("<folder> is being written by PID N on HOST since <time>"); a lock file
 * whose writer is gone is taken over with a one-line message saying why.
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
  await Deno.mkdir(folder, { recursive: true });
  const dirStat = await Deno.stat(folder);
  const id = { dev: dirStat.dev, ino: dirStat.ino ?? 0 };
  const info: LockInfo = {
    host: thisHost(),
    pid: Deno.pid,
    since: new Date().toISOString(),
    folder,
    dev: id.dev,
    ino: id.ino,
  };
  const text = JSON.stringify(info) + "\n";
  for (let attempt = 0; attempt < 5; attempt++) {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true, write: true, create: true });
    } catch (e) {
      throw new Error(`Cannot create lock ${path}: ${errorMessage(e)}`);
    }
    let keep = false;
    try {
      let locked: boolean;
      try {
        locked = await f.tryLock(true);
      } catch (e) {
        throw new Error(`Cannot lock ${path}: ${errorMessage(e)} (the filesystem must support file locks)`);
      }
      if (!locked) throw new FolderLockedError(folder, await holderOf(path));
      // a releasing holder may have removed the file between our open and our lock: lock what the path is
      const [mine, now] = await Promise.all([f.stat(), Deno.stat(path).catch(() => null)]);
      if (now === null || now.ino !== mine.ino || now.dev !== mine.dev) continue;
      const prevText = await Deno.readTextFile(path);
      const prev = prevText.trim() === "" ? null : parse(prevText);
      const age = Date.now() - (mine.mtime?.getTime() ?? 0);
      // a filesystem that does not carry locks between hosts: a fresh heartbeat of another host is a holder
      // (inodes, unlike device numbers, are the same on every host)
      const foreign = prev !== null && prev.host !== thisHost() && (prev.ino ?? id.ino) === id.ino;
      if (foreign && age <= FOREIGN_STALE_MS) throw new FolderLockedError(folder, prev);
      await f.truncate(0);
      await f.seek(0, Deno.SeekMode.Start);
      const bytes = new TextEncoder().encode(text);
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      const beat = new Worker(BEAT, { type: "module" });
      beat.postMessage({ path, ms: HEARTBEAT_MS });
      const h: Held = { path, beat, file: f };
      held.add(h);
      keep = true;
      if (prevText.trim() !== "") {
        log(
          prev
            ? `${folder}: taking over the lock of PID ${prev.pid} on ${prev.host} (since ${prev.since}): ${
              goneReason(prev, folder, id.ino, age)
            }`
            : `${folder}: taking over a damaged lock file: it is unreadable`,
        );
      }
      let released = false;
      return {
        path,
        info,
        release: async () => {
          if (released) return;
          released = true;
          await releaseHeld(h);
        },
      };
    } finally {
      if (!keep) f.close();
    }
  }
  throw new Error(`Cannot take the lock ${path}: other processes keep taking it`);
}

async function releaseHeld(h: Held): Promise<void> {
  if (!held.delete(h)) return;
  h.beat.terminate();
  const path = h.path;
  // removed while still locked, and only while the path is still our file (one deleted by hand and taken
  // since by another process is that process's)
  const [cur, mine] = await Promise.all([Deno.stat(path).catch(() => null), h.file.stat()]);
  if (cur && cur.ino === mine.ino && cur.dev === mine.dev) await Deno.remove(path).catch(() => {});
  h.file.close();
}

/** Removes every lock this process holds, synchronously (signal handlers and exits). */
export function releaseAllSync(): void {
  for (const h of held) {
    h.beat.terminate();
    try {
      const cur = Deno.statSync(h.path), mine = h.file.statSync();
      if (cur.ino === mine.ino && cur.dev === mine.dev) Deno.removeSync(h.path);
    } catch {
      // already gone
    }
    try {
      h.file.close();
    } catch {
      // closed
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
