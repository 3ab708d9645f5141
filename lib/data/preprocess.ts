/**
 * Dataset ingest: list → decode/crop/resize on every core (one worker per core) → staged per image →
 * packed into immutable shards → `manifest.json` with the split. Incremental (a rerun reuses unchanged
 * images), resumable (staged images survive an interruption) and atomic (every file is written to a temp
 * name and renamed; the metadata file that marks an image done is written after its pixels).
 * @module
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { exists, readJson, writeFileAtomic, writeJsonAtomic } from "../util/fs.ts";
import { type DatasetFormat, type DatasetItem, listDataset, relativeTo } from "./formats.ts";
import { splitDataset, stratifiedSubset } from "./split.ts";
import type { CacheSettings, Manifest, ManifestEntry, SplitName } from "./cache.ts";
import { type StagedMeta, stageImage, type StageTask } from "./stage.ts";
import type { CropMode } from "./fundus.ts";
import { errorMessage } from "../util/errors.ts";

/** Options for {@linkcode preprocessDataset}. */
export interface PreprocessOptions {
  /** dataset folder or listing file */
  data: string;
  /** cache folder to write */
  out: string;
  /** output side; default 587 (the paper preset) */
  size?: number;
  /** skip format detection */
  format?: DatasetFormat;
  /** how each photo becomes a square (`CROP_MODES`); default "fundus" ("none" for MedMNIST) */
  crop?: CropMode;
  /** Ben Graham local-average normalisation */
  graham?: boolean;
  /** labels must be in [0, classes); default 5 */
  classes?: number;
  /** split seed; default 0 */
  seed?: number;
  /** test fraction of the split; default 0.1 */
  testFraction?: number;
  /** keep only a grade-stratified subset of this many images (before splitting) */
  limit?: number;
  /** let a generic CSV list files outside its folder (absolute, `..`, links leading out); default false */
  allowOutsidePaths?: boolean;
  /** abort on the first missing or unreadable image instead of skipping it */
  strict?: boolean;
  /** worker threads; default: every core. 0 runs on this thread (sharp still decodes on its own threads),
   * for callers without read permission on this module's folder */
  workers?: number;
  /** target shard size in bytes; default 256 MiB */
  shardBytes?: number;
  /**
   * called after each image to decode with (done, total, skipped): `done` counts the images decoded, not
   * the skipped ones, so `done + skipped` reaches `total` at the end
   */
  onProgress?: (done: number, total: number, skipped: number) => void;
}

/** What {@linkcode preprocessDataset} did; also written to `report.json` in the cache folder. */
export interface PreprocessReport {
  /** dataset folder or listing */
  dataset: string;
  /** its layout */
  format: DatasetFormat;
  /** cache folder */
  out: string;
  /** settings the cache was built with */
  settings: CacheSettings;
  /** images listed (after `limit`) */
  listed: number;
  /** images in the cache */
  cached: number;
  /** images decoded in this run */
  processed: number;
  /** images reused from an earlier (possibly interrupted) run */
  reused: number;
  /** images left out, with the reason (missing file, undecodable, no fundus field) */
  skipped: { id: string; file: string; reason: string }[];
  /** image counts per split side */
  splits: Record<string, number>;
  /** images fitted as a disc / as filling the frame */
  fits: Record<string, number>;
  /** wall time in seconds */
  seconds: number;
}

const STAGING = "staging";

function keyOf(id: string): string {
  return createHash("sha256").update(id).digest("hex").slice(0, 32);
}

/**
 * Preprocesses a dataset into a cache folder that {@linkcode openCache} reads. Throws (naming the file) on a
 * malformed listing, on settings that differ from an existing cache in `out`, on an empty result, and with
 * `strict` on the first bad image.
 */
export async function preprocessDataset(opts: PreprocessOptions): Promise<PreprocessReport> {
  const t0 = performance.now();
  const out = resolve(opts.out);
  const size = opts.size ?? 587, classes = opts.classes ?? 5;
  if (!Number.isInteger(size) || size < 8 || size > 8192) {
    throw new RangeError(`Size must be an integer in 8-8192, got ${size}`);
  }
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`Classes must be an integer ≥ 2, got ${classes}`);
  }
  const seed = opts.seed ?? 0, testFraction = opts.testFraction ?? 0.1;
  // the split comes last; a value it would refuse must not cost a pass over every photo first
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`Test fraction must lie in (0, 1), got ${testFraction}`);
  }
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) {
    throw new RangeError(`Limit must be a whole number ≥ 1, got ${opts.limit}`);
  }
  const ds = await listDataset(opts.data, {
    format: opts.format,
    classes,
    allowOutsidePaths: opts.allowOutsidePaths,
  });
  const settings: CacheSettings = {
    size,
    // MedMNIST images are already square crops of the field, too small to look for it again.
    crop: opts.crop ?? (ds.format === "medmnist" ? "none" : "fundus"),
    graham: opts.graham ?? false,
    ...(opts.graham ? { grahamBlur: "gaussian" as const } : {}),
    classes,
  };
  const skipped: PreprocessReport["skipped"] = ds.missing.map((m) => ({
    ...m,
    reason: "file does not exist",
  }));
  if (opts.strict && skipped.length) {
    throw new Error(`${skipped[0].file} does not exist (listed in ${ds.listing})`);
  }
  let items = ds.items;
  if (opts.limit !== undefined && opts.limit < items.length) {
    const keep = stratifiedSubset(items.map((_, i) => i), items.map((it) => it.label), opts.limit, seed);
    items = keep.map((i) => items[i]);
  }

  // One cache folder, one set of settings: mixing sizes or crops in one manifest would be silent corruption.
  const settingsPath = join(out, "settings.json");
  if (await exists(settingsPath)) {
    const old = await readJson<CacheSettings>(settingsPath);
    if (JSON.stringify(old) !== JSON.stringify(settings)) {
      throw new Error(
        `${out} holds a cache built with ${JSON.stringify(old)}, not ${
          JSON.stringify(settings)
        }; use another --out`,
      );
    }
  } else {
    await writeJsonAtomic(settingsPath, settings);
  }
  const per = settings.size * settings.size * 3;
  const perShard = Math.max(1, Math.min(8192, Math.floor((opts.shardBytes ?? 256 * 2 ** 20) / per)));

  // What earlier runs finished: entries of the final manifest and of the progress file (packed shards).
  const manifestPath = join(out, "manifest.json"), progressPath = join(out, "progress.json");
  type Progress = { shards: Manifest["shards"]; entries: ManifestEntry[] };
  const prog: Progress = { shards: [], entries: [] };
  for (const p of [manifestPath, progressPath]) {
    if (!(await exists(p))) continue;
    const m = await readJson<Progress>(p);
    if (m.shards.length > prog.shards.length) prog.shards = m.shards;
    prog.entries.push(...m.entries);
  }
  const done = new Map<string, ManifestEntry>();
  for (const e of prog.entries) done.set(e.id, e);

  const stagingDir = join(out, STAGING);
  const staged = new Map<string, StagedMeta>();
  for (const name of await readdir(stagingDir).catch(() => [] as string[])) {
    if (!name.endsWith(".json")) continue;
    try {
      const meta = JSON.parse(await Deno.readTextFile(join(stagingDir, name))) as StagedMeta;
      if (await exists(join(stagingDir, name.replace(/\.json$/, ".u8")))) staged.set(meta.id, meta);
    } catch { /* a stray file from another writer; ignored, the image is redone */ }
  }

  const fileStat = new Map<string, { size: number; mtimeMs: number }>();
  const statOf = async (f: string) => {
    let s = fileStat.get(f);
    if (!s) {
      const st = await stat(f);
      s = { size: st.size, mtimeMs: st.mtimeMs };
      fileStat.set(f, s);
    }
    return s;
  };
  const unchanged = async (it: DatasetItem, m: { source: string; bytes: number; mtimeMs: number }) => {
    const s = await statOf(it.file).catch(() => null);
    return !!s && m.source === relativeTo(ds.root, it.file) && m.bytes === s.size && m.mtimeMs === s.mtimeMs;
  };

  const ready = new Map<string, ManifestEntry>(); // id → packed entry (split filled in at the end)
  const pending: StagedMeta[] = []; // staged, not yet packed
  const todo: DatasetItem[] = [];
  let reused = 0;
  for (const it of items) {
    const d = done.get(it.id), s = staged.get(it.id);
    if (d && d.shard < prog.shards.length && await unchanged(it, d)) {
      ready.set(it.id, d);
      reused++;
    } else if (s && await unchanged(it, s)) {
      pending.push(s);
      reused++;
    } else todo.push(it);
  }

  const byId = new Map(items.map((it) => [it.id, it]));
  const pack = async (metas: StagedMeta[]) => {
    const shard = prog.shards.length;
    const file = `${String(shard).padStart(5, "0")}.u8`;
    const buf = new Uint8Array(metas.length * per);
    for (let i = 0; i < metas.length; i++) {
      const px = new Uint8Array(await readFile(join(stagingDir, `${keyOf(metas[i].id)}.u8`)));
      if (px.length !== per) {
        throw new Error(`Staged image for ${metas[i].id} has ${px.length} bytes, expected ${per}`);
      }
      buf.set(px, i * per);
    }
    await writeFileAtomic(join(out, "shards", file), buf);
    prog.shards.push({ file, count: metas.length });
    metas.forEach((m, slot) => {
      const it = byId.get(m.id)!;
      const e: ManifestEntry = {
        id: m.id,
        source: m.source,
        sha256: m.sha256,
        bytes: m.bytes,
        mtimeMs: m.mtimeMs,
        label: it.label,
        patient: it.patient,
        split: it.split ?? "train",
        shard,
        slot,
        circle: m.circle,
        fit: m.fit,
      };
      ready.set(m.id, e);
      done.set(m.id, e);
    });
    await writeJsonAtomic(progressPath, { shards: prog.shards, entries: [...done.values()] });
    // Only now, with the shard recorded, may the staged copies go.
    for (const m of metas) {
      const k = keyOf(m.id);
      await rm(join(stagingDir, `${k}.u8`), { force: true });
      await rm(join(stagingDir, `${k}.json`), { force: true });
    }
  };
  const flush = async (all: boolean) => {
    while (pending.length >= perShard || (all && pending.length)) await pack(pending.splice(0, perShard));
  };
  await flush(false);

  let processed = 0;
  if (todo.length) {
    type Result = { key: string; ok: boolean; meta?: StagedMeta; error?: string };
    type Runner = { post(t: StageTask): void; onresult: (r: Result) => void; stop(): void };
    const threads = opts.workers ?? availableParallelism();
    const byKey = new Map(todo.map((t) => [keyOf(t.id), t]));
    let next = 0, finished = 0, failed = 0, failure: Error | null = null;
    let packing = Promise.resolve();
    const runners: Runner[] = [];
    try {
      await new Promise<void>((resolveAll, rejectAll) => {
        const fail = (e: Error) => {
          if (!failure) (failure = e), rejectAll(e);
        };
        const makeWorker = (): Runner => {
          const w = new Worker(new URL("./preprocess_worker.ts", import.meta.url).href, { type: "module" });
          const r: Runner = { post: (t) => w.postMessage(t), onresult: () => {}, stop: () => w.terminate() };
          w.onerror = (e) => {
            e.preventDefault();
            fail(new Error(`Preprocessing worker failed: ${e.message} (try --workers 0)`));
          };
          w.onmessage = (ev: MessageEvent<Result>) => r.onresult(ev.data);
          return r;
        };
        const makeLocal = (): Runner => {
          const r: Runner = {
            post: (t) =>
              stageImage(t).then(
                (meta) => r.onresult({ key: t.key, ok: true, meta }),
                (e) => r.onresult({ key: t.key, ok: false, error: errorMessage(e) }),
              ),
            onresult: () => {},
            stop: () => {},
          };
          return r;
        };
        const send = (r: Runner) => {
          if (failure || next >= todo.length) return;
          const it = todo[next++];
          r.post({
            key: keyOf(it.id),
            id: it.id,
            file: it.file,
            source: relativeTo(ds.root, it.file),
            // A copy: posting a view would clone the whole .npz array behind it.
            raw: it.raw && { ...it.raw, data: it.raw.data.slice() },
            staging: stagingDir,
            settings,
          });
        };
        const n = Math.max(1, Math.min(threads > 0 ? threads : availableParallelism(), todo.length));
        for (let k = 0; k < n; k++) {
          const r = threads > 0 ? makeWorker() : makeLocal();
          runners.push(r);
          r.onresult = (res) => {
            if (failure) return;
            finished++;
            if (res.ok) {
              processed++;
              pending.push(res.meta!);
              if (pending.length >= perShard) packing = packing.then(() => flush(false));
            } else {
              const it = byKey.get(res.key)!;
              failed++;
              skipped.push({ id: it.id, file: it.file, reason: res.error! });
              if (opts.strict) return fail(new Error(`${it.file}: ${res.error} (--strict)`));
            }
            opts.onProgress?.(processed, todo.length, failed);
            if (finished === todo.length) resolveAll();
            else send(r);
          };
          // Two jobs in flight per runner keep its core busy while the other job reads its file.
          send(r);
          send(r);
        }
      });
      await packing;
    } finally {
      for (const r of runners) r.stop();
    }
  }
  await flush(true);

  // Final entries in listing order, with the split over everything that made it into the cache.
  const entries = items.flatMap((it) => {
    const e = ready.get(it.id);
    return e ? [{ ...e, label: it.label, patient: it.patient }] : [];
  });
  if (!entries.length) {
    throw new Error(`No image of ${ds.listing} could be preprocessed (${skipped.length} skipped; see above)`);
  }
  const fixed = ds.format === "medmnist";
  if (!fixed) {
    const { test } = splitDataset(entries.map((e) => e.label), entries.map((e) => e.patient), {
      seed,
      testFraction,
    });
    const isTest = new Set(test);
    entries.forEach((e, i) => (e.split = (isTest.has(i) ? "test" : "train") as SplitName));
  } else {
    entries.forEach((e) => (e.split = byId.get(e.id)!.split ?? "train"));
  }
  const manifest: Manifest = {
    version: 1,
    format: ds.format,
    dataset: resolve(opts.data),
    settings,
    split: { seed: fixed ? null : seed, testFraction: fixed ? 0 : testFraction, limit: opts.limit ?? null },
    shards: prog.shards,
    entries,
  };
  await writeJsonAtomic(manifestPath, manifest);
  await rm(progressPath, { force: true });
  if ((await readdir(stagingDir).catch(() => ["x"])).length === 0) await rm(stagingDir, { recursive: true });

  const splits: Record<string, number> = {}, fits: Record<string, number> = {};
  for (const e of entries) {
    splits[e.split] = (splits[e.split] ?? 0) + 1;
    fits[e.fit] = (fits[e.fit] ?? 0) + 1;
  }
  const report: PreprocessReport = {
    dataset: resolve(opts.data),
    format: ds.format,
    out,
    settings,
    listed: items.length + ds.missing.length,
    cached: entries.length,
    processed,
    reused,
    skipped,
    splits,
    fits,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  await writeJsonAtomic(join(out, "report.json"), report);
  return report;
}
