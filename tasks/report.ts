/**
 * `deno task report [study flags] [--analysis FILE] [--dir DIR] [--manifest FILE] [--png]`
 * Writes `<dir>/report.md` and `<dir>/figures/*.svg` (+ the Vega-Lite spec beside each) from the
 * analysis that `deno task analyze` wrote, with the provenance collected now; prints the report's path.
 * Permissions: --allow-read=OUT,. (analysis; .git, deno.lock, manifest and weights for checksums; vega)
 * --allow-write=DIR --allow-sys=cpus,osRelease,systemMemoryInfo; --png adds --allow-ffi (sharp);
 * --allow-run=nvidia-smi adds the GPU's name when the study ran on a GPU.
 * @module
 */
import { join } from "node:path";
import { studyPaths } from "../lib/study/paths.ts";
import { exists, removeLeftoverTmp } from "../lib/util/fs.ts";
import { loadAnalysis } from "../lib/study/analysis_file.ts";
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { exitCode } from "../lib/util/cli.ts";
import { stopOnSignals, withLocks } from "../lib/util/lock.ts";
import { collectProvenance, detectGpu } from "../lib/study/provenance.ts";
import { writeReport } from "../lib/report/report.ts";
import { svgToPng } from "../lib/report/figures.ts";
import { checkStudyFolders } from "../lib/study/preflight.ts";

const HELP = `Usage: deno task report [study flags] [--analysis FILE] [--dir DIR] [--manifest FILE] [--png]

Writes DIR/report.md and DIR/figures/ from OUT/analysis.json (run \`deno task analyze\` first).

  --analysis FILE   the analysis to report (default OUT/analysis.json)
  --dir DIR         where report.md and figures/ go (default OUT)
  --manifest FILE   data manifest to checksum (default: OUT/cache/manifest.json or OUT/data/manifest.json)
  --png             also render the main figure to DIR/figures/<name>.png (needs --allow-ffi)
  -h, --help        this text

${STUDY_USAGE}`;

function ownFlags(argv: string[]) {
  const rest: string[] = [];
  const o: { analysis?: string; dir?: string; manifest?: string; png: boolean; help: boolean } = {
    png: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(analysis|dir|manifest)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] ?? argv[++i];
      if (v === undefined || v === "") throw new RangeError(`--${m[1]} needs a path`);
      o[m[1] as "analysis" | "dir" | "manifest"] = v;
    } else if (a === "--png") o.png = true;
    else if (a === "-h" || a === "--help") o.help = true;
    else rest.push(a);
  }
  return { ...o, rest };
}

async function gpuName(device: string, fallback: string | null): Promise<string | null> {
  if (device === "cpu") return null;
  const run = await Deno.permissions.query({ name: "run", command: "nvidia-smi" });
  return run.state === "granted" ? (await detectGpu()) ?? fallback : fallback;
}

/** Runs the report task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("report", async () => {
    const own = ownFlags(argv);
    if (own.help) {
      console.log(HELP);
      return;
    }
    const asked = resolveConfig(own.rest, { requireInputs: false });
    const path = own.analysis ?? join(asked.out, "analysis.json");
    if (!(await exists(path))) throw new Error(`No analysis at ${path}: run \`deno task analyze\` first`);
    const analysis = await loadAnalysis(path);
    // the report describes what was analysed; the flags only locate it. Its out is the folder the analysis
    // is in (loadAnalysis), so a copied study folder reports into the copy
    const config = analysis.config;
    // the data step's cache holds the manifest (source files, sha256, labels, split)
    const manifest = own.manifest ?? join(studyPaths(config).cache, "manifest.json");
    const provenance = await collectProvenance({
      config,
      argv,
      dataManifest: manifest,
      gpu: await gpuName(config.device, analysis.provenance?.machine?.gpu ?? null),
    });
    const dir = own.dir ?? config.out;
    await checkStudyFolders(config);
    const written = await withLocks([dir], async () => {
      for (const d of [dir, join(dir, "figures")]) await removeLeftoverTmp(d);
      const w = await writeReport({ ...analysis, provenance }, dir);
      if (own.png && w.figures.length > 0) {
        const main = w.figures[0];
        await svgToPng(await Deno.readTextFile(main.svg), main.svg.replace(/\.svg$/, ".png"));
      }
      return w;
    });
    console.log(written.report);
  });
}

if (import.meta.main) {
  stopOnSignals("report");
  Deno.exit(await main(Deno.args));
}
