/**
 * Integrity of the vendored assets (`vendor/`): each file there is listed in `vendor/manifest.json` with
 * its sha256, and {@linkcode verifyVendored} checks a file against that list before it is used.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { exists, readJson, sha256File } from "./fs.ts";

/** One entry of `vendor/manifest.json`. */
export interface VendoredEntry {
  /** hex sha256 of the file's bytes */
  sha256: string;
  /** size in bytes */
  bytes: number;
  /** licence name (the text is in the folder) */
  licence: string;
  /** where the file comes from */
  source: string;
}

/**
 * If `path` lies in a folder with a `manifest.json` that lists it (the project's `vendor/`), checks its
 * sha256 and throws a one-line error naming the file when it differs. Returns the entry, or null for a
 * file no manifest lists (the user's own data or weights are not checked).
 *
 * @example
 * ```ts
 * import { verifyVendored } from "./vendored.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "abc");
 * await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({
 *   "a.txt": { sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", bytes: 3, licence: "", source: "" },
 * }));
 * if (!(await verifyVendored(`${dir}/a.txt`))) throw new Error("not listed");
 * ```
 */
export async function verifyVendored(path: string): Promise<VendoredEntry | null> {
  const manifest = join(dirname(path), "manifest.json");
  if (!(await exists(manifest))) return null;
  const entry = (await readJson<Record<string, VendoredEntry>>(manifest))[basename(path)];
  if (!entry) return null;
  const got = await sha256File(path);
  if (got !== entry.sha256) {
    throw new Error(
      `${path}: sha256 ${got} does not match ${entry.sha256} in ${manifest} (the file is changed or ` +
        `truncated; restore it from the repository)`,
    );
  }
  return entry;
}
