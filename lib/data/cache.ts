/**
 * The preprocessed-image cache: `manifest.json` plus immutable shard files of raw uint8 RGB images
 * (`shards/NNNNN.u8`, each image `size`×`size`×3 bytes at `slot`×that offset). Images are read by offset,
 * one at a time, so a 36 GB cache never has to fit in memory.
 * @module
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DatasetFormat } from "./formats.ts";
import type { CropMode } from "./fundus.ts";
import { errorMessage } from "../util/errors.ts";

/** Which side of the split an image is on. */
export type SplitName = "train" | "test" | "val";

/** Settings a cache is built with; a rerun with other settings must use another folder. */
export interface CacheSettings {
  /** output side (H = W) */
  size: number;
  /** how each photo became a square */
  crop: CropMode;
  /** Ben Graham normalisation applied */
  graham: boolean;
  /**
   * With `graham`: its blur is a float-weight Gaussian. Caches made before (sharp's truncated integer kernel,
   * up to 16 grey levels off) lack it, so their settings differ and they are refused, not silently reused.
   */
  grahamBlur?: "gaussian";
  /** number of classes labels were checked against */
  classes: number;
}

/** One image of the manifest. */
export interface ManifestEntry {
  /** image id (unique in the dataset) */
  id: string;
  /** source file relative to the dataset folder (or absolute) */
  source: string;
  /** sha256 of the source file's bytes (for MedMNIST: of the image's pixels) */
  sha256: string;
  /** source file size and modification time, to skip unchanged images on a rerun */
  bytes: number;
  /** source modification time (ms since the epoch) */
  mtimeMs: number;
  /** grade / class */
  label: number;
  /** patient id */
  patient: string;
  /** side of the split */
  split: SplitName;
  /** shard number and slot within it */
  shard: number;
  /** slot within the shard */
  slot: number;
  /** the fundus field found, in source pixels: [cx, cy, r]; null with crop "none" or "center" */
  circle: [number, number, number] | null;
  /** "disc", "frame" (field fills the photo) or "none" (no field looked for) */
  fit: "disc" | "frame" | "none";
}

/** The cache's `manifest.json`. */
export interface Manifest {
  /** manifest format version */
  version: 1;
  /** dataset layout it was ingested from */
  format: DatasetFormat;
  /** the dataset folder or file the cache was built from */
  dataset: string;
  /** settings it was built with */
  settings: CacheSettings;
  /** split parameters (MedMNIST keeps its own split and records seed null) */
  split: { seed: number | null; testFraction: number; limit: number | null };
  /** shard files under `shards/`, with the number of slots each holds */
  shards: { file: string; count: number }[];
  /** images in listing order (index = cache index) */
  entries: ManifestEntry[];
}

/** A preprocessed dataset, opened for reading. */
export interface Cache {
  /** folder of the cache */
  dir: string;
  /** image side (H = W) */
  size: number;
  /** number of images */
  count: number;
  /** label per image */
  labels: Int32Array;
  /** patient per image */
  patients: string[];
  /** id per image */
  ids: string[];
  /** each image's side of the preprocessing split */
  split: SplitName[];
  /** sha256 (hex) of manifest.json's bytes: identifies the exact data a run used */
  manifestHash: string;
  /** the parsed manifest */
  manifest: Manifest;
  /** image `i` as H×W×3 uint8 RGB (a fresh array) */
  image(i: number): Uint8Array;
  /** reads image `i` into `out` (at least H×W×3 bytes) and returns it */
  imageInto(i: number, out: Uint8Array): Uint8Array;
  /** indices of the images on one side of the split */
  indices(split: SplitName): number[];
  /** closes the shard files */
  close(): void;
}

/**
 * Opens a cache written by `preprocessDataset` (see {@linkcode Manifest} for the layout). Shard files are
 * opened lazily and read with positional reads.
 */
export async function openCache(dir: string): Promise<Cache> {
  const path = join(dir, "manifest.json");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`Cannot read ${path} (not a preprocessed cache?): ${errorMessage(e)}`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new SyntaxError(`${path} is not valid JSON: ${errorMessage(e)}`);
  }
  if (manifest.version !== 1 || !manifest.settings || !Array.isArray(manifest.entries)) {
    throw new TypeError(`${path} is not a version-1 cache manifest`);
  }
  // a shard is a file of this cache's shards/ folder: an edited manifest cannot send a read elsewhere
  for (const s of manifest.shards ?? []) {
    if (typeof s?.file !== "string" || !/^[\w-][\w.-]*$/.test(s.file)) {
      throw new RangeError(
        `${path}: shard file ${JSON.stringify(s?.file)} is not a file name of ${dir}/shards`,
      );
    }
  }
  const shardDir = join(realpathSync(dir), "shards");
  const size = manifest.settings.size;
  const per = size * size * 3;
  const entries = manifest.entries;
  const fds = new Map<number, number>();
  const fd = (shard: number): number => {
    let f = fds.get(shard);
    if (f === undefined) {
      const s = manifest.shards[shard];
      if (!s) throw new RangeError(`${path}: shard ${shard} is not listed`);
      const file = join(dir, "shards", s.file);
      let real: string;
      try {
        real = realpathSync(file);
        f = openSync(real, "r");
      } catch (e) {
        throw new Error(`Cannot open shard ${s.file} of ${dir}: ${errorMessage(e)}`);
      }
      if (dirname(real) !== shardDir) {
        closeSync(f);
        throw new RangeError(`${file} is a link to ${real}, outside the cache's shards folder`);
      }
      fds.set(shard, f);
    }
    return f;
  };
  const imageInto = (i: number, out: Uint8Array): Uint8Array => {
    const e = entries[i];
    if (!e) throw new RangeError(`Image index ${i} is outside 0-${entries.length - 1}`);
    if (out.length < per) throw new RangeError(`Output buffer has ${out.length} bytes, needs ${per}`);
    let got = 0;
    while (got < per) {
      const n = readSync(fd(e.shard), out, got, per - got, e.slot * per + got);
      if (n <= 0) throw new RangeError(`Shard ${manifest.shards[e.shard].file} of ${dir} is truncated`);
      got += n;
    }
    return out;
  };
  return {
    dir,
    size,
    count: entries.length,
    labels: Int32Array.from(entries, (e) => e.label),
    patients: entries.map((e) => e.patient),
    ids: entries.map((e) => e.id),
    split: entries.map((e) => e.split),
    manifestHash: createHash("sha256").update(bytes).digest("hex"),
    manifest,
    image: (i) => imageInto(i, new Uint8Array(per)),
    imageInto,
    indices: (s) => entries.flatMap((e, i) => (e.split === s ? [i] : [])),
    close() {
      for (const f of fds.values()) closeSync(f);
      fds.clear();
    },
  };
}
