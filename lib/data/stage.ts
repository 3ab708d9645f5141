/**
 * One image's preprocessing job, shared by the worker threads and the in-thread path of
 * `preprocessDataset`: read, hash, decode/crop/resize, then stage the pixels in `staging/` followed by the
 * metadata file that marks them done.
 * @module
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { writeFileAtomic } from "../util/fs.ts";
import { preprocessImage } from "./fundus.ts";
import type { CacheSettings, ManifestEntry } from "./cache.ts";
import { errorMessage } from "../util/errors.ts";

/** A job: one image to stage. */
export interface StageTask {
  /** file-name key of the staged files */
  key: string;
  /** image id */
  id: string;
  /** absolute source path (the .npz for MedMNIST) */
  file: string;
  /** source path as recorded in the manifest */
  source: string;
  /** decoded pixels for array datasets */
  raw?: { data: Uint8Array; width: number; height: number };
  /** staging folder */
  staging: string;
  /** cache settings */
  settings: CacheSettings;
}

/** What is staged next to the pixels (`<key>.json`). */
export type StagedMeta = Pick<
  ManifestEntry,
  "id" | "source" | "sha256" | "bytes" | "mtimeMs" | "circle" | "fit"
>;

/** Runs one job; resolves to its metadata or rejects with a message naming the file. */
export async function stageImage(t: StageTask): Promise<StagedMeta> {
  let bytes: Uint8Array | null = null, size: number, mtimeMs: number;
  try {
    const st = await stat(t.file);
    size = st.size;
    mtimeMs = st.mtimeMs;
    if (!t.raw) bytes = new Uint8Array(await readFile(t.file));
  } catch (e) {
    throw new Error(`cannot read ${t.file}: ${errorMessage(e)}`);
  }
  const sha256 = createHash("sha256").update(t.raw ? t.raw.data : bytes!).digest("hex");
  const input = t.raw ? { raw: t.raw.data, width: t.raw.width, height: t.raw.height } : bytes!;
  const r = await preprocessImage(
    input,
    { size: t.settings.size, crop: t.settings.crop, graham: t.settings.graham },
    t.file,
  );
  const c = r.circle;
  const meta: StagedMeta = {
    id: t.id,
    source: t.source,
    sha256,
    bytes: size,
    mtimeMs,
    circle: c ? [round2(c.cx), round2(c.cy), round2(c.r)] : null,
    fit: c ? c.kind : "none",
  };
  await writeFileAtomic(`${t.staging}/${t.key}.u8`, r.data);
  await writeFileAtomic(`${t.staging}/${t.key}.json`, JSON.stringify(meta));
  return meta;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
