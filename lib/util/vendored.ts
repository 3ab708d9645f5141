/**
 * Integrity of the vendored assets (`vendor/`): each file there is listed in `vendor/manifest.json` with
 * its sha256, and {@linkcode verifyVendored} checks a file against that list before it is used.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readJson, sha256File } from "./fs.ts";

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
 * The project's `vendor/` folder, or null when the package is imported from a URL (no file is vendored then).
 */
export const VENDOR_DIR: string | null = new URL(import.meta.url).protocol === "file:"
  ? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "vendor")
  : null;

async function realPath(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * If `path` (links followed) is a file of the vendor folder `vendorDir` (default: the project's `vendor/`)
 * that its `manifest.json` lists, checks its sha256 and throws a one-line error naming the file when it
 * differs. Returns the entry, or null for any other file: the user's own data and weights are not checked,
 * and nothing beside them (a `manifest.json` of their own) is read.
 *
 * @example
 * ```ts
 * import { verifyVendored } from "./vendored.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "abc");
 * await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({
 *   "a.txt": { sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", bytes: 3, licence: "", source: "" },
 * }));
 * if (!(await verifyVendored(`${dir}/a.txt`, dir))) throw new Error("not listed");
 * ```
 */
export async function verifyVendored(
  path: string,
  vendorDir: string | null = VENDOR_DIR,
): Promise<VendoredEntry | null> {
  if (vendorDir === null) return null;
  const [file, dir] = await Promise.all([realPath(path), realPath(vendorDir)]);
  if (file === null || dir === null || dirname(file) !== dir) return null;
  const manifest = join(dir, "manifest.json");
  const entry = (await readJson<Record<string, VendoredEntry>>(manifest))[basename(file)];
  if (!entry) return null;
  const got = await sha256File(file);
  if (got !== entry.sha256) {
    throw new Error(
      `${path}: sha256 ${got} does not match ${entry.sha256} in ${manifest} (the file is changed or ` +
        `truncated; restore it from the repository)`,
    );
  }
  return entry;
}
