/**
 * The graph container: inputs, initializers, nodes in topological order (every builder call appends one),
 * outputs, and naming. Builders live on {@linkcode Graph.op}.
 * @module
 */
import {
  ATTR_SCHEMA,
  type DType,
  dtypeSize,
  fmtShape,
  type GraphView,
  type Node,
  type NodeSink,
  numel,
  type OpAttrs,
  type OpKind,
  type Origin,
  type TensorData,
  type Value,
} from "./types.ts";
import { Ops } from "./ops.ts";
import { type LoweringPass, serializeGraph } from "./serialize.ts";

/** The concrete value class; its name may change once, when {@linkcode Graph.output} renames a producer's output. */
class GraphValue implements Value {
  name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  constructor(name: string, dtype: DType, shape: readonly number[]) {
    this.name = name;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
  }
}

function checkShape(what: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${what} has an invalid shape ${fmtShape(shape)}`);
    }
  }
}

function dataMatches(dtype: DType, data: TensorData): boolean {
  switch (dtype) {
    case "float32":
      return data instanceof Float32Array;
    case "float64":
      return data instanceof Float64Array;
    case "int64":
      return data instanceof BigInt64Array;
    case "int32":
      return data instanceof Int32Array;
    case "bool":
      return data instanceof Uint8Array;
  }
}

function dtypeOfData(v: unknown): DType {
  if (v instanceof Float64Array) return "float64";
  if (v instanceof BigInt64Array) return "int64";
  if (v instanceof Int32Array) return "int32";
  if (v instanceof Uint8Array) return "bool";
  return "float32";
}

/** Makes a typed array of `dtype` from plain numbers. */
export function typedFrom(dtype: DType, values: ArrayLike<number>): TensorData {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    case "int32":
      return Int32Array.from(values);
    case "bool":
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
  }
}

/**
 * A static-shape ONNX graph under construction. Values are created by {@linkcode Graph.input},
 * {@linkcode Graph.initializer}, {@linkcode Graph.constant} and the operator builders on {@linkcode Graph.op},
 * which infer every output's dtype and shape and reject bad inputs with a message naming the node.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * const g = new Graph("demo");
 * const x = g.input("x", "float32", [2, 3, 8, 8]);
 * const w = g.input("w", "float32", [4, 3, 3, 3]);
 * const y = g.op.Relu(g.op.Conv(x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1] }));
 * g.output(y, "y");
 * if (y.shape.join() !== "2,4,4,4") throw new Error("bad shape");
 * const bytes = g.toBytes();
 * ```
 */
export class Graph implements GraphView, NodeSink {
  /** The graph's name in the ModelProto. */
  readonly name: string;
  /** Operator builders; see {@linkcode Ops}. */
  readonly op: Ops;
  readonly #nodes: Node[] = [];
  readonly #inputs: Value[] = [];
  readonly #initializers: Value[] = [];
  readonly #outputs: Value[] = [];
  readonly #origin = new Map<Value, Origin>();
  readonly #names = new Set<string>();
  readonly #nodeNames = new Set<string>();
  readonly #constCache = new Map<string, Value>();
  #scope = "";
  #counter = 0;

  /** An empty graph called `name`. */
  constructor(name = "graph") {
    this.name = name;
    this.op = new Ops(this);
  }

  /** Nodes in topological (creation) order. */
  get nodes(): readonly Node[] {
    return this.#nodes;
  }
  /** Graph inputs in declaration order. */
  get inputs(): readonly Value[] {
    return this.#inputs;
  }
  /** Initializers (including constants) in creation order. */
  get initializers(): readonly Value[] {
    return this.#initializers;
  }
  /** Graph outputs in declaration order. */
  get outputs(): readonly Value[] {
    return this.#outputs;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DType, shape: readonly number[]): Value {
    checkShape(`Input '${name}'`, shape);
    const v = this.#newValue(name, dtype, shape, true);
    this.#origin.set(v, { kind: "input" });
    this.#inputs.push(v);
    return v;
  }

  /** Declares an initializer (a tensor stored in the model). `data` must match dtype and shape. */
  initializer(name: string, dtype: DType, shape: readonly number[], data: TensorData): Value {
    checkShape(`Initializer '${name}'`, shape);
    if (!dataMatches(dtype, data)) {
      throw new TypeError(`Initializer '${name}': data is a ${data.constructor.name}, not ${dtype}`);
    }
    if (data.length !== numel(shape)) {
      throw new RangeError(
        `Initializer '${name}': data has ${data.length} elements but shape ${fmtShape(shape)} needs ${
          numel(shape)
        }`,
      );
    }
    const v = this.#newValue(name, dtype, shape, true);
    this.#origin.set(v, { kind: "initializer", data });
    this.#initializers.push(v);
    return v;
  }

  /**
   * A constant tensor (axes, shapes, scalars, small kernels). A plain number gives a scalar; an array
   * without a shape a 1-D tensor. The dtype defaults to the typed array's (float32 for plain numbers).
   * Small constants with equal contents are shared.
   */
  constant(values: number | ArrayLike<number> | TensorData, dtArg?: DType, shape?: readonly number[]): Value {
    const dtype: DType = dtArg ?? dtypeOfData(values);
    const arr: ArrayLike<number> | TensorData = typeof values === "number" ? [values] : values;
    const shp = shape ?? (typeof values === "number" ? [] : [arr.length]);
    const data = dataMatches(dtype, arr as TensorData)
      ? arr as TensorData
      : typedFrom(dtype, arr instanceof BigInt64Array ? Array.from(arr, Number) : arr as ArrayLike<number>);
    let key: string | undefined;
    if (data.length <= 64) {
      key = `${dtype}|${shp.join(",")}|${Array.from(data as ArrayLike<number | bigint>, String).join(",")}`;
      const hit = this.#constCache.get(key);
      if (hit) return hit;
    }
    const v = this.initializer(this.#unique(`${this.#scope}const`), dtype, shp, data);
    if (key) this.#constCache.set(key, v);
    return v;
  }

  /** The data of an initializer or constant, or undefined for other values. */
  constantData(v: Value): TensorData | undefined {
    const o = this.#origin.get(v);
    return o?.kind === "initializer" ? o.data : undefined;
  }

  /** Where a value comes from (input, initializer, or which node output). */
  origin(v: Value): Origin {
    const o = this.#origin.get(v);
    if (!o) throw new TypeError(`Value '${v.name}' does not belong to graph '${this.name}'`);
    return o;
  }

  /** Whether `v` was created by this graph. */
  owns(v: Value): boolean {
    return this.#origin.has(v);
  }

  /**
   * Marks `v` as a graph output. With `name`, the producing node's output is renamed (no Identity node is
   * inserted); only a value that is already an input, initializer or output gets an Identity, as ONNX requires.
   */
  output(v: Value, name?: string): void {
    const o = this.origin(v);
    if (name === undefined || name === v.name) {
      if (!this.#outputs.includes(v)) {
        this.#outputs.push(v);
        return;
      }
      throw new TypeError(`Value '${v.name}' is already a graph output`);
    }
    if (o.kind === "node" && !this.#outputs.includes(v)) {
      if (this.#names.has(name)) {
        throw new TypeError(`Output name '${name}' is already used in graph '${this.name}'`);
      }
      this.#names.delete(v.name);
      this.#names.add(name);
      (v as GraphValue).name = name;
      this.#outputs.push(v);
      return;
    }
    const [copy] = this.addNode("Identity", [v], {}, () => [[v.dtype, v.shape]]);
    this.output(copy, name);
  }

  /** Runs `fn` with node and value names prefixed by `prefix/` (error messages then name the layer). */
  scope<T>(prefix: string, fn: () => T): T {
    const saved = this.#scope;
    this.#scope = `${saved}${prefix}/`;
    try {
      return fn();
    } finally {
      this.#scope = saved;
    }
  }

  /** A fresh name in the current scope. */
  freshName(base: string): string {
    return this.#unique(`${this.#scope}${base}`);
  }

  /**
   * Appends a node. `infer` receives the node's name (for messages) and returns each output's dtype and
   * shape; `null` leaves an optional output slot empty. Attributes are checked against the op's schema.
   * Low-level: prefer the builders on {@linkcode Graph.op}.
   */
  addNode<K extends OpKind>(
    op: K,
    inputs: readonly (Value | undefined)[],
    attrs: OpAttrs[K],
    infer: (nodeName: string) => ([DType, readonly number[]] | null)[],
  ): Value[] {
    const name = this.#uniqueNode(`${this.#scope}${op}`);
    const schema = (ATTR_SCHEMA as Record<string, Record<string, string>>)[op];
    if (!schema) {
      throw new TypeError(`Unsupported operator '${op}' (node '${name}')`);
    }
    for (const [k, val] of Object.entries(attrs as Record<string, unknown>)) {
      if (val === undefined) continue;
      if (schema && !(k in schema)) {
        throw new TypeError(`${op} node '${name}': unsupported attribute '${k}'`);
      }
    }
    inputs.forEach((v, i) => {
      if (v && !this.#origin.has(v)) {
        throw new TypeError(
          `${op} node '${name}': input ${i} ('${v.name}') does not belong to graph '${this.name}'`,
        );
      }
    });
    const specs = infer(name);
    const node: Node<K> = { op, name, inputs: [...inputs], outputs: [], attrs: { ...attrs } };
    specs.forEach((s, i) => {
      if (!s) {
        node.outputs.push(undefined);
        return;
      }
      const v = this.#newValue(specs.length === 1 ? name : `${name}_out${i}`, s[0], s[1], false);
      this.#origin.set(v, { kind: "node", node: node as Node, index: i });
      node.outputs.push(v);
    });
    this.#nodes.push(node as Node);
    return node.outputs as Value[];
  }

  /** Fills an empty optional output slot of an existing node (e.g. MaxPool's Indices for its gradient). */
  materializeOutput(node: Node, index: number, dtype: DType, shape: readonly number[]): Value {
    const have = node.outputs[index];
    if (have) return have;
    while (node.outputs.length <= index) node.outputs.push(undefined);
    const v = this.#newValue(`${node.name}_out${index}`, dtype, shape, false);
    this.#origin.set(v, { kind: "node", node, index });
    node.outputs[index] = v;
    return v;
  }

  /**
   * Serialises the graph as an ONNX ModelProto (IR 8, default opset 17), with a backend's rewrite passes
   * (`SerializeOptions.passes`).
   */
  toBytes(opts: { opset?: number; passes?: readonly LoweringPass[] } = {}): Uint8Array {
    return serializeGraph(this, opts.opset ?? 17, { passes: opts.passes });
  }

  /** Bytes of all initializers (model size without the graph structure). */
  initializerBytes(): number {
    let n = 0;
    for (const v of this.#initializers) n += numel(v.shape) * dtypeSize(v.dtype);
    return n;
  }

  #newValue(name: string, dtype: DType, shape: readonly number[], exact: boolean): GraphValue {
    if (exact) {
      if (!name) throw new TypeError("Value name must not be empty");
      if (this.#names.has(name)) {
        throw new TypeError(`Name '${name}' is already used in graph '${this.name}'`);
      }
    } else {
      name = this.#unique(name);
    }
    this.#names.add(name);
    return new GraphValue(name, dtype, shape);
  }

  #unique(base: string): string {
    if (!this.#names.has(base)) return base;
    for (;;) {
      const n = `${base}_${this.#counter++}`;
      if (!this.#names.has(n)) return n;
    }
  }

  #uniqueNode(base: string): string {
    let n = base;
    while (this.#nodeNames.has(n) || this.#names.has(n)) n = `${base}_${this.#counter++}`;
    this.#nodeNames.add(n);
    return n;
  }
}
