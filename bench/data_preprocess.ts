/**
 * Data-pipeline benchmark: photos/s for decode + field crop + resize to 587² on full-size Kaggle-like JPEGs
 * (ours: `preprocessDataset`, one worker per core, including sha256, staging and shard writes) against
 * Python + Pillow on the same files in the same run; then loader throughput at 587².
 *
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-sys --allow-run bench/data_preprocess.ts
 *   [--count 24] [--width 3000] [--data DIR_OF_KAGGLE_LAYOUT] [--out bench/results/data.md]
 * @module
 */
import { parseArgs } from "node:util";
import { availableParallelism, cpus, totalmem } from "node:os";
import { rm } from "node:fs/promises";
import { synthFundus } from "../lib/data/synth.ts";
import { preprocessDataset } from "../lib/data/preprocess.ts";
import { openCache } from "../lib/data/cache.ts";
import { Loader } from "../lib/data/loader.ts";
import { listDataset } from "../lib/data/formats.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "24" },
    width: { type: "string", default: "3000" },
    data: { type: "string" },
    out: { type: "string", default: "bench/results/data.md" },
    size: { type: "string", default: "587" },
  },
});
const size = Number(a.size), cores = availableParallelism();
const work = await Deno.makeTempDir({ prefix: "data-bench-" });
let data = a.data;
if (!data) {
  data = `${work}/photos`;
  const t = performance.now();
  await synthFundus({
    out: data,
    count: Number(a.count),
    seed: 2015,
    width: Number(a.width),
    quality: 92,
    noise: 4,
  });
  console.error(
    `rendered ${a.count} synthetic photos at ${a.width}px in ${
      ((performance.now() - t) / 1000).toFixed(1)
    } s`,
  );
}
const files = (await listDataset(data)).items.map((i) => i.file);
const bytes = (await Promise.all(files.map((f) => Deno.stat(f)))).reduce((s, st) => s + st.size, 0);

async function ours(run: number): Promise<number> {
  const out = `${work}/cache${run}`;
  await rm(out, { recursive: true, force: true });
  const t = performance.now();
  const r = await preprocessDataset({ data: data!, out, size });
  const dt = (performance.now() - t) / 1000;
  if (r.cached !== files.length) {
    throw new Error(`cached ${r.cached} of ${files.length}: ${JSON.stringify(r.skipped)}`);
  }
  return files.length / dt;
}

async function pillow(mode: string, procs: number): Promise<number> {
  const p = new Deno.Command("/usr/bin/python3", {
    args: ["bench/data_pillow.py", String(size), mode, String(procs), ...files],
    stdout: "piped",
    stderr: "inherit",
  });
  const o = await p.output();
  if (!o.success) throw new Error(`Pillow baseline failed (${mode}, ${procs})`);
  return JSON.parse(new TextDecoder().decode(o.stdout)).photos_per_s;
}

const best = (xs: number[]) => Math.max(...xs);
const rows: [string, number][] = [];
await ours(0); // warm-up: worker start-up, sharp load, page cache
rows.push([
  `ours: sharp, ${cores} workers (preprocessDataset, incl. sha256 + cache writes)`,
  best([await ours(1), await ours(2)]),
]);
rows.push([
  "Pillow, full decode, 1 process (the usual script)",
  best([await pillow("full", 1), await pillow("full", 1)]),
]);
rows.push([
  "Pillow, draft (JPEG DCT scaling), 1 process",
  best([await pillow("draft", 1), await pillow("draft", 1)]),
]);
rows.push([
  `Pillow, draft, ${cores} processes`,
  best([await pillow("draft", cores), await pillow("draft", cores)]),
]);
const base = rows[0][1];

// Loader: 587² batches of 16 from the cache just built.
const cache = await openCache(`${work}/cache1`);
const idx = Array.from({ length: 96 }, (_, i) => i % cache.count);
const loaderRows: [string, number][] = [];
for (
  const [label, opts] of [
    ["1 worker, no augmentation", { workers: 1 }],
    ["1 worker, flips + rotation", { workers: 1, augment: true }],
    ["2 workers, flips + rotation", { workers: 2, augment: true }],
    ["main thread, no augmentation", { workers: 0 }],
  ] as const
) {
  const l = new Loader(cache, idx, { batch: 16, seed: 1, shuffle: true, prefetch: 3, ...opts });
  for await (const _ of l.batches(0)) { /* warm-up: worker start, page cache */ }
  const t = performance.now();
  let n = 0;
  for (let e = 1; e <= 2; e++) for await (const b of l.batches(e)) n += b.n;
  loaderRows.push([label, n / ((performance.now() - t) / 1000)]);
  l.close();
}
cache.close();

const cpu = cpus()[0]?.model ?? "unknown CPU";
const pyv = new TextDecoder().decode(
  (await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import PIL, numpy, sys; print(sys.version.split()[0], PIL.__version__, numpy.__version__)"],
    stdout: "piped",
  }).output()).stdout,
).trim().split(" ");
const md = `# Data pipeline benchmark

Machine: ${cpu}, ${cores} cores, ${
  (totalmem() / 2 ** 30).toFixed(0)
} GiB; Deno ${Deno.version.deno}, sharp 0.35.5
(libvips 8.18.7); Python ${pyv[0]}, Pillow ${pyv[1]}, NumPy ${pyv[2]} (Debian). Other jobs shared the machine:
figures vary ±15 % run to run. Generated by \`bench/data_preprocess.ts\` on ${
  new Date().toISOString().slice(0, 10)
}.

## Decode + find field + crop + resize to ${size}²

${files.length} ${
  a.data
    ? `photos from ${a.data}`
    : `synthetic Kaggle-like JPEGs, ${a.width}×${Math.round(Number(a.width) * 2 / 3)}`
}
(${
  (bytes / files.length / 2 ** 20).toFixed(2)
} MiB each on average); best of two runs each, same files, same run.

| pipeline | photos/s | ours ÷ it |
|---|---:|---:|
${rows.map(([k, v]) => `| ${k} | ${v.toFixed(1)} | ${(base / v).toFixed(2)}× |`).join("\n")}

## Loader: ${size}² float32 NCHW batches of 16 from the cache

| loader | images/s |
|---|---:|
${loaderRows.map(([k, v]) => `| ${k} | ${v.toFixed(0)} |`).join("\n")}
`;
await writeFileAtomic(a.out!, md);
console.log(md);
await rm(work, { recursive: true, force: true });
