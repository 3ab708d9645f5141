/**
 * File helpers shared by every pipeline step: atomic writes (temp file + rename) so that a crash never
 * leaves a half-written result or checkpoint that a later run would take as done.
 * @module
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import { errorMessage } from "./errors.ts";

let counter = 0;

/**
 * Writes `data` to `path` atomically: a temp file in the same folder, then a rename over the target.
 * Creates missing parent folders. A failure (out of disk, permission) names the file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a/b.txt`, "hello");
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${counter++}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    const why = errorMessage(e);
    throw new Error(`Cannot write ${path}: ${why}`);
  }
}

/**
 * Removes the temp files that {@linkcode writeFileAtomic} left in `dir` (not its subfolders) when a process
 * was killed mid-write; returns their names. Call it only while holding the folder's lock, so that no live
 * writer's temp file is taken.
 */
export async function removeLeftoverTmp(dir: string): Promise<string[]> {
  const gone: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /\.\d+\.\d+\.tmp$/.test(e.name)) {
        await rm(`${dir}/${e.name}`, { force: true });
        gone.push(e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return gone;
}

/** Writes a value as pretty JSON, atomically (see {@linkcode writeFileAtomic}). */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Reads a file's bytes; a missing or unreadable file gets a one-line error naming it. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${errorMessage(e)}`);
  }
}

/** Reads a UTF-8 text file; a missing or unreadable file gets a one-line error naming it. */
export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${errorMessage(e)}`);
  }
}

/** Reads and parses a JSON file; a missing or malformed file gets an error naming it. */
export async function readJson<T = unknown>(path: string): Promise<T> {
  const text = await readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new SyntaxError(`${path} is not valid JSON: ${errorMessage(e)}`);
  }
}

/**
 * True when `path` exists (file or folder). A path the process may not read throws (Deno's one-line
 * "Requires read access to …"), rather than passing for absent and sending the user after a wrong cause.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    return false;
  }
}

/**
 * The sha256 (hex) of a file's bytes, streamed (weights and data files can be large); an unreadable file
 * gets an error naming it.
 *
 * @example
 * ```ts
 * import { sha256File } from "./fs.ts";
 * const f = await Deno.makeTempFile();
 * await Deno.writeTextFile(f, "abc");
 * if (!(await sha256File(f)).startsWith("ba7816bf")) throw new Error("unexpected");
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${errorMessage(e)}`);
  }
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}
