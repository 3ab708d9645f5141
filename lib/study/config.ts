/**
 * The study's configuration: presets kept as JSON next to this file (`demo`, `synthetic`, `paper`, `small-data`),
 * every field overridable by a command-line flag, the run grid (model × seed × init) and its deterministic
 * split into shards for job arrays.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getModel } from "../models/registry.ts";
import { type Device, DEVICES, isDevice } from "../graph/device.ts";
import { joinNegativeValues } from "../util/cli.ts";
import { errorMessage } from "../util/errors.ts";
import demoPreset from "./presets/demo.json" with { type: "json" };
import paperPreset from "./presets/paper.json" with { type: "json" };
import smallDataPreset from "./presets/small-data.json" with { type: "json" };
import syntheticPreset from "./presets/synthetic.json" with { type: "json" };

/**
 * Seed of the study's train/test split and of its `--limit` subset: study-wide, so every run sees the same
 * held-out photos, and the preflight check predicts the split the data step will make.
 */
export const SPLIT_SEED = 0;

/** Model names of the models registry (torchvision's two and the CBR family of Raghu's appendix). */
export const MODEL_NAMES = [
  "resnet50",
  "inception_v3",
  "cbr_large_t",
  "cbr_large_w",
  "cbr_small",
  "cbr_tiny",
  "squeezenet1_1",
] as const;

/** One of {@linkcode MODEL_NAMES}. */
export type ModelName = typeof MODEL_NAMES[number];

/**
 * How a run's weights start: framework defaults, pretrained weights with a new head, Mean-Var (pretrained
 * tensors' mean and variance, fresh draws), or weight transfusion (pretrained up to block k, random above).
 */
export type InitName = "random" | "transfer" | "meanvar" | `transfusion:${number}`;

/** Where the photos come from: generated synthetic fundus photos, or a folder in a known format. */
export type DataSource =
  | {
    kind: "synthetic";
    count: number;
    seed: number;
    width: number;
    /** relative frequencies of grades 0-4; absent = Kaggle 2015's mix */
    grades?: number[];
  }
  | { kind: "path"; path: string; format?: string };

/** The demo's self-made source task that stands in for ImageNet pretraining. */
export interface SourceTask {
  /** number of synthetic source images */
  count: number;
  /** number of source classes */
  classes: number;
  /** training epochs */
  epochs: number;
  /** the model pretrained on it; its weights serve `transfer`, `meanvar` and `transfusion:k` */
  model: ModelName;
}

/** Which part of the grid this process runs: `index` counts from 0 to `count - 1`. */
export interface Shard {
  /** this shard, 0-based */
  index: number;
  /** number of shards */
  count: number;
}

/** The whole study's settings, as resolved from a preset and flags. */
export interface StudyConfig {
  /** the preset the values started from */
  preset: string;
  /** where the photos come from */
  data: DataSource;
  /** self-made pretraining (demo), or null when pretrained weights come from `weights` */
  source: SourceTask | null;
  /** models to train */
  models: ModelName[];
  /** models trained from random initialisation only, beside the grid (Raghu's small-model baselines) */
  baselines: ModelName[];
  /** input side of the baselines (e.g. a dataset's native 28²), or null for `size` */
  baselineSize: number | null;
  /** inits to compare */
  inits: InitName[];
  /** one run per seed and model and init */
  seeds: number[];
  /** training epochs */
  epochs: number;
  /** images per optimizer step */
  batch: number;
  /** square input side in pixels */
  size: number;
  /** a grade-stratified subset of this many photos (smoke tests), or null for all */
  limit: number | null;
  /** a stratified training subset of this many photos (the small-data setting), or null */
  trainSubset: number | null;
  /** held-out share for the patient-aware split (0.1 = Zingo's 9:1) */
  testFraction: number;
  /** Adam learning rate */
  lr: number;
  /** onnxruntime execution provider */
  device: Device;
  /** intra-op threads, 0 = all cores */
  threads: number;
  /** output folder for runs, analysis and report */
  out: string;
  /** pretrained weights file per model name */
  weights: Record<string, string>;
  /** evaluate on the held-out set every this many steps as well as at each epoch end; 0 = epoch ends only */
  evalEvery: number;
  /** number of held-out photos whose activations are kept for CCA */
  probeCount: number;
  /**
   * without a val split: the test referable-DR AUC that "steps to reach" (convergence speed) counts up to
   */
  aucTarget: number;
  /**
   * with a val split: convergence counts steps on the val macro-AUC curves up to this fraction of the way
   * from chance (0.5) to random init's mean best val macro AUC (lib/study/convergence.ts); 1 = random's best
   */
  targetFraction: number;
  /** let a listing name photos outside its own folder (absolute paths, `..`, links leading out) */
  allowOutsidePaths: boolean;
  /**
   * move run folders trained with other settings (another --epochs, --lr, data …) aside to
   * `<out>/discarded/` and train them again; off: such a rerun is refused, naming the differences
   */
  retrain?: boolean;
  /** the part of the grid this process runs, or null for all of it */
  shard: Shard | null;
}

/** One cell of the grid; `id` is also the run's folder name. */
export interface RunSpec {
  /** model registry name */
  model: ModelName;
  /** how the weights start */
  init: InitName;
  /** seed of the initialisation and the data order */
  seed: number;
  /** `<model>-<init>-s<seed>`, the run folder's name */
  id: string;
}

/** The preset tables, by name. */
export const PRESETS: Readonly<Record<string, StudyConfig>> = {
  demo: demoPreset as StudyConfig,
  paper: paperPreset as StudyConfig,
  "small-data": smallDataPreset as StudyConfig,
  synthetic: syntheticPreset as StudyConfig,
};

/** Options of {@linkcode resolveConfig}. */
export interface ResolveOptions {
  /**
   * Check that the inputs a training run needs are named: a data path for path data and weights for every
   * model whose inits need pretrained weights. Default true; analysis and report steps can pass false.
   */
  requireInputs?: boolean;
  /**
   * the folder relative `--data`, `--weights` and `--out` paths are taken from (where the user typed the
   * command: `deno task` runs a task in the project's folder and names the user's in `INIT_CWD`); they are
   * made absolute so that every step, whatever its working folder, reads the same files. Default: kept as
   * given.
   */
  cwd?: string;
  /** where a one-line notice goes (`--threads` capped at the cores present); default stderr */
  log?: (line: string) => void;
}

function int(flag: string, text: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new RangeError(`--${flag} must be a whole number, got "${text}"`);
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`--${flag} must be at least ${min}, got ${text}`);
  }
  return v;
}

function num(flag: string, text: string, lo: number, hi: number, loOpen = true, hiOpen = true): number {
  const v = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(v)) throw new RangeError(`--${flag} must be a number, got "${text}"`);
  if ((loOpen ? v <= lo : v < lo) || (hiOpen ? v >= hi : v > hi)) {
    throw new RangeError(
      `--${flag} must lie in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}, got ${text}`,
    );
  }
  return v;
}

function optionalInt(flag: string, text: string, min: number): number | null {
  return text === "none" || text === "" ? null : int(flag, text, min);
}

function list(flag: string, text: string): string[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new RangeError(`--${flag} has an empty item in "${text}"`);
  const dup = items.find((s, i) => items.indexOf(s) !== i);
  if (dup !== undefined) throw new RangeError(`--${flag} names "${dup}" twice`);
  return items;
}

function keyValues(flag: string, text: string, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(flag, text)) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new RangeError(`--${flag} expects KEY=VALUE items, got "${item}"`);
    const key = item.slice(0, eq), value = item.slice(eq + 1);
    if (!keys.includes(key)) {
      throw new RangeError(`--${flag} has unknown key "${key}" (known: ${keys.join(", ")})`);
    }
    out[key] = value;
  }
  return out;
}

/** The canonical spelling of a model name given in any of the registry's spellings (`cbr-small`). */
function modelName(flag: string, text: string): ModelName {
  let name: string | undefined;
  try {
    name = getModel(text).name;
  } catch {
    name = undefined;
  }
  if (name === undefined || !(MODEL_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`--${flag}: unknown model "${text}" (known: ${MODEL_NAMES.join(", ")})`);
  }
  return name as ModelName;
}

function initName(text: string): InitName {
  if (text === "random" || text === "transfer" || text === "meanvar") return text;
  const m = /^transfusion:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 1) return `transfusion:${Number(m[1])}`;
  throw new RangeError(
    `--inits: unknown init "${text}" (known: random, transfer, meanvar, transfusion:K with K ≥ 1)`,
  );
}

/** The devices as a sentence: "cpu, webgpu or cuda". */
const DEVICE_WORDS = `${DEVICES.slice(0, -1).join(", ")} or ${DEVICES.at(-1)}`;

function device(text: string): Device {
  if (!isDevice(text)) throw new RangeError(`--device must be ${DEVICE_WORDS}, got "${text}"`);
  return text;
}

/**
 * Parses `I/N` (I counts from 0, as Slurm's `SLURM_ARRAY_TASK_ID` with `--array=0-(N-1)`).
 *
 * @example
 * ```ts
 * import { parseShard } from "./config.ts";
 * const s = parseShard("2/4"); // { index: 2, count: 4 }
 * ```
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new RangeError(`--shard must look like I/N (e.g. 0/4), got "${text}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1) throw new RangeError(`--shard ${text}: the shard count must be at least 1`);
  if (index >= count) throw new RangeError(`--shard ${text}: the index counts from 0 to ${count - 1}`);
  return { index, count };
}

function parseData(text: string, current: DataSource): DataSource {
  if (text === "synthetic" || text.startsWith("synthetic:")) {
    const base = current.kind === "synthetic"
      ? current
      : PRESETS.synthetic.data as DataSource & { kind: "synthetic" };
    const out = { ...base };
    const rest = text.slice("synthetic:".length);
    if (text === "synthetic" || rest === "") return out;
    if (/^\d+$/.test(rest)) return { ...out, count: int("data", rest, 1) };
    const kv = keyValues("data", rest, ["count", "seed", "width", "grades"]);
    if (kv.count !== undefined) out.count = int("data count", kv.count, 1);
    if (kv.grades !== undefined) {
      const g = kv.grades.split(":").map(Number);
      if (g.length !== 5 || g.some((v) => !(v >= 0)) || !g.some((v) => v > 0)) {
        throw new RangeError(
          `--data grades must be 5 non-negative numbers joined by ':', got "${kv.grades}"`,
        );
      }
      out.grades = g;
    }
    if (kv.seed !== undefined) out.seed = int("data seed", kv.seed, 0);
    if (kv.width !== undefined) out.width = int("data width", kv.width, 16);
    return out;
  }
  if (text.trim() === "") throw new RangeError("--data must name a folder or synthetic, got an empty value");
  const format = current.kind === "path" ? current.format : undefined;
  return format === undefined ? { kind: "path", path: text } : { kind: "path", path: text, format };
}

function parseSource(text: string, current: SourceTask | null): SourceTask | null {
  if (text === "none") return null;
  const base: SourceTask = current ?? { ...(PRESETS.synthetic.source as SourceTask) };
  const kv = keyValues("source", text, ["count", "classes", "epochs", "model"]);
  return {
    count: kv.count === undefined ? base.count : int("source count", kv.count, 1),
    classes: kv.classes === undefined ? base.classes : int("source classes", kv.classes, 2),
    epochs: kv.epochs === undefined ? base.epochs : int("source epochs", kv.epochs, 1),
    model: kv.model === undefined ? base.model : modelName("source", kv.model),
  };
}

/**
 * One study flag, declared once: the usage text, the parseArgs option, how {@linkcode resolveConfig} sets
 * the field from the flag's text and how {@linkcode configToArgs} writes the field back all come from it.
 */
interface Flag<K extends keyof StudyConfig> {
  /** name without the dashes */
  flag: string;
  /** the config field it sets */
  field: K;
  /** the value's placeholder in the usage text; absent for a switch */
  arg?: string;
  /** the usage text's description */
  help: string;
  /** the field's new value from the flag's text (a switch gets ""); `c` holds the values so far */
  parse(text: string, c: StudyConfig, flag: string): StudyConfig[K];
  /** the flag's text for the field's value (default `String`), or null when the flag is left out */
  show?(v: StudyConfig[K]): string | null;
}

/** Parsers and writers shared by several flags; `flag` names the flag in error messages. */
const whole = (min: number) => (t: string, _c: unknown, flag: string) => int(flag, t, min);
const inRange = (lo: number, hi: number, hiOpen = true) => (t: string, _c: unknown, flag: string) =>
  num(flag, t, lo, hi, true, hiOpen);
const wholeOrNone = (min: number) => ({
  parse: (t: string, _c: unknown, flag: string) => optionalInt(flag, t, min),
  show: (v: number | null) => (v === null ? "none" : String(v)),
});
const models = (t: string, _c: unknown, flag: string) => list(flag, t).map((m) => modelName(flag, m));

/** Every study flag, in usage order, which is also the order they apply in and are written back in. */
const FLAGS: readonly { [K in keyof StudyConfig]-?: Flag<K> }[keyof StudyConfig][] = [
  {
    flag: "preset",
    field: "preset",
    arg: "NAME",
    help: "demo (default: RetinaMNIST, SqueezeNet 1.1), synthetic, paper or small-data",
    // resolveConfig starts from the preset's table, so only its name is left to set
    parse: (t) => t,
  },
  {
    flag: "data",
    field: "data",
    arg: "SRC",
    help: "PATH, or synthetic[:COUNT] / synthetic:count=N,seed=N,width=N,grades=a:b:c:d:e",
    parse: (t, c) => parseData(t, c.data),
    show: (d) =>
      d.kind === "path" ? d.path : `synthetic:count=${d.count},seed=${d.seed},width=${d.width}` +
        (d.grades ? `,grades=${d.grades.join(":")}` : ""),
  },
  {
    flag: "format",
    field: "data",
    arg: "NAME",
    help: "data format at --data PATH (e.g. kaggle, aptos, medmnist); default: detect",
    parse: (t, c) => {
      if (c.data.kind !== "path") {
        throw new RangeError("--format applies only to --data PATH, not to synthetic data");
      }
      return t === "auto" ? { kind: "path", path: c.data.path } : { ...c.data, format: t };
    },
    show: (d) => (d.kind === "path" ? d.format ?? "auto" : null),
  },
  {
    flag: "source",
    field: "source",
    arg: "SPEC",
    help: "none, or count=N,classes=N,epochs=N,model=NAME (self-made pretraining)",
    parse: (t, c) => parseSource(t, c.source),
    show: (s) => (s ? `count=${s.count},classes=${s.classes},epochs=${s.epochs},model=${s.model}` : "none"),
  },
  {
    flag: "weights",
    field: "weights",
    arg: "M=FILE,...",
    help: "pretrained weights per model, e.g. resnet50=r50.onnx,inception_v3=i3.onnx",
    parse: (t, c) => {
      const weights = { ...c.weights };
      for (const item of list("weights", t)) {
        const eq = item.indexOf("=");
        if (eq <= 0 || eq === item.length - 1) {
          throw new RangeError(`--weights expects MODEL=FILE items, got "${item}"`);
        }
        weights[modelName("weights", item.slice(0, eq))] = item.slice(eq + 1);
      }
      return weights;
    },
    show: (w) => Object.entries(w).map(([m, f]) => `${m}=${f}`).join(",") || null,
  },
  { flag: "models", field: "models", arg: "A,B", help: MODEL_NAMES.join(", "), parse: models },
  {
    flag: "baselines",
    field: "baselines",
    arg: "A,B|none",
    help: "models trained from random init only, beside the grid",
    parse: (t, c, flag) => (t === "none" ? [] : models(t, c, flag)),
    show: (b) => (b.length ? b.join(",") : "none"),
  },
  {
    flag: "baseline-size",
    field: "baselineSize",
    arg: "PX|none",
    help: "their input side (default: --size)",
    ...wholeOrNone(16),
  },
  {
    flag: "inits",
    field: "inits",
    arg: "A,B",
    help: "random, transfer, meanvar, transfusion:K",
    parse: (t) => list("inits", t).map(initName),
  },
  {
    flag: "seeds",
    field: "seeds",
    arg: "0,1,2",
    help: "one run per seed, model and init",
    parse: (t) => list("seeds", t).map((s) => int("seeds", s, 0)),
  },
  { flag: "epochs", field: "epochs", arg: "N", help: "training epochs", parse: whole(1) },
  { flag: "batch", field: "batch", arg: "N", help: "images per optimizer step", parse: whole(1) },
  { flag: "size", field: "size", arg: "PX", help: "square input side in pixels", parse: whole(16) },
  { flag: "lr", field: "lr", arg: "X", help: "Adam learning rate", parse: inRange(0, 10) },
  { flag: "threads", field: "threads", arg: "N", help: "intra-op threads (0 = all cores)", parse: whole(0) },
  {
    flag: "limit",
    field: "limit",
    arg: "N|none",
    help: "a stratified subset of N photos",
    ...wholeOrNone(1),
  },
  {
    flag: "train-subset",
    field: "trainSubset",
    arg: "N|none",
    help: "a stratified training subset of N photos",
    ...wholeOrNone(1),
  },
  {
    flag: "test-fraction",
    field: "testFraction",
    arg: "X",
    help: "held-out share (0.1)",
    parse: inRange(0, 1),
  },
  {
    flag: "eval-every",
    field: "evalEvery",
    arg: "N",
    help: "extra evaluations every N steps (0 = epoch ends only)",
    parse: whole(0),
  },
  {
    flag: "probe-count",
    field: "probeCount",
    arg: "N",
    help: "photos whose activations feed CCA",
    parse: whole(2),
  },
  {
    flag: "auc-target",
    field: "aucTarget",
    arg: "X",
    help: "test AUC for convergence speed (runs without a val split)",
    parse: inRange(0, 1, false),
  },
  {
    flag: "target-fraction",
    field: "targetFraction",
    arg: "X",
    help: "with a val split: convergence target, this fraction of random's best val AUC above 0.5",
    parse: inRange(0, 1, false),
  },
  { flag: "device", field: "device", arg: "D", help: DEVICE_WORDS, parse: device },
  {
    flag: "out",
    field: "out",
    arg: "DIR",
    help: "output folder (out)",
    parse: (t) => {
      if (t.trim() === "") throw new RangeError("--out must name a folder, got an empty value");
      return t;
    },
  },
  {
    flag: "shard",
    field: "shard",
    arg: "I/N",
    help: "run part I of N of the grid (I counts from 0)",
    parse: parseShard,
    show: (s) => (s ? `${s.index}/${s.count}` : null),
  },
  {
    flag: "allow-outside-paths",
    field: "allowOutsidePaths",
    help: "let a listing name photos outside its folder (refused by default)",
    parse: () => true,
    show: (v) => (v ? "" : null),
  },
  {
    flag: "retrain",
    field: "retrain",
    help: "set runs trained with other settings aside (OUT/discarded/) and train them again",
    parse: () => true,
    show: (v) => (v ? "" : null),
  },
];

/** Flags studies had once, and what stands in for each (the refusal says it). */
const REMOVED_FLAGS: Readonly<Record<string, string>> = {
  "tune-convs":
    "studies train with the conv plan's fixed formulations, which the tuner measured no slower (bench/tune.ts times them)",
};

const OPTIONS: Record<string, { type: "string" | "boolean" }> = Object.fromEntries(
  FLAGS.map((f) => [f.flag, { type: f.arg === undefined ? "boolean" : "string" }]),
);

/** Help text for the flags that {@linkcode resolveConfig} understands. */
export const STUDY_USAGE: string = [
  "Flags (each overrides the preset's value):",
  ...FLAGS.map((f) => `  ${`--${f.flag}${f.arg === undefined ? "" : ` ${f.arg}`}`.padEnd(26)}${f.help}`),
].join("\n");

/** Sets `f`'s field from the flag's text (a generic function, so the field and its value stay paired). */
function applyFlag<K extends keyof StudyConfig>(c: StudyConfig, f: Flag<K>, text: string): void {
  c[f.field] = f.parse(text, c, f.flag);
}

/** The arguments that give `f`'s field `c`'s value: none, the switch alone, or the flag and its text. */
function flagArgs<K extends keyof StudyConfig>(c: StudyConfig, f: Flag<K>): string[] {
  const text = f.show ? f.show(c[f.field]) : String(c[f.field]);
  if (text === null) return [];
  return f.arg === undefined ? [`--${f.flag}`] : [`--${f.flag}`, text];
}

/** True when an init starts from pretrained weights (and so needs a weights file or a source task). */
export function needsPretrained(init: InitName): boolean {
  return init !== "random";
}

/**
 * Checks a configuration's values and their consistency; throws a one-line `RangeError` naming the field.
 * With `requireInputs` (default) also checks that a data path and the pretrained weights are named.
 */
export function validateConfig(c: StudyConfig, opts: ResolveOptions = {}): void {
  const requireInputs = opts.requireInputs ?? true;
  if (c.models.length === 0) throw new RangeError("--models must name at least one model");
  if (c.inits.length === 0) throw new RangeError("--inits must name at least one init");
  if (c.seeds.length === 0) throw new RangeError("--seeds must name at least one seed");
  for (const m of c.models) modelName("models", m);
  for (const m of c.baselines) modelName("baselines", m);
  for (const i of c.inits) initName(i);
  for (const s of c.seeds) {
    if (!Number.isSafeInteger(s) || s < 0) throw new RangeError(`--seeds: bad seed ${s}`);
  }
  for (const m of Object.keys(c.weights)) modelName("weights", m);
  if (c.source) modelName("source", c.source.model);
  device(c.device);
  if (c.batch < 2) {
    throw new RangeError(
      `--batch must be at least 2, got ${c.batch}: BatchNorm in training mode needs two images per batch`,
    );
  }
  if (c.limit !== null && c.trainSubset !== null && c.trainSubset > c.limit) {
    throw new RangeError(`--train-subset ${c.trainSubset} exceeds --limit ${c.limit}`);
  }
  if (c.data.kind === "path" && c.data.format !== undefined && !/^[a-z0-9_-]+$/.test(c.data.format)) {
    throw new RangeError(`--format must be a lower-case name, got "${c.data.format}"`);
  }
  if (!requireInputs) return;
  if (c.data.kind === "path" && c.data.path === "") {
    throw new RangeError(
      `The ${c.preset} preset needs --data PATH (a folder with the photos and their labels file)`,
    );
  }
  for (const model of c.models) {
    const init = c.inits.find(needsPretrained);
    if (init && !(model in c.weights) && c.source?.model !== model) {
      throw new RangeError(
        `Init "${init}" needs pretrained weights for ${model}: pass --weights ${model}=FILE`,
      );
    }
  }
}

/**
 * Resolves the study's configuration from command-line arguments: the `--preset` (default `demo`) with
 * each flag's override (see {@linkcode STUDY_USAGE}). Bad values throw a one-line `RangeError`/`TypeError`.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const c = resolveConfig(["--seeds", "0,1", "--epochs", "2"]);
 * if (c.preset !== "demo" || c.seeds.length !== 2) throw new Error("unexpected");
 * ```
 */
export function resolveConfig(argv: string[], opts: ResolveOptions = {}): StudyConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: joinNegativeValues(argv, OPTIONS),
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
  } catch (e) {
    // node:util's messages span several lines; keep them to one.
    const msg = errorMessage(e).split("\n");
    const dash = /'(--[\w-]+)' argument is ambiguous/.exec(msg[0]);
    const gone = /Unknown option '--([\w-]+)'/.exec(msg[0])?.[1];
    throw new TypeError(
      dash
        ? `${dash[1]} needs a value; write ${dash[1]}=VALUE for one that starts with a dash`
        : gone && gone in REMOVED_FLAGS
        ? `--${gone} is no longer a study flag: ${REMOVED_FLAGS[gone]}`
        : msg[0].replace(/\.$/, ""),
    );
  }
  const presetName = (values.preset as string | undefined) ?? "demo";
  const preset = PRESETS[presetName];
  if (!preset) {
    throw new RangeError(
      `--preset: unknown preset "${presetName}" (known: ${Object.keys(PRESETS).join(", ")})`,
    );
  }
  const c: StudyConfig = structuredClone(preset);
  c.preset = presetName;
  c.shard = null;
  c.allowOutsidePaths ??= false;
  c.retrain ??= false;
  for (const f of FLAGS) {
    const v = values[f.flag];
    if (v !== undefined) applyFlag(c, f, v === true ? "" : String(v));
  }
  if (opts.cwd !== undefined) {
    const abs = (p: string) => isAbsolute(p) ? p : resolve(opts.cwd!, p);
    c.out = abs(c.out);
    if (c.data.kind === "path" && c.data.path !== "") c.data = { ...c.data, path: abs(c.data.path) };
    c.weights = Object.fromEntries(Object.entries(c.weights).map(([m, f]) => [m, abs(f)]));
  }
  validateConfig(c, opts);
  // more intra-op threads than cores only contend: --threads 1000 started 2 006 threads, trained at 0.1
  // images/s and took 109 s to honour SIGTERM. Capped here, so every step gets the capped value.
  const cores = navigator.hardwareConcurrency;
  if (c.threads > cores) {
    (opts.log ?? console.error)(`--threads ${c.threads}: this machine has ${cores} cores; using ${cores}`);
    c.threads = cores;
  }
  return c;
}

/**
 * The flags that reproduce `config` exactly through {@linkcode resolveConfig}, every field spelled out so
 * that a later change to a preset does not change what the command means.
 *
 * @example
 * ```ts
 * import { configToArgs, resolveConfig } from "./config.ts";
 * const c = resolveConfig(["--epochs", "2"]);
 * const again = resolveConfig(configToArgs(c));
 * if (again.epochs !== 2) throw new Error("round trip failed");
 * ```
 */
export function configToArgs(c: StudyConfig): string[] {
  return FLAGS.flatMap((f) => flagArgs(c, f));
}

/**
 * The random-only baselines that run beside the grid: those of `baselines` not already among `models`.
 *
 * @example
 * ```ts
 * import { baselineModels } from "./config.ts";
 * baselineModels({ models: ["squeezenet1_1"], baselines: ["cbr_small"] }); // ["cbr_small"]
 * ```
 */
export function baselineModels(
  c: Pick<StudyConfig, "models"> & { baselines?: readonly ModelName[] },
): ModelName[] {
  return (c.baselines ?? []).filter((m) => !c.models.includes(m));
}

/** A run's folder name: `<model>-<init>-s<seed>`, with `transfusion:K` written `transfusionK` for file systems. */
export function runId(model: string, init: string, seed: number): string {
  return `${model}-${init.replace(":", "")}-s${seed}`;
}

/**
 * The study's runs in a fixed order: model, then seed, then init, so that a partly finished study holds
 * complete init comparisons for the first seeds rather than all seeds of one init.
 *
 * @example
 * ```ts
 * import { resolveConfig, runGrid } from "./config.ts";
 * const runs = runGrid(resolveConfig(["--seeds", "0"]));
 * // [{ model: "cbr_small", init: "random", seed: 0, id: "cbr_small-random-s0" }, ...]
 * ```
 */
export function runGrid(
  c: Pick<StudyConfig, "models" | "inits" | "seeds"> & { baselines?: readonly ModelName[] },
): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const model of c.models) {
    for (const seed of c.seeds) {
      for (const init of c.inits) runs.push({ model, init, seed, id: runId(model, init, seed) });
    }
  }
  // the random-only baselines come last: the main comparison finishes first; a model of the grid is not
  // trained twice
  for (const model of baselineModels(c)) {
    for (const seed of c.seeds) runs.push({ model, init: "random", seed, id: runId(model, "random", seed) });
  }
  return runs;
}

/**
 * The runs of shard `index` of `count`: every `count`-th run starting at `index`. The shards are disjoint,
 * together cover the grid, and mix models, so array jobs get similar amounts of work.
 *
 * @example
 * ```ts
 * import { shardRuns } from "./config.ts";
 * const part = shardRuns(["a", "b", "c", "d", "e"], 1, 2); // ["b", "d"]
 * ```
 */
export function shardRuns<T>(runs: readonly T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Shard count must be a whole number ≥ 1, got ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`Shard index must be a whole number in 0..${count - 1}, got ${index}`);
  }
  return runs.filter((_, i) => i % count === index);
}
