/**
 * Inference for `deno task predict` and `deno task export`: logits of a registered model on a `.npy`
 * tensor or a folder of photos, and a trained run exported as a standalone ONNX model.
 * @module
 */
import { join } from "node:path";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { IMAGENET_MEAN, IMAGENET_STD, normLut, writeSample } from "../data/batch.ts";
import { type CropMode, preprocessImage } from "../data/fundus.ts";
import { readBytes, readJson } from "../util/fs.ts";
import { readNpy } from "../util/npy.ts";
import { loadWeights, sniffFormat } from "../weights/load.ts";
import { exportedTransformInput } from "../weights/onnx_import.ts";
import { readOnnx } from "../graph/read.ts";
import { decodeSafetensors, readSafetensors, safetensorsMetadata } from "../weights/safetensors.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { randomInit } from "../models/init.ts";
import { getModel, paramSpecs } from "../models/registry.ts";
import { inferenceModel } from "./inference.ts";
import { countNonFinite, firstNonFinite } from "./finite.ts";

/** Images ready for a model: N×3×S×S float32, already normalised, with a name per image. */
export interface InputImages {
  /** N×3×S×S, channels first, normalised */
  x: Float32Array;
  /** number of images N */
  n: number;
  /** side S */
  size: number;
  /** a name per image (the photo's file name; the index for a tensor) */
  names: string[];
}

/**
 * Reads the input of `predict`: a float32 `.npy` tensor N×3×H×W (taken as already normalised, H = W), or a
 * folder of photos (.jpeg/.jpg/.png), made square by `crop` (the fundus field, the padded photo, or
 * torchvision's resize and centre crop), resized to `size` and normalised with ImageNet's mean and std.
 */
export async function readInputImages(
  path: string,
  size: number,
  crop: CropMode = "fundus",
): Promise<InputImages> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    throw new Error(`Cannot read ${path}: no such file or folder`);
  }
  if (stat.isFile) {
    const a = await readNpy(path);
    if (a.shape.length !== 4 || a.shape[1] !== 3 || a.shape[2] !== a.shape[3]) {
      throw new RangeError(`${path}: expected a float32 N×3×H×W tensor with H = W, got [${a.shape}]`);
    }
    if (!(a.data instanceof Float32Array)) {
      throw new TypeError(`${path}: expected float32 data, got ${a.dtype}`);
    }
    // NaN in gives NaN logits out, and those looked like any others in the CSV
    const bad = firstNonFinite(a.data);
    if (bad >= 0) {
      throw new RangeError(
        `${path}: image ${Math.floor(bad / (a.data.length / a.shape[0]))} holds ${a.data[bad]} (${
          countNonFinite(a.data)
        } non-finite values in all): predict takes finite, normalised pixels`,
      );
    }
    return {
      x: a.data,
      n: a.shape[0],
      size: a.shape[2],
      names: Array.from({ length: a.shape[0] }, (_, i) => String(i)),
    };
  }
  const files: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && /\.(jpe?g|png)$/i.test(e.name)) files.push(e.name);
  }
  files.sort();
  if (!files.length) throw new RangeError(`${path} holds no .jpeg, .jpg or .png photos`);
  const per = 3 * size * size, x = new Float32Array(files.length * per);
  const lut = normLut(IMAGENET_MEAN, IMAGENET_STD);
  for (const [i, f] of files.entries()) {
    const bytes = await Deno.readFile(join(path, f));
    const img = await preprocessImage(bytes, { size, crop }, join(path, f));
    writeSample(img.data, size, x, i * per, lut, null, null);
  }
  return { x, n: files.length, size, names: files };
}

/** Options of {@linkcode predictLogits}. */
export interface PredictOptions {
  /** a registered model (any case, - or _) */
  model: string;
  /** .safetensors or .onnx weights; required unless `randomWeights` */
  weights?: string;
  /** run the model's random initialisation (untrained logits) on purpose, instead of `weights` */
  randomWeights?: boolean;
  /** keep the weights' own head (e.g. ImageNet's 1000 classes) instead of a new `classes`-way one */
  keepHead?: boolean;
  /** size of a new head (default 5) */
  classes?: number;
  /** images per session run (default 16) */
  batch?: number;
  /** onnxruntime's intra-op threads (default 0: every core) */
  threads?: number;
}

/**
 * Throws unless exactly one of `weights` and `randomWeights` is given: untrained logits look like any others
 * in a CSV, so they come only on explicit request.
 */
export function checkWeightsChoice(o: Pick<PredictOptions, "weights" | "randomWeights">): void {
  if (o.weights && o.randomWeights) {
    throw new RangeError("Pass either --weights FILE or --random-weights, not both");
  }
  if (!o.weights && !o.randomWeights) {
    throw new RangeError(
      "no --weights: pass --weights FILE (a run's weights.safetensors, or pretrained weights), or " +
        "--random-weights for the untrained initialisation on purpose",
    );
  }
}

/** The weights a prediction or export runs with, and how many classes their head has. */
async function weightsFor(
  o: PredictOptions,
  size: number,
): Promise<{ state: StateDict; classes: number; note?: string; transformInput?: boolean }> {
  const def = getModel(o.model);
  const aux = def.hasAux ? false : undefined;
  // an Inception export says in its graph whether it re-normalises its input; a state dict cannot, so
  // .safetensors keep the model's default (torchvision's ImageNet weights: true)
  let transformInput: boolean | undefined;
  if (def.hasAux && o.weights && !o.weights.endsWith(".safetensors")) {
    const bytes = await readBytes(o.weights);
    if (sniffFormat(bytes) === "onnx") {
      transformInput = exportedTransformInput(readOnnx(bytes, o.weights)) ?? undefined;
    }
  }
  let classes = o.classes ?? 5;
  checkWeightsChoice(o);
  if (!o.weights) {
    return {
      state: randomInit(paramSpecs(o.model, { classes, inputSize: size, aux }), "predict"),
      classes,
      note: "no --weights: random initialisation",
    };
  }
  // the head's size comes from the file when it is kept
  if (o.keepHead || o.weights.endsWith(".safetensors")) {
    // the first head tensor's rows: `fc.weight` (ResNet, Inception, CBR), `classifier.1.weight` (SqueezeNet)
    const fc = o.weights.endsWith(".safetensors")
      ? (await readSafetensors(o.weights)).get(`${def.head[0]}weight`)
      : undefined;
    if (fc) classes = fc.shape[0];
    else if (o.keepHead) classes = 1000;
  }
  const spec = paramSpecs(o.model, { classes, inputSize: size, aux, transformInput });
  const { state } = await loadWeights(o.weights, spec);
  if (!o.keepHead && o.classes !== undefined && o.classes !== classes) {
    const fresh = randomInit(paramSpecs(o.model, { classes: o.classes, inputSize: size, aux }), "head");
    for (const k of spec.head) state.set(k, fresh.get(k)!);
    return {
      state,
      classes: o.classes,
      note: `new random ${o.classes}-way head: its logits are untrained`,
      transformInput,
    };
  }
  return { state, classes, transformInput };
}

/** Logits (N×classes, row-major) of a model on images. */
export async function predictLogits(
  o: PredictOptions,
  input: InputImages,
): Promise<{ logits: Float32Array; classes: number; note?: string }> {
  const { state, classes, note, transformInput } = await weightsFor(o, input.size);
  const def = getModel(o.model);
  const bytes = inferenceModel(o.model, {
    state,
    classes,
    inputSize: input.size,
    aux: def.hasAux ? false : undefined,
    transformInput,
  });
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: o.threads ?? 0,
  });
  const batch = o.batch ?? 16, per = 3 * input.size * input.size;
  const logits = new Float32Array(input.n * classes);
  try {
    for (let s = 0; s < input.n; s += batch) {
      const m = Math.min(batch, input.n - s);
      const t = new ort.Tensor("float32", input.x.subarray(s * per, (s + m) * per), [
        m,
        3,
        input.size,
        input.size,
      ]);
      const out = await session.run({ input: t });
      logits.set(out.logits.data as Float32Array, s * classes);
    }
  } finally {
    await session.release();
  }
  const bad = firstNonFinite(logits);
  if (bad >= 0) {
    throw new RangeError(
      `The logits of image ${input.names[Math.floor(bad / classes)]} are ${logits[bad]} (${
        countNonFinite(logits)
      } non-finite in all): inputs this large overflow the model; normalise them as its training photos were`,
    );
  }
  return { logits, classes, note };
}

/**
 * A finished run as a standalone ONNX inference model (weights as initializers, dynamic batch): reads
 * `<run>/config.json` and `<run>/weights.safetensors`.
 */
export async function exportRun(runDir: string): Promise<Uint8Array> {
  const cfgPath = join(runDir, "config.json"), weightsPath = join(runDir, "weights.safetensors");
  const cfg = await readJson<{ model: string; classes?: number; size?: number; study?: { size?: number } }>(
    cfgPath,
  );
  const bytes = await readBytes(weightsPath);
  const state = decodeSafetensors(bytes, weightsPath);
  // the run's own side (a baseline may train at another than the study's)
  const size = cfg.size ?? cfg.study?.size ?? getModel(cfg.model).inputSize;
  const classes = cfg.classes ?? 5;
  // the weights record what they were trained for (runs since this check); an edited config.json would
  // otherwise export another input size without a word
  const trained = safetensorsMetadata(bytes, weightsPath);
  for (const [key, value] of [["size", size], ["classes", classes]] as const) {
    if (trained[key] !== undefined && Number(trained[key]) !== value) {
      throw new RangeError(
        `${cfgPath} says ${key} ${value}, but ${weightsPath} was trained with ${key} ${
          trained[key]
        }: restore config.json`,
      );
    }
  }
  const def = getModel(cfg.model);
  return inferenceModel(cfg.model, {
    state,
    classes,
    inputSize: size,
    aux: def.hasAux ? size >= 299 : undefined,
  });
}
