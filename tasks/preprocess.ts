/**
 * `deno task preprocess --data PATH --out DIR [--size 587] [--graham] [--format F] [--limit N] [--strict]`
 * Ingests a dataset into the image cache that training reads (see lib/data/cache.ts for the layout).
 * Permissions: --allow-read=PATH,DIR --allow-write=DIR --allow-env --allow-ffi --allow-sys (sharp, cores).
 * @module
 */
import { parseArgs } from "node:util";
import { exitCode, numberFlag } from "../lib/util/cli.ts";
import { DATASET_FORMATS, type DatasetFormat } from "../lib/data/formats.ts";
import { preprocessDataset } from "../lib/data/preprocess.ts";
import { cropHelp, parseCropMode } from "../lib/data/fundus.ts";
import { countLine } from "../lib/util/progress.ts";
import { stopOnSignals, withLocks } from "../lib/util/lock.ts";

const HELP = `Usage: deno task preprocess --data PATH --out DIR [options]

Decodes, crops the fundus field, pads to square, resizes and caches every image (all cores; a rerun
skips finished images, an interrupted run resumes). Writes DIR/manifest.json, DIR/shards/*.u8, DIR/report.json.

  --data PATH        dataset folder or listing file (required)
  --out DIR          cache folder (required)
  --size N           output side in pixels (default 587, the paper preset)
  --format F         kaggle | aptos | csv | medmnist (default: detected)
  --crop C           how photos become square (MedMNIST: none):
${cropHelp("                       ", "fundus")}
  --graham           Ben Graham local-average normalisation
  --classes N        labels must be in 0..N-1 (default 5)
  --seed S           split seed (default 0)
  --test-fraction F  test share of the patient-aware, grade-stratified split (default 0.1)
  --limit N          keep a grade-stratified subset of N images
  --strict           abort on the first missing or unreadable image (default: skip and report it)
  --allow-outside-paths  let a csv listing name photos outside its folder (default: refused)
  --workers N        worker threads (default: every core)
  -h, --help         this text
`;

/** Runs the preprocess task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("preprocess", async () => {
    const args = parseArgs({
      args: argv,
      options: {
        data: { type: "string" },
        out: { type: "string" },
        size: { type: "string" },
        format: { type: "string" },
        crop: { type: "string" },
        graham: { type: "boolean" },
        classes: { type: "string" },
        seed: { type: "string" },
        "test-fraction": { type: "string" },
        limit: { type: "string" },
        strict: { type: "boolean" },
        "allow-outside-paths": { type: "boolean" },
        workers: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
    if (args.help) {
      console.log(HELP);
      return;
    }
    if (!args.data) throw new RangeError("--data is required (see --help)");
    if (!args.out) throw new RangeError("--out is required (see --help)");
    if (args.format && !DATASET_FORMATS.includes(args.format as DatasetFormat)) {
      throw new RangeError(`--format must be one of ${DATASET_FORMATS.join(", ")}, got '${args.format}'`);
    }
    const crop = parseCropMode(args.crop);
    let last = 0;
    const data = args.data, out = args.out;
    const r = await withLocks([out], () =>
      preprocessDataset({
        data,
        out,
        size: numberFlag("size", args.size),
        format: args.format as DatasetFormat | undefined,
        crop,
        graham: args.graham,
        classes: numberFlag("classes", args.classes),
        seed: numberFlag("seed", args.seed),
        testFraction: numberFlag("test-fraction", args["test-fraction"], { integer: false }),
        limit: numberFlag("limit", args.limit),
        strict: args.strict,
        allowOutsidePaths: args["allow-outside-paths"],
        workers: numberFlag("workers", args.workers),
        onProgress: (done, total, skipped) => {
          const now = performance.now();
          if (done + skipped === total || now - last > 2000) {
            last = now;
            console.error(countLine("preprocess", done, total, skipped, "images"));
          }
        },
      }));
    for (const s of r.skipped) console.error(`preprocess: skipped ${s.file}: ${s.reason}`);
    const splits = Object.entries(r.splits).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(
      `preprocess: ${r.cached} images (${r.processed} processed, ${r.reused} reused, ${r.skipped.length} skipped) ` +
        `at ${r.settings.size}² in ${r.out} [${splits}] in ${r.seconds} s; report: ${r.out}/report.json`,
    );
  });
}

if (import.meta.main) {
  // one writer per cache folder (two preprocessors on one cache mix up photos); SIGTERM releases the lock
  stopOnSignals("preprocess");
  Deno.exit(await main(Deno.args));
}
