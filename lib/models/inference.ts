/**
 * A standalone ONNX inference model of a registered network (evaluation mode: BN with running statistics,
 * dropout off) — what `export` writes and what `predict` and the forward-numerics tests run. Parameters
 * are either embedded as initializers (a self-contained file onnxruntime in any language can run) or
 * left as graph inputs named by their state_dict keys (fed per run). Independent of the training engine's
 * graph builder on purpose: it is the reference the training graph's evaluation is checked against.
 * @module
 */
import { windowOut } from "../graph/ops.ts";
import onnxProto from "npm:onnx-proto@8.0.1";
import type { Conv2dOptions, Init, Net, ParamSpec, PoolOptions } from "./nn.ts";
import { getModel, type ModelSpec, paramSpecs, type SpecOptions } from "./registry.ts";
import type { StateDict } from "../weights/state_dict.ts";

const { onnx } = onnxProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IAttr = onnxProto.onnx.IAttributeProto;

/** A value in an {@linkcode InferenceNet}: its tensor name and static shape. */
export interface OnnxValue {
  /** Tensor or node name. */
  readonly name: string;
  /** Shape (empty for a scalar). */
  readonly shape: readonly number[];
}

function pair(v: number | [number, number] | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === "number" ? [v, v] : v;
}

function ints(name: string, v: number[]): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
}
function int(name: string, v: number): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
}
function float(name: string, v: number): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };
}

function floatTensor(name: string, dims: number[], data: Float32Array): ITensor {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: littleEndianCopy(bytes) };
}

function littleEndianCopy(bytes: Uint8Array): Uint8Array {
  // every platform Deno ships on is little-endian, as ONNX raw_data is; copy so the proto owns its bytes
  return bytes.slice();
}

function outShape(size: number, k: number, s: number, p: number, ceil = false): number {
  return windowOut(size, k, s, p, p, 1, ceil);
}

/** Emits evaluation-mode ONNX nodes for the layer API. Parameters become graph inputs or initializers. */
export class InferenceNet implements Net<OnnxValue> {
  /** Nodes in graph order. */
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  /** Constants (transform_input's scale and shift). */
  readonly constants: onnxProto.onnx.ITensorProto[] = [];
  /** Parameters in call order (state_dict order). */
  readonly params: ParamSpec[] = [];
  /** Tapped activations, by tap name. */
  readonly taps: Map<string, OnnxValue> = new Map();
  #n = 0;

  #fresh(prefix: string): string {
    return `${prefix}_${this.#n++}`;
  }

  #node(op: string, inputs: string[], attrs: IAttr[] = [], prefix = op.toLowerCase()): string {
    const out = this.#fresh(prefix);
    this.nodes.push({ opType: op, input: inputs, output: [out], attribute: attrs, name: out });
    return out;
  }

  #param(
    name: string,
    shape: number[],
    init: Init,
    trainable = true,
    dtype: "float32" | "int64" = "float32",
  ) {
    this.params.push({ name, shape, init, trainable, dtype });
    return name;
  }

  /** Conv2d, torch semantics. */
  conv2d(name: string, x: OnnxValue, o: Conv2dOptions): OnnxValue {
    const [n, c, h, w] = x.shape;
    const [kh, kw] = pair(o.kernel, 1), [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0);
    const fanIn = c * kh * kw;
    const inputs = [
      x.name,
      this.#param(`${name}.weight`, [o.out, c, kh, kw], o.init ?? { kind: "kaimingUniformA5", fanIn }),
    ];
    if (o.bias) {
      inputs.push(this.#param(`${name}.bias`, [o.out], o.biasInit ?? { kind: "uniformFanIn", fanIn }));
    }
    const y = this.#node("Conv", inputs, [
      ints("kernel_shape", [kh, kw]),
      ints("strides", [sh, sw]),
      ints("pads", [ph, pw, ph, pw]),
    ]);
    return { name: y, shape: [n, o.out, outShape(h, kh, sh, ph), outShape(w, kw, sw, pw)] };
  }

  batchNorm2d(name: string, x: OnnxValue, o: { eps?: number } = {}): OnnxValue {
    const c = x.shape[1];
    const inputs = [
      x.name,
      this.#param(`${name}.weight`, [c], { kind: "const", value: 1 }),
      this.#param(`${name}.bias`, [c], { kind: "const", value: 0 }),
      this.#param(`${name}.running_mean`, [c], { kind: "const", value: 0 }, false),
      this.#param(`${name}.running_var`, [c], { kind: "const", value: 1 }, false),
    ];
    this.#param(`${name}.num_batches_tracked`, [], { kind: "const", value: 0 }, false, "int64");
    return {
      name: this.#node("BatchNormalization", inputs, [float("epsilon", o.eps ?? 1e-5)]),
      shape: x.shape,
    };
  }

  /** ReLU. */
  relu(x: OnnxValue): OnnxValue {
    return { name: this.#node("Relu", [x.name]), shape: x.shape };
  }

  #pool(op: string, x: OnnxValue, o: PoolOptions): OnnxValue {
    const [n, c, h, w] = x.shape;
    const [kh, kw] = pair(o.kernel, 1),
      [sh, sw] = pair(o.stride ?? o.kernel, 1),
      [ph, pw] = pair(o.padding, 0);
    const attrs = [
      ints("kernel_shape", [kh, kw]),
      ints("strides", [sh, sw]),
      ints("pads", [ph, pw, ph, pw]),
      int("ceil_mode", o.ceilMode ? 1 : 0),
    ];
    if (op === "AveragePool") attrs.push(int("count_include_pad", (o.countIncludePad ?? true) ? 1 : 0));
    const shape = [n, c, outShape(h, kh, sh, ph, o.ceilMode), outShape(w, kw, sw, pw, o.ceilMode)];
    return { name: this.#node(op, [x.name], attrs), shape };
  }

  /** MaxPool2d. */
  maxPool2d(x: OnnxValue, o: PoolOptions): OnnxValue {
    return this.#pool("MaxPool", x, o);
  }

  /** AvgPool2d. */
  avgPool2d(x: OnnxValue, o: PoolOptions): OnnxValue {
    return this.#pool("AveragePool", x, o);
  }

  globalAvgPool(x: OnnxValue): OnnxValue {
    const g = this.#node("GlobalAveragePool", [x.name]);
    return { name: this.#node("Flatten", [g], [int("axis", 1)]), shape: [x.shape[0], x.shape[1]] };
  }

  /** Concatenation along an axis. */
  concat(xs: OnnxValue[], axis: number): OnnxValue {
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
    return { name: this.#node("Concat", xs.map((x) => x.name), [int("axis", axis)]), shape };
  }

  /** Elementwise sum. */
  add(a: OnnxValue, b: OnnxValue): OnnxValue {
    return { name: this.#node("Add", [a.name, b.name]), shape: a.shape };
  }

  linear(
    name: string,
    x: OnnxValue,
    o: { out: number; bias?: boolean; init?: Init; biasInit?: Init },
  ): OnnxValue {
    const fanIn = x.shape[1];
    const inputs = [
      x.name,
      this.#param(`${name}.weight`, [o.out, fanIn], o.init ?? { kind: "kaimingUniformA5", fanIn }),
    ];
    if (o.bias !== false) {
      inputs.push(this.#param(`${name}.bias`, [o.out], o.biasInit ?? { kind: "uniformFanIn", fanIn }));
    }
    return { name: this.#node("Gemm", inputs, [int("transB", 1)]), shape: [x.shape[0], o.out] };
  }

  dropout(x: OnnxValue): OnnxValue {
    return x;
  }

  channelAffine(x: OnnxValue, scale: number[], shift: number[]): OnnxValue {
    const c = scale.length;
    const s = this.#fresh("affine_scale"), t = this.#fresh("affine_shift");
    this.constants.push(floatTensor(s, [1, c, 1, 1], Float32Array.from(scale)));
    this.constants.push(floatTensor(t, [1, c, 1, 1], Float32Array.from(shift)));
    return { name: this.#node("Add", [this.#node("Mul", [x.name, s]), t]), shape: x.shape };
  }

  tap(name: string, x: OnnxValue): OnnxValue {
    this.taps.set(name, x);
    return x;
  }
}

/** Options of {@linkcode inferenceModel}. */
export interface InferenceOptions extends SpecOptions {
  /** Embed these weights as initializers; without, every float tensor is a graph input named by its key. */
  state?: StateDict;
  /** Also output each tapped activation as "tap:<name>". */
  taps?: boolean;
  /** Also output Inception's aux logits as "aux" (torchvision computes them in training mode only). */
  auxOutput?: boolean;
  /** Declare the batch axis as the symbolic "N" (default true) instead of `batch`. */
  dynamicBatch?: boolean;
}

/**
 * Builds the evaluation-mode ONNX model (opset 17) of a registered network: input "input"
 * (N×3×H×W float32, already normalised), output "logits" (N×classes). The state_dict's int64
 * `num_batches_tracked` entries are not used in evaluation and are left out of the graph.
 *
 * @example
 * ```ts
 * import { inferenceModel } from "./inference.ts";
 * const bytes = inferenceModel("cbr-small", { inputSize: 32 });
 * if (bytes.length < 100) throw new Error("unexpected");
 * ```
 */
export function inferenceModel(model: string, opts: InferenceOptions = {}): Uint8Array {
  const spec: ModelSpec = paramSpecs(model, opts);
  const def = getModel(model);
  const net = new InferenceNet();
  const x: OnnxValue = { name: "input", shape: spec.inputShape };
  const out = def.build(net, x, {
    classes: spec.classes,
    aux: spec.aux,
    transformInput: spec.transformInput,
  });
  const batch = (opts.dynamicBatch ?? true) ? { dimParam: "N" } : { dimValue: spec.inputShape[0] };
  const info = (name: string, shape: readonly number[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [batch, ...shape.slice(1).map((d) => ({ dimValue: d }))] },
      },
    },
  });
  const floats = net.params.filter((p) => p.dtype === "float32");
  const outputs = [info("logits", out.logits.shape)];
  const alias = (from: string, to: string) => {
    // renaming the producer's output instead of an Identity keeps the graph copy-free
    for (const n of net.nodes) n.output = n.output!.map((o) => (o === from ? to : o));
    for (const n of net.nodes) n.input = n.input!.map((i) => (i === from ? to : i));
  };
  alias(out.logits.name, "logits");
  if (opts.auxOutput) {
    if (!out.aux) throw new RangeError(`Model ${model} has no aux head to output`);
    alias(out.aux.name, "aux");
    outputs.push(info("aux", out.aux.shape));
  }
  if (opts.taps) {
    for (const [name, v] of net.taps) {
      alias(v.name, `tap:${name}`);
      outputs.push(info(`tap:${name}`, v.shape));
    }
  }
  const initializer: ITensor[] = [...net.constants];
  const inputs = [info("input", spec.inputShape)];
  for (const p of floats) {
    if (opts.state) {
      const t = opts.state.get(p.name);
      if (!t) throw new RangeError(`State dict lacks ${p.name}, which ${model} needs`);
      if (!(t.data instanceof Float32Array) || t.shape.join() !== p.shape.join()) {
        throw new RangeError(`State dict tensor ${p.name} must be float32 [${p.shape}], got [${t.shape}]`);
      }
      initializer.push(floatTensor(p.name, p.shape, t.data));
    } else {
      inputs.push({
        name: p.name,
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.FLOAT,
            shape: { dim: p.shape.map((d) => ({ dimValue: d })) },
          },
        },
      });
    }
  }
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "transfusion",
    graph: {
      name: model,
      node: net.nodes,
      input: inputs,
      output: outputs,
      initializer,
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
