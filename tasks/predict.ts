/**
 * `deno task predict --model M --weights FILE|--random-weights [--keep-head] [--classes N] --input X.npy|DIR
 * [--crop fundus|none|center] --out logits.csv`
 * Logits of a model for a float32 N×3×H×W `.npy` tensor (already normalised) or a folder of photos
 * (preprocessed as the cache does and normalised with ImageNet's mean/std), one CSV row per image.
 * @module
 */
import { parseArgs } from "node:util";
import { checkWeightsChoice, predictLogits, readInputImages } from "../lib/train/predict.ts";
import { cropHelp, parseCropMode } from "../lib/data/fundus.ts";
import { getModel, MODELS } from "../lib/models/registry.ts";
import { exitCode, joinNegativeValues } from "../lib/util/cli.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

const HELP = `Usage: deno task predict --model M --input X.npy|DIR --out logits.csv [options]
  --model M        ${Object.keys(MODELS).join(" | ")} (any case, - or _)
  --weights FILE   .safetensors (torchvision/timm names, or a run's weights.safetensors) or .onnx
  --random-weights no weights file: the model's untrained initialisation, on purpose
  --keep-head      keep the file's classifier (e.g. ImageNet's 1000 classes)
  --classes N      size of a new head when the file's is not kept (default 5; a new head is untrained)
  --input PATH     float32 .npy N×3×H×W, or a folder of .jpeg/.jpg/.png photos
  --size S         side for photos (default: the model's input size)
  --crop C         how photos become square:
${cropHelp("                     ", "fundus")}
  --batch N        images per session run (default 16)
  --out FILE       CSV: name,logit0,logit1,...`;

/** A whole-number flag ≥ `min`, or undefined when absent. */
function positive(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || n < min) {
    throw new RangeError(`--${flag} must be a whole number ≥ ${min}, got ${text}`);
  }
  return n;
}

const OPTIONS = {
  model: { type: "string" },
  weights: { type: "string" },
  "random-weights": { type: "boolean" },
  "keep-head": { type: "boolean" },
  classes: { type: "string" },
  input: { type: "string" },
  size: { type: "string" },
  crop: { type: "string" },
  batch: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs the predict task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("predict", async () => {
    const { values: v } = parseArgs({
      args: joinNegativeValues(argv, OPTIONS),
      options: OPTIONS,
    });
    if (v.help) return console.log(HELP);
    if (!v.model || !v.input || !v.out) {
      throw new RangeError("--model, --input and --out are required (see --help)");
    }
    const def = getModel(v.model);
    checkWeightsChoice({ weights: v.weights, randomWeights: v["random-weights"] });
    const size = positive("size", v.size) ?? def.inputSize;
    const input = await readInputImages(v.input, size, parseCropMode(v.crop));
    const { logits, classes, note } = await predictLogits({
      model: def.name,
      weights: v.weights,
      randomWeights: v["random-weights"],
      keepHead: v["keep-head"],
      classes: positive("classes", v.classes, 2),
      batch: positive("batch", v.batch),
    }, input);
    if (note) console.error(`predict: ${note}`);
    const head = ["name", ...Array.from({ length: classes }, (_, i) => `logit${i}`)].join(",");
    const rows = input.names.map((name, i) => {
      const row = logits.subarray(i * classes, (i + 1) * classes);
      return [name, ...Array.from(row, (x) => x.toPrecision(7))].join(",");
    });
    await writeFileAtomic(v.out, [head, ...rows].join("\n") + "\n");
    console.log(`predict: ${input.n} images × ${classes} logits → ${v.out}`);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
