/**
 * The study's configuration: three presets kept as JSON next to this file (`demo`, `paper`, `small-data`),
 * every field overridable by a command-line flag, the run grid (model × seed × init) and its deterministic
 * split into shards for job arrays.
 * @module
 */
import { parseArgs } from "node:util";
import demoPreset from "./presets/demo.json" with { type: "json" };
import paperPreset from "./presets/paper.json" with { type: "json" };
import smallDataPreset from "./presets/small-data.json" with { type: "json" };

/** Model names of the models registry (torchvision's two and the CBR family of Raghu's appendix). */
export const MODEL_NAMES = [
  "resnet50",
  "inception_v3",
  "cbr_large_t",
  "cbr_large_w",
  "cbr_small",
  "cbr_tiny",
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
  /** onnxruntime execution provider: "cpu", "webgpu" or "cuda" */
  device: string;
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
  /** the referable-DR AUC that "steps to reach" (convergence speed) counts up to */
  aucTarget: number;
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
};

/** Options of {@linkcode resolveConfig}. */
export interface ResolveOptions {
  /**
   * Check that the inputs a training run needs are named: a data path for path data and weights for every
   * model whose inits need pretrained weights. Default true; analysis and report steps can pass false.
   */
  requireInputs?: boolean;
}

/** Help text for the flags that {@linkcode resolveConfig} understands. */
export const STUDY_USAGE = `Flags (each overrides the preset's value):
  --preset NAME          demo (default), paper or small-data
  --data SRC             PATH, or synthetic[:COUNT] / synthetic:count=N,seed=N,width=N,grades=a:b:c:d:e
  --format NAME          data format at --data PATH (e.g. kaggle, aptos, medmnist); default: detect
  --source SPEC          none, or count=N,classes=N,epochs=N,model=NAME (self-made pretraining)
  --weights M=FILE,...   pretrained weights per model, e.g. resnet50=r50.onnx,inception_v3=i3.onnx
  --models A,B           ${MODEL_NAMES.join(", ")}
  --inits A,B            random, transfer, meanvar, transfusion:K
  --seeds 0,1,2          --epochs N   --batch N   --size PX   --lr X   --threads N (0 = all cores)
  --limit N|none         a stratified subset of N photos  --train-subset N|none   stratified training subset
  --test-fraction X      held-out share (0.1)             --eval-every N   extra evaluations every N steps
  --probe-count N        photos whose activations feed CCA  --auc-target X   AUC for convergence speed
  --device D             cpu, webgpu or cuda              --out DIR   output folder (out)
  --shard I/N            run part I of N of the grid (I counts from 0)`;

const OPTIONS = {
  preset: { type: "string" },
  data: { type: "string" },
  format: { type: "string" },
  source: { type: "string" },
  weights: { type: "string" },
  models: { type: "string" },
  inits: { type: "string" },
  seeds: { type: "string" },
  epochs: { type: "string" },
  batch: { type: "string" },
  size: { type: "string" },
  lr: { type: "string" },
  threads: { type: "string" },
  limit: { type: "string" },
  "train-subset": { type: "string" },
  "test-fraction": { type: "string" },
  "eval-every": { type: "string" },
  "probe-count": { type: "string" },
  "auc-target": { type: "string" },
  device: { type: "string" },
  out: { type: "string" },
  shard: { type: "string" },
} as const;

function int(flag: string, text: string, min: number): number {
  if (!/^\d+$/.test(text.trim())) throw new RangeError(`--${flag} must be a whole number, got "${text}"`);
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

function modelName(flag: string, text: string): ModelName {
  if (!(MODEL_NAMES as readonly string[]).includes(text)) {
    throw new RangeError(`--${flag}: unknown model "${text}" (known: ${MODEL_NAMES.join(", ")})`);
  }
  return text as ModelName;
}

function initName(text: string): InitName {
  if (text === "random" || text === "transfer" || text === "meanvar") return text;
  const m = /^transfusion:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 1) return `transfusion:${Number(m[1])}`;
  throw new RangeError(
    `--inits: unknown init "${text}" (known: random, transfer, meanvar, transfusion:K with K ≥ 1)`,
  );
}

function device(text: string): string {
  if (!/^(cpu|webgpu|cuda)$/.test(text)) {
    throw new RangeError(`--device must be cpu, webgpu or cuda, got "${text}"`);
  }
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
      : PRESETS.demo.data as DataSource & { kind: "synthetic" };
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
  const base: SourceTask = current ?? { ...(PRESETS.demo.source as SourceTask) };
  const kv = keyValues("source", text, ["count", "classes", "epochs", "model"]);
  return {
    count: kv.count === undefined ? base.count : int("source count", kv.count, 1),
    classes: kv.classes === undefined ? base.classes : int("source classes", kv.classes, 2),
    epochs: kv.epochs === undefined ? base.epochs : int("source epochs", kv.epochs, 1),
    model: kv.model === undefined ? base.model : modelName("source", kv.model),
  };
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
  for (const i of c.inits) initName(i);
  for (const s of c.seeds) {
    if (!Number.isSafeInteger(s) || s < 0) throw new RangeError(`--seeds: bad seed ${s}`);
  }
  for (const m of Object.keys(c.weights)) modelName("weights", m);
  if (c.source) modelName("source", c.source.model);
  device(c.device);
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
  let values: Partial<Record<keyof typeof OPTIONS, string>>;
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
    values = parsed.values;
  } catch (e) {
    // node:util's messages span several lines; keep them to one.
    const msg = (e instanceof Error ? e.message : String(e)).split("\n");
    const dash = /'(--[\w-]+)' argument is ambiguous/.exec(msg[0]);
    throw new TypeError(
      dash
        ? `${dash[1]} needs a value; write ${dash[1]}=VALUE for one that starts with a dash`
        : msg[0].replace(/\.$/, ""),
    );
  }
  const presetName = values.preset ?? "demo";
  const preset = PRESETS[presetName];
  if (!preset) {
    throw new RangeError(
      `--preset: unknown preset "${presetName}" (known: ${Object.keys(PRESETS).join(", ")})`,
    );
  }
  const c: StudyConfig = structuredClone(preset);
  c.preset = presetName;
  c.shard = null;

  if (values.data !== undefined) c.data = parseData(values.data, c.data);
  if (values.format !== undefined) {
    if (c.data.kind !== "path") {
      throw new RangeError("--format applies only to --data PATH, not to synthetic data");
    }
    c.data = values.format === "auto"
      ? { kind: "path", path: c.data.path }
      : { ...c.data, format: values.format };
  }
  if (values.source !== undefined) c.source = parseSource(values.source, c.source);
  if (values.weights !== undefined) {
    for (const item of list("weights", values.weights)) {
      const eq = item.indexOf("=");
      if (eq <= 0 || eq === item.length - 1) {
        throw new RangeError(`--weights expects MODEL=FILE items, got "${item}"`);
      }
      c.weights[modelName("weights", item.slice(0, eq))] = item.slice(eq + 1);
    }
  }
  if (values.models !== undefined) {
    c.models = list("models", values.models).map((m) => modelName("models", m));
  }
  if (values.inits !== undefined) c.inits = list("inits", values.inits).map(initName);
  if (values.seeds !== undefined) c.seeds = list("seeds", values.seeds).map((s) => int("seeds", s, 0));
  if (values.epochs !== undefined) c.epochs = int("epochs", values.epochs, 1);
  if (values.batch !== undefined) c.batch = int("batch", values.batch, 1);
  if (values.size !== undefined) c.size = int("size", values.size, 16);
  if (values.lr !== undefined) c.lr = num("lr", values.lr, 0, 10);
  if (values.threads !== undefined) c.threads = int("threads", values.threads, 0);
  if (values.limit !== undefined) c.limit = optionalInt("limit", values.limit, 1);
  if (values["train-subset"] !== undefined) {
    c.trainSubset = optionalInt("train-subset", values["train-subset"], 1);
  }
  if (values["test-fraction"] !== undefined) {
    c.testFraction = num("test-fraction", values["test-fraction"], 0, 1);
  }
  if (values["eval-every"] !== undefined) c.evalEvery = int("eval-every", values["eval-every"], 0);
  if (values["probe-count"] !== undefined) c.probeCount = int("probe-count", values["probe-count"], 2);
  if (values["auc-target"] !== undefined) {
    c.aucTarget = num("auc-target", values["auc-target"], 0, 1, true, false);
  }
  if (values.device !== undefined) c.device = device(values.device);
  if (values.out !== undefined) {
    if (values.out.trim() === "") throw new RangeError("--out must name a folder, got an empty value");
    c.out = values.out;
  }
  if (values.shard !== undefined) c.shard = parseShard(values.shard);
  validateConfig(c, opts);
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
  const a: string[] = ["--preset", c.preset];
  if (c.data.kind === "synthetic") {
    a.push(
      "--data",
      `synthetic:count=${c.data.count},seed=${c.data.seed},width=${c.data.width}` +
        (c.data.grades ? `,grades=${c.data.grades.join(":")}` : ""),
    );
  } else {
    a.push("--data", c.data.path, "--format", c.data.format ?? "auto");
  }
  a.push(
    "--source",
    c.source
      ? `count=${c.source.count},classes=${c.source.classes},epochs=${c.source.epochs},model=${c.source.model}`
      : "none",
  );
  const weights = Object.entries(c.weights);
  if (weights.length > 0) a.push("--weights", weights.map(([m, f]) => `${m}=${f}`).join(","));
  a.push("--models", c.models.join(","), "--inits", c.inits.join(","), "--seeds", c.seeds.join(","));
  a.push("--epochs", String(c.epochs), "--batch", String(c.batch), "--size", String(c.size));
  a.push("--lr", String(c.lr), "--threads", String(c.threads));
  a.push("--limit", c.limit === null ? "none" : String(c.limit));
  a.push("--train-subset", c.trainSubset === null ? "none" : String(c.trainSubset));
  a.push("--test-fraction", String(c.testFraction), "--eval-every", String(c.evalEvery));
  a.push("--probe-count", String(c.probeCount), "--auc-target", String(c.aucTarget));
  a.push("--device", c.device, "--out", c.out);
  if (c.shard) a.push("--shard", `${c.shard.index}/${c.shard.count}`);
  return a;
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
export function runGrid(c: Pick<StudyConfig, "models" | "inits" | "seeds">): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const model of c.models) {
    for (const seed of c.seeds) {
      for (const init of c.inits) runs.push({ model, init, seed, id: runId(model, init, seed) });
    }
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
