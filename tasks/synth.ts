/**
 * `deno task synth --out DIR --count N --seed S [--kind fundus|natural] [--width 512] [--size 96]`
 * Writes synthetic fundus photographs in the Kaggle layout (JPEGs + trainLabels.csv), or the synthetic
 * natural-image source task in the generic CSV layout (images/ + labels.csv).
 * Permissions: --allow-read=DIR --allow-write=DIR --allow-env --allow-ffi --allow-sys (sharp).
 * @module
 */
import { parseArgs } from "node:util";
import { exitCode, numberFlag } from "../lib/util/cli.ts";
import { synthFundus, synthNatural } from "../lib/data/synth.ts";

const HELP = `Usage: deno task synth --out DIR --count N [--seed S] [options]

Synthetic data, deterministic by seed; a rerun with the same settings renders only what is missing.

  --out DIR        output folder (required)
  --count N        number of pictures (required)
  --seed S         seed (default 0)
  --kind K         fundus (default): <id>_<left|right>.jpeg + trainLabels.csv, Kaggle's layout and grade mix
                   natural: 12-class shapes/textures/scenes source task, images/ + labels.csv (path,label)
  --width W        fundus photo width in pixels, height = 2/3 W (default 512)
  --grades a,b,c,d,e  relative grade frequencies (default Kaggle 2015's)
  --size S         natural picture side in pixels (default 96)
  -h, --help       this text
`;

/** Runs the synth task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("synth", async () => {
    const args = parseArgs({
      args: argv,
      options: {
        out: { type: "string" },
        count: { type: "string" },
        seed: { type: "string" },
        kind: { type: "string", default: "fundus" },
        width: { type: "string" },
        grades: { type: "string" },
        size: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
    if (args.help) {
      console.log(HELP);
      return;
    }
    if (!args.out) throw new RangeError("--out is required (see --help)");
    const count = numberFlag("count", args.count, { required: true })!,
      seed = numberFlag("seed", args.seed, { fallback: 0 })!;
    let r;
    if (args.kind === "fundus") {
      const gradeWeights = args.grades?.split(",").map(Number);
      r = await synthFundus({
        out: args.out,
        count,
        seed,
        width: numberFlag("width", args.width, { fallback: 512 }),
        gradeWeights,
      });
    } else if (args.kind === "natural") {
      r = await synthNatural({
        out: args.out,
        count,
        seed,
        size: numberFlag("size", args.size, { fallback: 96 }),
      });
    } else throw new RangeError(`--kind must be fundus or natural, got '${args.kind}'`);
    console.log(
      `synth: ${r.count} ${args.kind} pictures in ${args.out} (${r.rendered} rendered, ${
        r.seconds.toFixed(1)
      } s); ` +
        `per class: ${r.perClass.join(" ")}`,
    );
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
