/**
 * Initialisations of the study: random (torchvision's defaults), transfer (pretrained body, new random
 * head), Mean-Var (each pretrained weight tensor resampled i.i.d. from N(its mean, its variance)) and
 * weight transfusion (pretrained up to stage k, random above).
 *
 * Random numbers: tensor `key` draws from `new Rng(seed).fork(key)` (lib/util/random.ts, xoshiro128**),
 * so a tensor's values depend only on the seed and its name, never on the order tensors are made in.
 * @module
 */
import { Rng } from "../util/random.ts";
import { numel } from "../graph/types.ts";
import type { ParamSpec, StateDict, Tensor } from "./nn.ts";
import type { ModelSpec } from "./registry.ts";

function paramsOf(specs: ModelSpec | readonly ParamSpec[]): readonly ParamSpec[] {
  return Array.isArray(specs) ? specs : (specs as ModelSpec).params;
}

/**
 * One tensor from its initialiser, as torch does it:
 * kaiming-normal fan_out N(0, 2/fan_out) (fan_out = out·kh·kw); `trunc_normal_(std, a=-2, b=2)` (absolute
 * bounds, as torchvision's Inception passes them); `kaiming_uniform_(a=√5)` = U(±1/√fan_in) for conv and
 * linear weights; `kaiming_uniform_()` (a = 0) = U(±√(6/fan_in)) for SqueezeNet's convs; U(±1/√fan_in)
 * biases; N(0, std); constants (BN weight 1, bias 0, running_var 1, …).
 */
export function initTensor(spec: ParamSpec, rng: Rng): Tensor {
  const n = numel(spec.shape);
  if (spec.dtype === "int64") {
    const v = spec.init.kind === "const" ? BigInt(spec.init.value) : 0n;
    return { shape: [...spec.shape], data: new BigInt64Array(n).fill(v) };
  }
  const data = new Float32Array(n);
  const init = spec.init;
  switch (init.kind) {
    case "const":
      data.fill(init.value);
      break;
    case "kaimingNormalFanOut": {
      const fanOut = spec.shape[0] * numel(spec.shape.slice(2));
      const std = Math.sqrt(2 / fanOut);
      for (let i = 0; i < n; i++) data[i] = rng.normal(0, std);
      break;
    }
    case "truncNormal":
      for (let i = 0; i < n; i++) data[i] = rng.truncNormal(0, init.std, -2, 2);
      break;
    case "kaimingUniformA5":
    case "uniformFanIn": {
      const b = 1 / Math.sqrt(init.fanIn);
      for (let i = 0; i < n; i++) data[i] = rng.uniform(-b, b);
      break;
    }
    case "kaimingUniform": {
      const b = Math.sqrt(6 / init.fanIn);
      for (let i = 0; i < n; i++) data[i] = rng.uniform(-b, b);
      break;
    }
    case "normal":
      for (let i = 0; i < n; i++) data[i] = rng.normal(0, init.std);
      break;
  }
  return { shape: [...spec.shape], data };
}

/**
 * Random initialisation with torchvision's defaults for every module (ResNet: kaiming-normal fan_out
 * convs; Inception: truncated normal; BN weight 1 / bias 0; Linear: U(±1/√fan_in)), in state_dict order.
 *
 * @example
 * ```ts
 * import { randomInit } from "./init.ts";
 * import { paramSpecs } from "./registry.ts";
 * const a = randomInit(paramSpecs("cbr-small", { inputSize: 32 }), 7);
 * const b = randomInit(paramSpecs("cbr-small", { inputSize: 32 }), 7);
 * if (a.get("fc.weight")!.data[0] !== b.get("fc.weight")!.data[0]) throw new Error("not reproducible");
 * ```
 */
export function randomInit(specs: ModelSpec | readonly ParamSpec[], seed: number | string): StateDict {
  const root = new Rng(seed);
  const out: StateDict = new Map();
  for (const s of paramsOf(specs)) out.set(s.name, initTensor(s, root.fork(s.name)));
  return out;
}

function source(pretrained: StateDict, s: ParamSpec, why: string): Tensor {
  const t = pretrained.get(s.name);
  if (!t) throw new RangeError(`Pretrained weights lack ${s.name}, which ${why} needs`);
  if (t.shape.join() !== s.shape.join()) {
    throw new RangeError(`Pretrained ${s.name} has shape [${t.shape}], ${why} needs [${s.shape}]`);
  }
  return { shape: [...s.shape], data: t.data.slice() as Float32Array | BigInt64Array };
}

// an eval-mode ONNX export drops the AuxLogits head; its num_batches_tracked counters (int64, filled in on
// import since no ONNX file carries them) do not make the head present
const auxAbsent = (pretrained: StateDict, key: string) =>
  key.startsWith("AuxLogits.") &&
  ![...pretrained].some(([k, t]) => k.startsWith("AuxLogits.") && t.data instanceof Float32Array);

/**
 * Transfer: every tensor from `pretrained` except the classifier head(s), which are new and random
 * (`seed`) unless `keepHead` (then the head must match, i.e. 1000 classes). An Inception AuxLogits head
 * missing from the pretrained weights altogether (an eval-mode ONNX export drops it) starts random too.
 */
export function transferInit(
  pretrained: StateDict,
  spec: ModelSpec,
  seed: number | string,
  opts: { keepHead?: boolean } = {},
): StateDict {
  const random = randomInit(spec, seed);
  const head = new Set(spec.head);
  const out: StateDict = new Map();
  for (const s of spec.params) {
    const fresh = (head.has(s.name) && !opts.keepHead) || auxAbsent(pretrained, s.name);
    out.set(s.name, fresh ? random.get(s.name)! : source(pretrained, s, "transfer"));
  }
  return out;
}

/**
 * Mean-Var (Raghu et al.): each pretrained trainable tensor — conv and linear weights, and BN's weight
 * and bias, which are parameters too — is replaced by i.i.d. draws from N(mean, variance) of that tensor
 * (population variance); a constant tensor stays constant. BN running statistics and
 * num_batches_tracked are reset to torch's defaults (0, 1, 0): they describe the activations of the
 * pretrained features, which Mean-Var destroys, and training replaces them within ~50 steps anyway
 * (momentum 0.1) since training-mode BN normalises with batch statistics. The head is new and random as
 * in transfer (unless `keepHead`, then it is resampled like the rest).
 *
 * @example
 * ```ts
 * import { meanVarInit, randomInit } from "./init.ts";
 * import { paramSpecs } from "./registry.ts";
 * const spec = paramSpecs("cbr-small", { inputSize: 32 });
 * const mv = meanVarInit(randomInit(spec, 1), spec, 2);
 * if (mv.get("block1.bn.running_var")!.data[0] !== 1) throw new Error("unexpected");
 * ```
 */
export function meanVarInit(
  pretrained: StateDict,
  spec: ModelSpec,
  seed: number | string,
  opts: { keepHead?: boolean } = {},
): StateDict {
  const random = randomInit(spec, seed);
  const root = new Rng(seed).fork("mean-var");
  const head = new Set(spec.head);
  const out: StateDict = new Map();
  for (const s of spec.params) {
    if (!s.trainable || (head.has(s.name) && !opts.keepHead) || auxAbsent(pretrained, s.name)) {
      out.set(s.name, random.get(s.name)!);
      continue;
    }
    const src = source(pretrained, s, "mean-var").data as Float32Array;
    const { mean, variance } = moments(src);
    const std = Math.sqrt(variance);
    const rng = root.fork(s.name);
    const data = new Float32Array(src.length);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal(mean, std);
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/** Mean and population variance in float64 (two-pass). */
export function moments(x: ArrayLike<number>): { mean: number; variance: number } {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i];
  m /= x.length || 1;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - m) ** 2;
  return { mean: m, variance: v / (x.length || 1) };
}

/**
 * Weight transfusion: tensors of the first `k` stages (with their BN statistics) from `pretrained`,
 * everything else (higher stages, head) from `random`. k = 0 is random init; k = stages.length keeps
 * only the head random. Stages come from `paramSpecs(...).stages` (ResNet: conv1, layer1..layer4).
 */
export function transfusionInit(
  pretrained: StateDict,
  random: StateDict,
  k: number,
  stages: readonly { name: string; keys: readonly string[] }[],
): StateDict {
  if (!Number.isInteger(k) || k < 0 || k > stages.length) {
    throw new RangeError(`Transfusion depth k must be an integer from 0 to ${stages.length}, got ${k}`);
  }
  const take = new Set(stages.slice(0, k).flatMap((s) => s.keys));
  const out: StateDict = new Map();
  for (const [key, t] of random) {
    if (!take.has(key) || auxAbsent(pretrained, key)) {
      out.set(key, t);
      continue;
    }
    const p = pretrained.get(key);
    if (!p) throw new RangeError(`Pretrained weights lack ${key}, which transfusion up to stage ${k} needs`);
    if (p.shape.join() !== t.shape.join()) {
      throw new RangeError(`Pretrained ${key} has shape [${p.shape}], the model needs [${t.shape}]`);
    }
    out.set(key, { shape: [...t.shape], data: p.data.slice() as Float32Array | BigInt64Array });
  }
  return out;
}
