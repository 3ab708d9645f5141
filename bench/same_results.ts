/**
 * Whether two study folders (`deno task reproduce --out A`, the same flags with other code `--out B`) hold
 * the same results: in every run folder `weights.safetensors`, `predictions*.csv` and the activations byte for
 * byte, `metrics.csv` apart from its timing columns; and `analysis.json` apart from provenance and timings,
 * with absolute paths compared by file name (two checkouts read the same vendored files from different
 * folders). A refactor of the engine must pass it; see docs/engine.md.
 *
 * Usage: deno run --allow-read bench/same_results.ts A B
 * Prints one line per difference and a summary; exits 1 on any difference or a run folder only one side has.
 * @module
 */
import { basename, join } from "node:path";

/** Per-run files compared byte for byte. */
const EXACT = [/^weights\.safetensors$/, /^predictions.*\.csv$/, /^activations.*\.safetensors$/];

/** Fields that time the machine, not the computation: left out of `metrics.csv` and `analysis.json`. */
const TIMING = /^(wall_?sec|images_?per_?sec|seconds|.*Seconds|.*Ms|time|createdAt|started|finished)$/i;

/** `analysis.json`'s fields about where and when it was made: its provenance and its cache key (file times). */
const PROVENANCE = new Set(["provenance", "fingerprint"]);

const [a, b] = Deno.args;
if (!a || !b) {
  console.error("Usage: deno run --allow-read bench/same_results.ts A B");
  Deno.exit(2);
}

const problems: string[] = [];
let same = 0;

function safeRunDirs(root: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(root)) {
    if (!e.isDirectory) continue;
    try {
      if (Deno.statSync(join(root, e.name, "weights.safetensors")).isFile) out.push(e.name);
    } catch { /* not a run folder */ }
  }
  return out.sort();
}

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** `v` without timing fields, with absolute paths reduced to their file name. */
function normalised(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalised);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (PROVENANCE.has(k) || TIMING.test(k)) continue;
      out[k] = normalised(x);
    }
    return out;
  }
  return typeof v === "string" && v.startsWith("/") ? basename(v) : v;
}

/** metrics.csv without its timing columns. */
function metricsRows(path: string): string {
  const [head, ...rows] = Deno.readTextFileSync(path).trim().split("\n");
  const cols = head.split(",");
  const keep = cols.map((c, i) => TIMING.test(c) ? -1 : i).filter((i) => i >= 0);
  return [head, ...rows].map((r) => keep.map((i) => r.split(",")[i]).join(",")).join("\n");
}

const runsA = safeRunDirs(a), runsB = safeRunDirs(b);
for (const r of new Set([...runsA, ...runsB])) {
  if (!runsA.includes(r) || !runsB.includes(r)) {
    problems.push(`${r}: run folder only in ${runsA.includes(r) ? a : b}`);
    continue;
  }
  const files = [...Deno.readDirSync(join(a, r))].map((e) => e.name).filter((n) =>
    EXACT.some((re) => re.test(n))
  );
  for (const f of files.sort()) {
    let other: Uint8Array;
    try {
      other = Deno.readFileSync(join(b, r, f));
    } catch {
      problems.push(`${r}/${f}: missing in ${b}`);
      continue;
    }
    if (equalBytes(Deno.readFileSync(join(a, r, f)), other)) same++;
    else problems.push(`${r}/${f}: bytes differ`);
  }
  if (metricsRows(join(a, r, "metrics.csv")) === metricsRows(join(b, r, "metrics.csv"))) same++;
  else problems.push(`${r}/metrics.csv: values differ (timing columns left out)`);
}
const analysis = (root: string) => normalised(JSON.parse(Deno.readTextFileSync(join(root, "analysis.json"))));
if (JSON.stringify(analysis(a)) === JSON.stringify(analysis(b))) same++;
else problems.push("analysis.json: differs apart from provenance and timings");

for (const p of problems) console.log(p);
console.log(
  `${same} files the same, ${problems.length} different, in ${runsA.length} run folders (${a} vs ${b})`,
);
if (problems.length) Deno.exit(1);
