/**
 * The model registry (name → definition, default input size, transfusion stages, head) and
 * {@linkcode paramSpecs}, the ordered state_dict spec of a configured model.
 * @module
 */
import { cbr, type CbrVariant } from "./cbr.ts";
import { inceptionV3 } from "./inception.ts";
import {
  headClasses,
  type ModelOptions,
  type ModelOutput,
  type Net,
  type ParamSpec,
  type Sized,
} from "./nn.ts";
import { resnet50 } from "./resnet.ts";
import { ShapeNet } from "./shape_net.ts";
import { squeezenet1_1, SQUEEZENET_FIRES } from "./squeezenet.ts";

/** One transfusion stage: the state_dict key prefixes it owns. */
export interface Stage {
  /** Tensor or node name. */
  name: string;
  /** state_dict key prefixes. */
  prefixes: string[];
}

/** A registry entry. */
export interface ModelDef {
  /** Canonical name (`--model`). */
  name: string;
  /** The definition, written against the backend-agnostic {@linkcode Net}. */
  build<T extends Sized>(net: Net<T>, x: T, opts?: ModelOptions): ModelOutput<T>;
  /** Default input side (torchvision's for the ImageNet models). */
  inputSize: number;
  /** Smallest input side the model accepts. */
  minInputSize: number;
  /** Default of `transformInput` (Inception-v3 only). */
  transformInput: boolean;
  /** Transfusion stages, lowest first: "up to block k" = the first k stages. */
  stages: Stage[];
  /** Key prefixes of the classifier head(s) that transfer replaces. */
  head: string[];
  /** Whether `aux` applies. */
  hasAux: boolean;
}

function cbrDef(name: string, variant: CbrVariant, blocks: number): ModelDef {
  return {
    name,
    build: (net, x, opts) => cbr(net, x, variant, opts),
    inputSize: 224,
    minInputSize: 1,
    transformInput: false,
    stages: Array.from(
      { length: blocks },
      (_, i) => ({ name: `block${i + 1}`, prefixes: [`block${i + 1}.`] }),
    ),
    head: ["fc."],
    hasAux: false,
  };
}

const INCEPTION_STAGES = [
  "Conv2d_1a_3x3",
  "Conv2d_2a_3x3",
  "Conv2d_2b_3x3",
  "Conv2d_3b_1x1",
  "Conv2d_4a_3x3",
  "Mixed_5b",
  "Mixed_5c",
  "Mixed_5d",
  "Mixed_6a",
  "Mixed_6b",
  "Mixed_6c",
  "Mixed_6d",
  "Mixed_6e",
  "Mixed_7a",
  "Mixed_7b",
  "Mixed_7c",
];

/**
 * Every model, by canonical name. Inception's AuxLogits body (conv0, conv1) goes with Mixed_6e, the
 * stage it branches from; its `fc` is a head like the main `fc`.
 */
export const MODELS: Readonly<Record<string, ModelDef>> = {
  resnet50: {
    name: "resnet50",
    build: resnet50,
    inputSize: 224,
    minInputSize: 1,
    transformInput: false,
    stages: [
      { name: "conv1", prefixes: ["conv1.", "bn1."] },
      ...[1, 2, 3, 4].map((i) => ({ name: `layer${i}`, prefixes: [`layer${i}.`] })),
    ],
    head: ["fc."],
    hasAux: false,
  },
  inception_v3: {
    name: "inception_v3",
    build: inceptionV3,
    inputSize: 299,
    minInputSize: 75,
    transformInput: true,
    stages: INCEPTION_STAGES.map((s) => ({
      name: s,
      prefixes: s === "Mixed_6e" ? [`${s}.`, "AuxLogits.conv0.", "AuxLogits.conv1."] : [`${s}.`],
    })),
    head: ["fc.", "AuxLogits.fc."],
    hasAux: true,
  },
  // stages: the stem conv, then each Fire module (the pools between them hold no weights)
  squeezenet1_1: {
    name: "squeezenet1_1",
    build: squeezenet1_1,
    inputSize: 224,
    minInputSize: 25,
    transformInput: false,
    stages: ["features.0", ...SQUEEZENET_FIRES.map(([i]) => `features.${i}`)].map((s) => ({
      name: s,
      prefixes: [`${s}.`],
    })),
    head: ["classifier.1."],
    hasAux: false,
  },
  // one spelling everywhere (run folders, reports, `deno task models`): the study's snake case
  cbr_large_t: cbrDef("cbr_large_t", "largeT", 5),
  cbr_large_w: cbrDef("cbr_large_w", "largeW", 4),
  cbr_small: cbrDef("cbr_small", "small", 4),
  cbr_tiny: cbrDef("cbr_tiny", "tiny", 4),
};

const norm = (s: string) => s.toLowerCase().replace(/[-_ ]/g, "");

/**
 * The registry entry for a name, forgiving case, `-` and `_` (`inceptionv3`, `CBR-LargeT`, `cbr-small`); its
 * `name` is the one canonical spelling (`inception_v3`, `cbr_large_t`, `cbr_small`).
 *
 * @example
 * ```ts
 * import { getModel } from "./registry.ts";
 * if (getModel("Inception-v3").name !== "inception_v3") throw new Error("unexpected");
 * ```
 */
export function getModel(name: string): ModelDef {
  const want = norm(name);
  for (const def of Object.values(MODELS)) if (norm(def.name) === want) return def;
  throw new RangeError(`Unknown model ${name}: expected one of ${Object.keys(MODELS).join(", ")}`);
}

/** Parameter counts, torch's way: trainable = `sum(p.numel() for p in model.parameters())`. */
export interface ParamCounts {
  /** Elements of trainable parameters. */
  trainable: number;
  /** Float buffers (running_mean, running_var). */
  buffers: number;
  /** All state_dict tensors (num_batches_tracked counts 1 each). */
  total: number;
}

/** A configured model: its ordered state_dict spec plus what initialisation needs to know. */
export interface ModelSpec {
  /** Canonical model name. */
  model: string;
  /** Size of the classifier. */
  classes: number;
  /** Whether the AuxLogits head is built. */
  aux: boolean;
  /** Whether transform_input is applied. */
  transformInput: boolean;
  /** The input shape the spec was traced with. */
  inputShape: [number, number, number, number];
  /** The state_dict, in torch's order. */
  params: ParamSpec[];
  /** Keys of the classifier head(s). */
  head: string[];
  /** Transfusion stages with the keys each owns. */
  stages: { name: string; keys: string[] }[];
  /** Tapped activations and their shapes. */
  taps: Map<string, number[]>;
  /** Parameter counts. */
  counts: ParamCounts;
  /** Shapes of the outputs. */
  logitsShape: number[];
}

/** Options of {@linkcode paramSpecs}. */
export interface SpecOptions extends ModelOptions {
  /** Input side (default the model's `inputSize`); square unless a pair. */
  inputSize?: number | [number, number];
  /** Batch size of the traced shapes (default 1). */
  batch?: number;
}

/** Counts trainable, buffer and total elements of a spec. */
export function countParams(params: readonly ParamSpec[]): ParamCounts {
  let trainable = 0, buffers = 0, total = 0;
  for (const p of params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    total += n;
    if (p.trainable) trainable += n;
    else if (p.dtype === "float32") buffers += n;
  }
  return { trainable, buffers, total };
}

/**
 * The ordered state_dict spec of a model (names = torchvision's keys, shapes, default initialisers,
 * buffers including `num_batches_tracked` as int64), traced on a {@linkcode ShapeNet}.
 *
 * @example
 * ```ts
 * import { paramSpecs } from "./registry.ts";
 * const s = paramSpecs("resnet50", { keepHead: true });
 * if (s.counts.trainable !== 25_557_032) throw new Error("unexpected");
 * ```
 */
export function paramSpecs(model: string, opts: SpecOptions = {}): ModelSpec {
  const def = getModel(model);
  const classes = headClasses(opts);
  const aux = def.hasAux ? (opts.aux ?? true) : false;
  if (!def.hasAux && opts.aux) {
    throw new RangeError(`Option aux applies to Inception-v3 only, not ${def.name}`);
  }
  const transformInput = def.name === "inception_v3" ? (opts.transformInput ?? def.transformInput) : false;
  const size = opts.inputSize ?? def.inputSize;
  const [h, w] = typeof size === "number" ? [size, size] : size;
  for (const v of [h, w]) {
    if (!Number.isInteger(v) || v < def.minInputSize) {
      throw new RangeError(`Input size of ${def.name} must be an integer ≥ ${def.minInputSize}, got ${v}`);
    }
  }
  const inputShape: [number, number, number, number] = [opts.batch ?? 1, 3, h, w];
  const net = new ShapeNet();
  const out = def.build(net, net.input(inputShape), {
    ...opts,
    classes,
    keepHead: false,
    aux,
    transformInput,
  });
  const params = net.specs;
  const owner = (key: string) => def.stages.findIndex((s) => s.prefixes.some((p) => key.startsWith(p)));
  const head = params.map((p) => p.name).filter((k) => def.head.some((p) => k.startsWith(p)));
  const stages = def.stages.map((s) => ({ name: s.name, keys: [] as string[] }));
  for (const p of params) {
    const i = owner(p.name);
    if (i >= 0) stages[i].keys.push(p.name);
    else if (!head.includes(p.name)) {
      throw new Error(`Parameter ${p.name} belongs to no stage of ${def.name}`);
    }
  }
  return {
    model: def.name,
    classes,
    aux,
    transformInput,
    inputShape,
    params,
    head,
    stages,
    taps: net.taps,
    counts: countParams(params),
    logitsShape: [...out.logits.shape],
  };
}
