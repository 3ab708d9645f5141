/**
 * Serialisation of a graph (`Graph`, lib/graph/graph.ts, through {@linkcode GraphView}) to an ONNX ModelProto with onnx-proto (protobufjs static classes).
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import {
  ATTR_SCHEMA,
  type AttrKind,
  type DType,
  type GraphView,
  type Node,
  type TensorAttr,
  type TensorData,
  type Value,
} from "./types.ts";

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

/** The DType for an ONNX TensorProto.DataType code, or undefined if unsupported. */
export function dtypeFromOnnx(code: number): DType | undefined {
  for (const [k, v] of Object.entries(ONNX_DTYPE)) if (v === code) return k as DType;
  return undefined;
}

/** A ModelProto node as the serialiser writes it. */
export interface ProtoNode {
  /** node name, unique in the model */
  name: string;
  /** operator */
  opType: string;
  /** operator domain ("" for standard ONNX) */
  domain: string;
  /** input tensor names ("" for an omitted optional input) */
  input: string[];
  /** output tensor names */
  output: string[];
  /** AttributeProto objects */
  attribute: Record<string, unknown>[];
}

/**
 * A constant a rewrite pass needs: a 1-D int64 vector `dims` (a Reshape's target shape, a Gather's indices),
 * or with `float` a float32 tensor of shape `dims` holding those values.
 */
export interface ProtoConst {
  /** initializer name */
  name: string;
  /** the int64 values, or with `float` the shape */
  dims: number[];
  /** float32 values of shape `dims` */
  float?: Float32Array;
}

/** What a rewrite pass sees besides the node. */
export interface PassContext {
  /** the graph being written (origins and constants of the node's inputs) */
  graph: GraphView;
  /** the node's attributes as serialised */
  attribute: Record<string, unknown>[];
  /** a name unused in the model, from `base` */
  fresh: (base: string) => string;
  /** per-model memo of the passes (one ReorderInput per tensor, say), by a key of their own */
  reordered: Map<string, string>;
  /** constants to add as initializers */
  shapes: ProtoConst[];
  /** whether the model's batch axis is symbolic (a pass that writes the batch size must then keep out) */
  dynamicBatch: boolean;
}

/**
 * One rewrite of the serialiser for an execution provider (onnxruntime's graph transformers, registered per
 * provider, are the model): the nodes that replace `node`, or undefined to leave it to the next pass. The
 * backend supplies the list (lib/graph/nchwc.ts `cpuPasses`); the graph itself stays standard ONNX.
 */
export interface LoweringPass {
  /** for messages */
  name: string;
  /** the replacement of `node`, or undefined */
  rewrite(node: Node, ctx: PassContext): ProtoNode[] | undefined;
}

const ATTR_TYPE: Record<AttrKind, number> = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 };
const REDUCE_AXES_INPUT_FROM_18 = new Set(["ReduceMean", "ReduceSumSquare", "ReduceMax"]);

/**
 * Drops, in place, the nodes no output depends on and the initializers only they read. A rewrite pass
 * leaves some behind (a dX conv's flipped weight when it reorders the original kernel instead), and
 * onnxruntime runs every node it is given, used or not.
 */
function pruneDead(
  nodes: ProtoNode[],
  outputs: readonly string[],
  initializer: { name: string }[],
  shapes: ProtoConst[],
): void {
  const live = new Set(outputs), read = new Set<string>();
  for (const n of nodes) for (const i of n.input) read.add(i);
  const kept: ProtoNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!nodes[i].output.some((o) => live.has(o))) continue;
    kept.push(nodes[i]);
    for (const x of nodes[i].input) live.add(x);
  }
  if (kept.length === nodes.length) return;
  nodes.splice(0, nodes.length, ...kept.reverse());
  const orphan = (name: string) => read.has(name) && !live.has(name);
  for (const list of [initializer, shapes] as { name: string }[][]) {
    for (let i = list.length - 1; i >= 0; i--) if (orphan(list[i].name)) list.splice(i, 1);
  }
}

/** Lowest and highest opset this serialiser writes. */
export const OPSET_RANGE: readonly [number, number] = [17, 21];

function bytesOf(data: TensorData): Uint8Array {
  // ONNX raw_data is little-endian, as are typed arrays on every platform onnxruntime-node ships for.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function valueInfo(v: Value, symbolicBatch: boolean) {
  const dim = v.shape.map((d, i) => (symbolicBatch && i === 0 ? { dimParam: "N" } : { dimValue: d }));
  return { name: v.name, type: { tensorType: { elemType: ONNX_DTYPE[v.dtype], shape: { dim } } } };
}

function tensorAttr(t: TensorAttr) {
  const data = t.dtype === "float64"
    ? Float64Array.from(t.data)
    : t.dtype === "int64"
    ? BigInt64Array.from(t.data.map(BigInt))
    : t.dtype === "int32"
    ? Int32Array.from(t.data)
    : t.dtype === "bool"
    ? Uint8Array.from(t.data)
    : Float32Array.from(t.data);
  return { dataType: ONNX_DTYPE[t.dtype], dims: [t.data.length], rawData: bytesOf(data) };
}

function attribute(op: string, node: string, name: string, kind: AttrKind, v: unknown) {
  const a: Record<string, unknown> = { name, type: ATTR_TYPE[kind] };
  switch (kind) {
    case "int":
      a.i = name === "to" ? ONNX_DTYPE[v as DType] : v;
      break;
    case "ints":
      a.ints = v;
      break;
    case "float":
      a.f = v;
      break;
    case "floats":
      a.floats = v;
      break;
    case "string":
      a.s = new TextEncoder().encode(String(v));
      break;
    case "tensor":
      a.t = tensorAttr(v as TensorAttr);
      break;
  }
  if ((kind === "int" || kind === "float") && typeof a.i !== "number" && typeof a.f !== "number") {
    throw new TypeError(`${op} node '${node}': attribute '${name}' must be a number`);
  }
  return a;
}

/** Options of {@linkcode serializeGraph}. */
export interface SerializeOptions {
  /**
   * Names of graph inputs and outputs whose first axis is written as the symbolic dimension "N" instead
   * of the size the graph was built with, so that the model runs on any batch size. Sound only for graphs
   * that bake no batch size into a constant (a Reshape to the built batch, say): a model's forward pass in
   * evaluation mode is such a graph.
   */
  dynamicBatch?: readonly string[];
  /**
   * Rewrite passes for the execution provider, tried in order on every node (the first that returns nodes
   * replaces it): the backend's (lib/train/backend.ts; on the CPU the blocked-channel lowering of
   * lib/graph/nchwc.ts, whose bytes run only on onnxruntime's CPU provider). Nodes no output needs are
   * dropped either way. Absent or empty: plain ONNX.
   */
  passes?: readonly LoweringPass[];
}

/**
 * Encodes `g` as ModelProto bytes (IR 8). Opsets 18+ move Reduce* axes from attribute to input.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { serializeGraph } from "./serialize.ts";
 * const g = new Graph("relu");
 * g.output(g.op.Relu(g.input("x", "float32", [1, 4])), "y");
 * const bytes = serializeGraph(g, 17, { dynamicBatch: ["x", "y"] }); // runs on any N×4 input
 * if (bytes.length === 0) throw new Error("unexpected");
 * ```
 */
export function serializeGraph(g: GraphView, opset: number, opts: SerializeOptions = {}): Uint8Array {
  if (!Number.isInteger(opset) || opset < OPSET_RANGE[0] || opset > OPSET_RANGE[1]) {
    throw new RangeError(
      `Opset must be an integer from ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]}, got ${opset}`,
    );
  }
  if (g.outputs.length === 0) throw new TypeError(`Graph '${g.name}' has no outputs`);
  const batched = new Set(opts.dynamicBatch);
  for (const name of batched) {
    const v = [...g.inputs, ...g.outputs].find((v) => v.name === name);
    if (!v || v.shape.length === 0) {
      throw new TypeError(`Graph '${g.name}' has no input or output '${name}' with a batch axis`);
    }
  }
  const info = (v: Value) => valueInfo(v, batched.has(v.name));
  const initializer = g.initializers.map((v) => ({
    name: v.name,
    dataType: ONNX_DTYPE[v.dtype],
    dims: [...v.shape],
    rawData: bytesOf(g.constantData(v)!),
  }));
  const extraInit: typeof initializer = [];
  let axesCounter = 0;
  const passes = opts.passes ?? [];
  const taken = new Set<string>();
  if (passes.length) {
    for (const n of g.nodes) {
      for (const v of [...n.inputs, ...n.outputs]) if (v) taken.add(v.name);
    }
  }
  let freshCounter = 0;
  const fresh = (base: string) => {
    let name = base;
    while (taken.has(name)) name = `${base}_${freshCounter++}`;
    taken.add(name);
    return name;
  };
  const reordered = new Map<string, string>();
  const shapes: ProtoConst[] = [];
  const nodes = g.nodes.flatMap((n): ProtoNode[] | ProtoNode => {
    const schema = (ATTR_SCHEMA as Record<string, Record<string, AttrKind>>)[n.op] ?? {};
    const attrs = Object.entries(n.attrs as Record<string, unknown>).filter(([, v]) => v !== undefined);
    const input = n.inputs.map((v) => v?.name ?? "");
    while (input.length && input[input.length - 1] === "") input.pop();
    let attribute_ = attrs.map(([k, v]) => attribute(n.op, n.name, k, schema[k], v));
    if (opset >= 18 && REDUCE_AXES_INPUT_FROM_18.has(n.op)) {
      const axes = (n.attrs as { axes?: number[] }).axes;
      attribute_ = attribute_.filter((a) => a.name !== "axes");
      if (axes) {
        const name = `${n.name}__axes${axesCounter++}`;
        extraInit.push({
          name,
          dataType: ONNX_DTYPE.int64,
          dims: [axes.length],
          rawData: bytesOf(BigInt64Array.from(axes.map(BigInt))),
        });
        input.push(name);
      }
    }
    const output = n.outputs.map((v) => v?.name ?? "");
    while (output.length && output[output.length - 1] === "") output.pop();
    const ctx = { graph: g, attribute: attribute_, fresh, reordered, shapes, dynamicBatch: batched.size > 0 };
    for (const pass of passes) {
      const out = pass.rewrite(n, ctx);
      if (out) return out;
    }
    return { name: n.name, opType: n.op, domain: "", input, output, attribute: attribute_ };
  });
  pruneDead(nodes, g.outputs.map((v) => v.name), initializer, shapes);
  for (const s of shapes) {
    if (s.float) {
      extraInit.push({ name: s.name, dataType: ONNX_DTYPE.float32, dims: s.dims, rawData: bytesOf(s.float) });
      continue;
    }
    extraInit.push({
      name: s.name,
      dataType: ONNX_DTYPE.int64,
      dims: [s.dims.length],
      rawData: bytesOf(BigInt64Array.from(s.dims.map(BigInt))),
    });
  }
  const domains = [...new Set(nodes.map((n) => n.domain).filter((d) => d !== ""))];
  const model = {
    irVersion: 8,
    producerName: "transfusion",
    opsetImport: [
      { domain: "", version: opset },
      // the contrib domains a pass wrote (com.microsoft.nchwc): version 1, onnxruntime's only one
      ...domains.map((domain) => ({ domain, version: 1 })),
    ],
    graph: {
      name: g.name,
      node: nodes,
      initializer: [...initializer, ...extraInit],
      input: g.inputs.map(info),
      output: g.outputs.map(info),
    },
  };
  return onnx.ModelProto.encode(model as unknown as Parameters<typeof onnx.ModelProto.encode>[0]).finish();
}
