/**
 * ImageNet (or any) weights from an ONNX file exported from torchvision: by initializer name where the
 * state_dict names survived the export (`torch.onnx.export` keeps them when BN is preserved), else by
 * walking the graph's Conv / BatchNormalization / Gemm nodes in order against the model's layers.
 * @module
 */
import { type OnnxModel, type OnnxTensor, readOnnxFile } from "../graph/read.ts";
import type { ParamSpec } from "../models/nn.ts";
import { TRANSFORM_INPUT } from "../models/inception.ts";
import type { StateDict, Tensor } from "./state_dict.ts";
import { numel } from "../graph/types.ts";

/** The export command that keeps BatchNorm as its own nodes, quoted by the folded-BN error. */
export const KEEP_BN_EXPORT =
  "torch.onnx.export(model.eval(), x, 'model.onnx', training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)";

/** How {@linkcode importOnnx} mapped the file. */
export interface OnnxImport {
  /** The tensors, in spec order. */
  state: StateDict;
  /** Whether names or the graph structure gave the mapping. */
  by: "name" | "structure";
  /** Spec keys the file cannot carry (num_batches_tracked; an AuxLogits head absent from an eval export). */
  absent: string[];
}

type LayerKind = "conv" | "bn" | "linear";
interface SpecLayer {
  kind: LayerKind;
  module: string;
  keys: ParamSpec[];
}

function specLayers(specs: readonly ParamSpec[]): SpecLayer[] {
  const layers: SpecLayer[] = [];
  for (const s of specs) {
    const module = s.name.slice(0, s.name.lastIndexOf("."));
    let cur = layers.at(-1);
    if (!cur || cur.module !== module) {
      cur = { kind: "conv", module, keys: [] };
      layers.push(cur);
    }
    cur.keys.push(s);
  }
  for (const l of layers) {
    if (l.keys.some((k) => k.name.endsWith(".running_mean"))) l.kind = "bn";
    else if (l.keys[0].shape.length === 2) l.kind = "linear";
  }
  return layers;
}

function asTensor(t: OnnxTensor): Tensor {
  return { shape: [...t.dims], data: t.data };
}

function transpose2d(t: OnnxTensor): Tensor {
  const [r, c] = t.dims;
  const src = t.data as Float32Array, out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return { shape: [c, r], data: out };
}

const isAux = (k: string) => k.startsWith("AuxLogits.");

/**
 * torch's exporter stores equal tensors once and recreates the others with Identity nodes (an untrained
 * model's BN statistics are all 0 or 1, for instance): their outputs are the state_dict names, so they are
 * taken as further names of the stored tensor. Returns `model` itself when it has no such aliases.
 */
export function withIdentityAliases(model: OnnxModel): OnnxModel {
  const inits = new Map(model.initializers);
  for (let grew = true; grew;) {
    grew = false;
    for (const n of model.nodes) {
      if (n.opType === "Identity" && inits.has(n.inputs[0]) && !inits.has(n.outputs[0])) {
        inits.set(n.outputs[0], inits.get(n.inputs[0])!);
        grew = true;
      }
    }
  }
  return inits.size === model.initializers.size ? model : { ...model, initializers: inits };
}

/**
 * Throws when the model has BatchNorm layers but the graph has none and its convolutions carry biases: the
 * default eval-mode `torch.onnx.export` folded BN into the convolutions (and renamed their weights), which
 * no import can undo; the message quotes {@linkcode KEEP_BN_EXPORT}. Said before any check of names, which
 * such an export has lost (it would read as another architecture).
 */
export function checkFoldedBatchNorm(
  model: OnnxModel,
  specs: readonly ParamSpec[],
  where = model.source,
): void {
  const layers = specLayers(specs);
  const bnNodes = model.nodes.filter((n) => n.opType === "BatchNormalization").length;
  const convs = model.nodes.filter((n) => n.opType === "Conv");
  const biasFree = layers.filter((l) => l.kind === "conv" && l.keys.length === 1).length;
  if (
    layers.some((l) => l.kind === "bn") && bnNodes === 0 &&
    convs.some((n) => n.inputs.length > 2 && n.inputs[2])
  ) {
    throw new RangeError(
      `${where} has BatchNorm folded into its convolutions (no running statistics, conv biases added where the model has none: ${biasFree} bias-free convs); re-export with ${KEEP_BN_EXPORT}`,
    );
  }
}

/**
 * Maps an ONNX model's weights onto a model spec. Refuses a graph whose BatchNorm was folded into the
 * convolutions (the default `torch.onnx.export` in eval mode), quoting {@linkcode KEEP_BN_EXPORT}.
 * `num_batches_tracked` is not in any ONNX graph and comes back as 0; Inception's AuxLogits head, which
 * an eval-mode export drops, is listed in `absent` when every one of its tensors is missing.
 *
 * @example
 * ```ts
 * import { importOnnx } from "./onnx_import.ts";
 * import { readOnnx } from "../graph/read.ts";
 * import { inferenceModel } from "../train/inference.ts";
 * import { paramSpecs } from "../models/registry.ts";
 * import { randomInit } from "../models/init.ts";
 * const spec = paramSpecs("cbr-small", { inputSize: 16 });
 * const state = randomInit(spec, 1);
 * const { by } = importOnnx(readOnnx(inferenceModel("cbr-small", { inputSize: 16, state })), spec.params);
 * if (by !== "name") throw new Error("unexpected");
 * ```
 */
export function importOnnx(model: OnnxModel, specs: readonly ParamSpec[], where = model.source): OnnxImport {
  model = withIdentityAliases(model);
  checkFoldedBatchNorm(model, specs, where);
  const layers = specLayers(specs);
  const floats = specs.filter((s) => s.dtype === "float32");
  const absentInt = specs.filter((s) => s.dtype === "int64").map((s) => s.name);
  const auxKeys = floats.filter((s) => isAux(s.name)).map((s) => s.name);
  const auxGone = auxKeys.length > 0 && auxKeys.every((k) => !model.initializers.has(k));
  const needed = floats.filter((s) => !(auxGone && isAux(s.name)));
  const state: StateDict = new Map();
  const finish = (by: "name" | "structure"): OnnxImport => {
    for (const s of specs) {
      if (s.dtype === "int64") {
        state.set(s.name, { shape: [...s.shape], data: new BigInt64Array(numel(s.shape)) });
      }
    }
    const ordered: StateDict = new Map();
    for (const s of specs) if (state.has(s.name)) ordered.set(s.name, state.get(s.name)!);
    return { state: ordered, by, absent: [...absentInt, ...(auxGone ? auxKeys : [])] };
  };
  if (needed.every((s) => model.initializers.has(s.name))) {
    for (const s of needed) state.set(s.name, asTensor(model.initializers.get(s.name)!));
    return finish("name");
  }
  // names did not survive: pair the graph's weighted nodes, in order, with the model's layers
  const init = (name: string | undefined, what: string): OnnxTensor => {
    const t = name ? model.initializers.get(name) : undefined;
    if (!t) {
      throw new RangeError(
        `${where}: ${what} input ${name ?? "(none)"} is not a constant, cannot map weights`,
      );
    }
    return t;
  };
  const found: { kind: LayerKind; tensors: Tensor[]; node: string }[] = [];
  for (let i = 0; i < model.nodes.length; i++) {
    const n = model.nodes[i];
    if (n.opType === "Conv") {
      found.push({
        kind: "conv",
        node: n.name,
        tensors: n.inputs.slice(1).filter(Boolean).map((x) => asTensor(init(x, "Conv"))),
      });
    } else if (n.opType === "BatchNormalization") {
      found.push({
        kind: "bn",
        node: n.name,
        tensors: n.inputs.slice(1, 5).map((x) => asTensor(init(x, "BatchNormalization"))),
      });
    } else if (n.opType === "Gemm") {
      const w = init(n.inputs[1], "Gemm");
      const tensors = [n.attributes.transB === 1 ? asTensor(w) : transpose2d(w)];
      if (n.inputs[2]) tensors.push(asTensor(init(n.inputs[2], "Gemm")));
      found.push({ kind: "linear", node: n.name, tensors });
    } else if (n.opType === "MatMul" && model.initializers.has(n.inputs[1])) {
      const tensors = [transpose2d(init(n.inputs[1], "MatMul"))];
      const add = model.nodes.find((m) => m.opType === "Add" && m.inputs.includes(n.outputs[0]));
      const b = add?.inputs.find((x) => x !== n.outputs[0] && model.initializers.has(x));
      if (b) tensors.push(asTensor(init(b, "Add")));
      found.push({ kind: "linear", node: n.name, tensors });
    }
  }
  let j = 0;
  for (const layer of layers) {
    const want = layer.keys.filter((k) => k.dtype === "float32");
    if (auxGone && isAux(layer.module)) continue;
    const got = found[j++];
    const sig = (ts: { shape: readonly number[] }[]) => ts.map((t) => `[${t.shape}]`).join(" ");
    if (!got) {
      throw new RangeError(
        `${where}: graph has ${found.length} weighted layers, the model needs more (stopped at ${layer.module})`,
      );
    }
    if (got.kind !== layer.kind || sig(got.tensors) !== sig(want)) {
      throw new RangeError(
        `${where}: graph layer ${j} (${got.kind} ${got.node}, ${
          sig(got.tensors)
        }) does not match ${layer.module} (${layer.kind}, ${sig(want)})`,
      );
    }
    want.forEach((k, i) => state.set(k.name, got.tensors[i]));
  }
  if (j !== found.length) {
    throw new RangeError(
      `${where}: graph has ${found.length - j} weighted layers more than the model (${found.length} vs ${j})`,
    );
  }
  return finish("structure");
}

/**
 * Whether an Inception-v3 export applies `transform_input`, read from its graph: torchvision's
 * `_transform_input` leaves a per-channel affine map (Mul by std_c/0.5, Add (mean_c − 0.5)/0.5, as three
 * Gather/Unsqueeze/Mul/Add chains or one [1,3,1,1] Mul/Add pair) between the input and the first Conv; an
 * export with `transform_input=False` feeds the input to that Conv directly. Null when the graph shows
 * neither (other preprocessing, several inputs): the caller must not guess.
 */
export function exportedTransformInput(model: OnnxModel): boolean | null {
  // some exporters list the initializers among the graph inputs too
  const data = model.inputs.filter((x) => !model.initializers.has(x));
  const input = data[0];
  if (input === undefined || data.length !== 1) return null;
  // every node between the input and the first convolution(s)
  const reached = new Set([input]), path: typeof model.nodes = [];
  let convs = 0;
  for (const n of model.nodes) {
    if (!n.inputs.some((x) => reached.has(x))) continue;
    if (n.opType === "Conv") {
      convs++;
      continue;
    }
    path.push(n);
    for (const o of n.outputs) reached.add(o);
  }
  if (convs === 0) return null;
  if (path.length === 0) return false;
  const allowed = new Set(["Gather", "Slice", "Split", "Unsqueeze", "Squeeze", "Mul", "Add", "Concat"]);
  if (path.some((n) => !allowed.has(n.opType))) return null;
  const constants = (op: string) =>
    path.filter((n) => n.opType === op).flatMap((n) =>
      n.inputs.flatMap((x) => {
        const t = model.initializers.get(x);
        return t && t.data instanceof Float32Array ? [...t.data] : [];
      })
    ).sort((a, b) => a - b);
  const same = (got: number[], want: readonly number[]) => {
    const w = [...want].sort((a, b) => a - b);
    return got.length === w.length && got.every((v, i) => Math.abs(v - w[i]) < 1e-5);
  };
  return same(constants("Mul"), TRANSFORM_INPUT.scale) && same(constants("Add"), TRANSFORM_INPUT.shift)
    ? true
    : null;
}

/**
 * Throws unless an Inception-v3 export's `transform_input` (read by {@linkcode exportedTransformInput})
 * equals `expected`, the model's own: the same weights with the other setting give other logits (0.6
 * relative on ImageNet photos), and nothing else would show it.
 */
export function checkTransformInput(model: OnnxModel, expected: boolean, where = model.source): void {
  const got = exportedTransformInput(model);
  const py = (b: boolean) => (b ? "True" : "False");
  if (got === null) {
    throw new RangeError(
      `${where}: cannot tell whether it was exported with transform_input=True or False (its input passes through ops other than torchvision's per-channel affine map before the first Conv); export it from torchvision's inception_v3 with transform_input=${
        py(expected)
      }`,
    );
  }
  if (got !== expected) {
    throw new RangeError(
      `${where} was exported with transform_input=${py(got)}, but inception_v3 here applies transform_input=${
        py(expected)
      }: its logits would differ; re-export with transform_input=${py(expected)}`,
    );
  }
}

/** {@linkcode importOnnx} on a file. */
export async function importOnnxFile(path: string, specs: readonly ParamSpec[]): Promise<OnnxImport> {
  return importOnnx(await readOnnxFile(path), specs);
}
