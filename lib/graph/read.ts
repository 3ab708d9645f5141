/**
 * An .onnx reader: decodes a ModelProto (npm:onnx-proto) into plain initializers (float32 / int64 arrays
 * from raw_data, float_data, int64_data, double_data, or a float16 payload), the node list and the
 * graph's inputs and outputs. Constant nodes' tensors are returned with the initializers.
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { readBytes } from "../util/fs.ts";
import { errorMessage } from "../util/errors.ts";

const { onnx } = onnxProto;

/** A decoded initializer. float16/double data becomes float32; int32/int64 becomes int64. */
export interface OnnxTensor {
  /** Tensor or node name. */
  name: string;
  /** Shape. */
  dims: number[];
  /** ONNX TensorProto.DataType name ("FLOAT", "INT64", …) of the stored tensor. */
  dataType: string;
  /** Values, C order. */
  data: Float32Array | BigInt64Array;
}

/** A decoded node: attributes as plain numbers, number arrays or strings. */
export interface OnnxNode {
  /** Tensor or node name. */
  name: string;
  /** ONNX operator type. */
  opType: string;
  /** Operator domain ("" = ai.onnx). */
  domain: string;
  /** Input value names. */
  inputs: string[];
  /** Output value names. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, number | number[] | string | OnnxTensor | undefined>;
}

/** A decoded model. */
export interface OnnxModel {
  /** Where the bytes came from (the file path), for error messages. */
  source: string;
  /** ONNX IR version. */
  irVersion: number;
  /** Opset version per domain. */
  opsets: Record<string, number>;
  /** Producer name and version. */
  producer: string;
  /** Initializers and Constant-node tensors by name. */
  initializers: Map<string, OnnxTensor>;
  /** Nodes in graph order. */
  nodes: OnnxNode[];
  /** Graph inputs that are not initializers (the data inputs). */
  inputs: string[];
  /** Output value names. */
  outputs: string[];
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decodeTensor(t: onnxProto.onnx.ITensorProto, where: string): OnnxTensor {
  const DT = onnx.TensorProto.DataType;
  const dims = (t.dims ?? []).map(num);
  const n = dims.reduce((a, b) => a * b, 1);
  const dt = t.dataType ?? 0;
  const name = t.name ?? "";
  const dataType = DT[dt] ?? String(dt);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new RangeError(
      `${where}: tensor ${name} keeps its data in an external file, which is not supported`,
    );
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  let data: Float32Array | BigInt64Array;
  if (dt === DT.FLOAT) {
    data = new Float32Array(n);
    if (view) { for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, true); }
    else data.set(t.floatData ?? []);
  } else if (dt === DT.DOUBLE) {
    data = new Float32Array(n);
    if (view) { for (let i = 0; i < n; i++) data[i] = view.getFloat64(8 * i, true); }
    else data.set(t.doubleData ?? []);
  } else if (dt === DT.FLOAT16) {
    data = new Float32Array(n);
    // float16 without raw_data sits in int32_data, one value per entry
    for (let i = 0; i < n; i++) {
      data[i] = halfToFloat(view ? view.getUint16(2 * i, true) : num(t.int32Data?.[i]));
    }
  } else if (dt === DT.INT64) {
    data = new BigInt64Array(n);
    if (view) { for (let i = 0; i < n; i++) data[i] = view.getBigInt64(8 * i, true); }
    else (t.int64Data ?? []).forEach((v, i) => (data[i] = BigInt(String(v))));
  } else if (dt === DT.INT32) {
    data = new BigInt64Array(n);
    if (view) { for (let i = 0; i < n; i++) data[i] = BigInt(view.getInt32(4 * i, true)); }
    else (t.int32Data ?? []).forEach((v, i) => (data[i] = BigInt(v)));
  } else {
    throw new RangeError(`${where}: tensor ${name} has unsupported data type ${dataType}`);
  }
  if (view && view.byteLength < n * (dt === DT.FLOAT16 ? 2 : dt === DT.FLOAT || dt === DT.INT32 ? 4 : 8)) {
    throw new RangeError(`${where}: tensor ${name} has ${view.byteLength} bytes of data for shape [${dims}]`);
  }
  return { name, dims, dataType, data };
}

/**
 * Decodes ONNX model bytes. `where` names the source in errors (a file path). Anything that is not a
 * protobuf ModelProto with a graph fails with a one-line RangeError.
 *
 * @example
 * ```ts
 * import { readOnnx } from "./read.ts";
 * import { inferenceModel } from "../train/inference.ts";
 * const m = readOnnx(inferenceModel("cbr-small", { inputSize: 16 }));
 * if (!m.nodes.some((n) => n.opType === "Conv")) throw new Error("unexpected");
 * ```
 */
export function readOnnx(bytes: Uint8Array, where = "ONNX model"): OnnxModel {
  let proto: onnxProto.onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new RangeError(`${where} is not an ONNX model: ${errorMessage(e)}`);
  }
  const g = proto.graph;
  if (!g || !(g.node?.length)) throw new RangeError(`${where} is not an ONNX model: it has no graph`);
  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? "", decodeTensor(t, where));
  const A = onnx.AttributeProto.AttributeType;
  const nodes: OnnxNode[] = g.node.map((n) => {
    const attributes: OnnxNode["attributes"] = {};
    for (const a of n.attribute ?? []) {
      const key = a.name ?? "";
      if (a.type === A.INT) attributes[key] = num(a.i);
      else if (a.type === A.FLOAT) attributes[key] = a.f ?? 0;
      else if (a.type === A.INTS) attributes[key] = (a.ints ?? []).map(num);
      else if (a.type === A.FLOATS) attributes[key] = [...(a.floats ?? [])];
      else if (a.type === A.STRING) attributes[key] = new TextDecoder().decode(a.s ?? new Uint8Array());
      else if (a.type === A.TENSOR && a.t) attributes[key] = decodeTensor(a.t, where);
    }
    const node = {
      name: n.name ?? "",
      opType: n.opType ?? "",
      domain: n.domain ?? "",
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes,
    };
    const value = attributes.value;
    if (node.opType === "Constant" && value && typeof value === "object" && !Array.isArray(value)) {
      initializers.set(node.outputs[0], { ...value, name: node.outputs[0] });
    }
    return node;
  });
  const opsets: Record<string, number> = {};
  for (const o of proto.opsetImport ?? []) opsets[o.domain ?? ""] = num(o.version);
  return {
    source: where,
    irVersion: num(proto.irVersion),
    opsets,
    producer: `${proto.producerName ?? ""} ${proto.producerVersion ?? ""}`.trim(),
    initializers,
    nodes,
    inputs: (g.input ?? []).map((v) => v.name ?? "").filter((n) => !initializers.has(n)),
    outputs: (g.output ?? []).map((v) => v.name ?? ""),
  };
}

/** Reads and decodes an .onnx file; an unreadable file gets an error naming it. */
export async function readOnnxFile(path: string): Promise<OnnxModel> {
  return readOnnx(await readBytes(path), path);
}
