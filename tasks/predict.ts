/**
 * `deno task predict --model M [--weights FILE] [--keep-head] [--classes N] --input X.npy|DIR --out logits.csv`
 * Logits of a model for a float32 N×3×H×W `.npy` tensor (already normalised) or a folder of photos
 * (preprocessed as the cache does and normalised with ImageNet's mean/std), one CSV row per image.
 * @module
 */
import { parseArgs } from "node:util";
import { predictLogits, readInputImages } from "../lib/models/predict.ts";
import { getModel } from "../lib/models/registry.ts";
import { runCli } from "../lib/util/cli.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

const HELP = `Usage: deno task predict --model M --input X.npy|DIR --out logits.csv [options]
  --model M        resnet50 | inception_v3 | cbr-largeT | cbr-largeW | cbr-small | cbr-tiny
  --weights FILE   .safetensors (torchvision/timm names, or a run's weights.safetensors) or .onnx
  --keep-head      keep the file's classifier (e.g. ImageNet's 1000 classes)
  --classes N      size of a new head when the file's is not kept (default 5; a new head is untrained)
  --input PATH     float32 .npy N×3×H×W, or a folder of .jpeg/.jpg/.png photos
  --size S         side for photos (default: the model's input size)
  --crop C         fundus (default) | none, for photos
  --batch N        images per session run (default 16)
  --out FILE       CSV: name,logit0,logit1,...`;

await runCli("predict", async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      weights: { type: "string" },
      "keep-head": { type: "boolean" },
      classes: { type: "string" },
      input: { type: "string" },
      size: { type: "string" },
      crop: { type: "string" },
      batch: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) return console.log(HELP);
  if (!v.model || !v.input || !v.out) {
    throw new RangeError("--model, --input and --out are required (see --help)");
  }
  const def = getModel(v.model);
  const size = v.size ? Number(v.size) : def.inputSize;
  const input = await readInputImages(v.input, size, v.crop === "none" ? "none" : "fundus");
  const { logits, classes, note } = await predictLogits({
    model: def.name,
    weights: v.weights,
    keepHead: v["keep-head"],
    classes: v.classes ? Number(v.classes) : undefined,
    batch: v.batch ? Number(v.batch) : undefined,
  }, input);
  if (note) console.error(`predict: ${note}`);
  const head = ["name", ...Array.from({ length: classes }, (_, i) => `logit${i}`)].join(",");
  const rows = input.names.map((name, i) =>
    [name, ...Array.from(logits.subarray(i * classes, (i + 1) * classes), (x) => x.toPrecision(7))].join(",")
  );
  await writeFileAtomic(v.out, [head, ...rows].join("\n") + "\n");
  console.log(`predict: ${input.n} images × ${classes} logits → ${v.out}`);
});
