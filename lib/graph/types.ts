/**
 * The graph IR's types: element types, values, nodes, and the table of supported ONNX operators with their
 * attribute schemas (the one place that says which ops and attributes exist).
 * @module
 */

/** Element types a graph value may have. */
export type DType = "float32" | "float64" | "int64" | "int32" | "bool";

/** A tensor in a graph: its unique name, element type and static shape. */
export interface Value {
  /** Unique tensor name in its graph. */
  readonly name: string;
  /** Element type. */
  readonly dtype: DType;
  /** Static shape. */
  readonly shape: readonly number[];
}

/** Attribute kinds as ONNX serialises them. */
export type AttrKind = "int" | "ints" | "float" | "floats" | "string" | "tensor";

/** A small tensor attribute (ConstantOfShape's `value`). */
export interface TensorAttr {
  /** Element type. */
  dtype: DType;
  /** Values (a 1-D tensor). */
  data: number[];
}

/** Attributes shared by MaxPool and AveragePool. */
export type PoolAttrs = {
  kernel_shape: number[];
  strides?: number[];
  pads?: number[];
  ceil_mode?: number;
  auto_pad?: "NOTSET";
};

/** Attributes per supported operator, named exactly as in the ONNX operator spec (opset 17). */
export interface OpAttrs {
  /** Attributes of ONNX Conv. */
  Conv: {
    kernel_shape?: number[];
    strides?: number[];
    pads?: number[];
    dilations?: number[];
    group?: number;
    auto_pad?: "NOTSET";
  };
  /** Attributes of ONNX ConvTranspose. */
  ConvTranspose: {
    kernel_shape?: number[];
    strides?: number[];
    pads?: number[];
    dilations?: number[];
    group?: number;
    output_padding?: number[];
    auto_pad?: "NOTSET";
  };
  /** Attributes of ONNX BatchNormalization. */
  BatchNormalization: { epsilon?: number; momentum?: number; training_mode?: 0 };
  /** Attributes of ONNX Relu. */
  Relu: Record<never, never>;
  /** Attributes of ONNX MaxPool. */
  MaxPool: PoolAttrs & { dilations?: number[]; storage_order?: 0 };
  /** Attributes of ONNX AveragePool. */
  AveragePool: PoolAttrs & { count_include_pad?: number };
  /** Attributes of ONNX GlobalAveragePool. */
  GlobalAveragePool: Record<never, never>;
  /** Attributes of ONNX Concat. */
  Concat: { axis: number };
  /** Attributes of ONNX Split. */
  Split: { axis?: number };
  /** Attributes of ONNX Slice. */
  Slice: Record<never, never>;
  /** Attributes of ONNX Add. */
  Add: Record<never, never>;
  /** Attributes of ONNX Sub. */
  Sub: Record<never, never>;
  /** Attributes of ONNX Mul. */
  Mul: Record<never, never>;
  /** Attributes of ONNX Div. */
  Div: Record<never, never>;
  /** Attributes of ONNX Neg. */
  Neg: Record<never, never>;
  /** Attributes of ONNX Sqrt. */
  Sqrt: Record<never, never>;
  /** Attributes of ONNX Reciprocal. */
  Reciprocal: Record<never, never>;
  /** Attributes of ONNX Exp. */
  Exp: Record<never, never>;
  /** Attributes of ONNX Log. */
  Log: Record<never, never>;
  /** Attributes of ONNX Sum. */
  Sum: Record<never, never>;
  /** ONNX Identity: only where ONNX needs a distinct output value (a graph input or initializer re-exported). */
  Identity: Record<never, never>;
  /** Attributes of ONNX Flatten. */
  Flatten: { axis?: number };
  /** Attributes of ONNX Reshape. */
  Reshape: { allowzero?: number };
  /** Attributes of ONNX Transpose. */
  Transpose: { perm?: number[] };
  /** Attributes of ONNX Expand. */
  Expand: Record<never, never>;
  /** Attributes of ONNX Gemm. */
  Gemm: { alpha?: number; beta?: number; transA?: number; transB?: number };
  /** Attributes of ONNX MatMul. */
  MatMul: Record<never, never>;
  /** Attributes of ONNX Softmax. */
  Softmax: { axis?: number };
  /** Attributes of ONNX LogSoftmax. */
  LogSoftmax: { axis?: number };
  /** Attributes of ONNX SoftmaxCrossEntropyLoss. */
  SoftmaxCrossEntropyLoss: { reduction?: "mean" | "sum" | "none" };
  /** Attributes of ONNX ReduceMean. */
  ReduceMean: { axes?: number[]; keepdims?: number };
  /** Attributes of ONNX ReduceSumSquare. */
  ReduceSumSquare: { axes?: number[]; keepdims?: number };
  /** Attributes of ONNX ReduceMax. */
  ReduceMax: { axes?: number[]; keepdims?: number };
  /** Attributes of ONNX ReduceSum. */
  ReduceSum: { keepdims?: number };
  /** Attributes of ONNX ScatterElements. */
  ScatterElements: { axis?: number; reduction?: "none" | "add" };
  /** Attributes of ONNX ConstantOfShape. */
  ConstantOfShape: { value?: TensorAttr };
  /** Attributes of ONNX Greater. */
  Greater: Record<never, never>;
  /** Attributes of ONNX Equal. */
  Equal: Record<never, never>;
  /** Attributes of ONNX Where. */
  Where: Record<never, never>;
  /** Attributes of ONNX Cast. */
  Cast: { to: DType };
}

/** Every operator the builder supports; the autodiff registry must have a rule for each. */
export type OpKind = keyof OpAttrs;

/** The serialised kind of every attribute each operator accepts; anything else is rejected by name. */
export const ATTR_SCHEMA: { readonly [K in OpKind]: { readonly [A in keyof OpAttrs[K]]-?: AttrKind } } = {
  Conv: {
    kernel_shape: "ints",
    strides: "ints",
    pads: "ints",
    dilations: "ints",
    group: "int",
    auto_pad: "string",
  },
  ConvTranspose: {
    kernel_shape: "ints",
    strides: "ints",
    pads: "ints",
    dilations: "ints",
    group: "int",
    output_padding: "ints",
    auto_pad: "string",
  },
  BatchNormalization: { epsilon: "float", momentum: "float", training_mode: "int" },
  Relu: {},
  MaxPool: {
    kernel_shape: "ints",
    strides: "ints",
    pads: "ints",
    ceil_mode: "int",
    auto_pad: "string",
    dilations: "ints",
    storage_order: "int",
  },
  AveragePool: {
    kernel_shape: "ints",
    strides: "ints",
    pads: "ints",
    ceil_mode: "int",
    auto_pad: "string",
    count_include_pad: "int",
  },
  GlobalAveragePool: {},
  Concat: { axis: "int" },
  Split: { axis: "int" },
  Slice: {},
  Add: {},
  Sub: {},
  Mul: {},
  Div: {},
  Neg: {},
  Sqrt: {},
  Reciprocal: {},
  Exp: {},
  Log: {},
  Sum: {},
  Identity: {},
  Flatten: { axis: "int" },
  Reshape: { allowzero: "int" },
  Transpose: { perm: "ints" },
  Expand: {},
  Gemm: { alpha: "float", beta: "float", transA: "int", transB: "int" },
  MatMul: {},
  Softmax: { axis: "int" },
  LogSoftmax: { axis: "int" },
  SoftmaxCrossEntropyLoss: { reduction: "string" },
  ReduceMean: { axes: "ints", keepdims: "int" },
  ReduceSumSquare: { axes: "ints", keepdims: "int" },
  ReduceMax: { axes: "ints", keepdims: "int" },
  ReduceSum: { keepdims: "int" },
  ScatterElements: { axis: "int", reduction: "string" },
  ConstantOfShape: { value: "tensor" },
  Greater: {},
  Equal: {},
  Where: {},
  Cast: { to: "int" },
};

/** One operator application. Inputs and outputs are value handles; `undefined` marks an omitted optional slot. */
export interface Node<K extends OpKind = OpKind> {
  /** Operator type. */
  readonly op: K;
  /** Unique node name (scoped, e.g. `layer1.0.conv1/Conv`). */
  readonly name: string;
  /** Inputs in ONNX order. */
  readonly inputs: readonly (Value | undefined)[];
  /** Mutable only so that a rule may materialise an optional output (MaxPool Indices) later. */
  outputs: (Value | undefined)[];
  /** ONNX attributes. */
  readonly attrs: OpAttrs[K];
  /** Compiler notes that are not ONNX attributes (e.g. a BatchNormalization fed by its own batch statistics). */
  meta?: NodeMeta;
}

/** Extra facts a builder records for the gradient rules. */
export interface NodeMeta {
  /**
   * Training-mode batch norm: this inference BatchNormalization reads the batch mean and biased variance of
   * its own input `x` (its inputs 3 and 4 are functions of `x`, so the backward folds their effect into dx).
   */
  batchStats?: boolean;
}

/** The typed-array kinds an initializer may hold. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** Where a value comes from. */
export type Origin =
  | { kind: "input" }
  | { kind: "initializer"; data: TensorData }
  | { kind: "node"; node: Node; index: number };

/**
 * A built graph as its readers see it (the serialiser and the rewrite passes): `Graph` (lib/graph/graph.ts)
 * implements it. Readers take this rather than the class, so that the container depends on them and not back.
 */
export interface GraphView {
  /** the graph's name (in messages and the ModelProto) */
  readonly name: string;
  /** nodes in topological order */
  readonly nodes: readonly Node[];
  /** graph inputs in order */
  readonly inputs: readonly Value[];
  /** initializers (weights and constants) in order */
  readonly initializers: readonly Value[];
  /** graph outputs in order */
  readonly outputs: readonly Value[];
  /** the data of an initializer or constant, or undefined for other values */
  constantData(v: Value): TensorData | undefined;
  /** where a value comes from (input, initializer, or which node output) */
  origin(v: Value): Origin;
}

/** What the operator builders (`Ops`, lib/graph/ops.ts) append to: `Graph` implements it. */
export interface NodeSink {
  /** appends a node; `infer` gives each output's dtype and shape (null: an empty optional slot) */
  addNode<K extends OpKind>(
    op: K,
    inputs: readonly (Value | undefined)[],
    attrs: OpAttrs[K],
    infer: (nodeName: string) => ([DType, readonly number[]] | null)[],
  ): Value[];
  /** a constant initializer of `values` (deduplicated) */
  constant(values: number | ArrayLike<number> | TensorData, dtype?: DType, shape?: readonly number[]): Value;
  /** the data of an initializer or constant, or undefined for other values */
  constantData(v: Value): TensorData | undefined;
}

/** Byte size of one element. */
export function dtypeSize(d: DType): number {
  return d === "float64" || d === "int64" ? 8 : d === "bool" ? 1 : 4;
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape as `[2, 3, 4]` for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
