/**
 * Typed operator builders that read like ONNX (`g.op.Conv(x, w, b, { strides, pads })`, attribute names as in
 * the operator spec). Each builder checks its inputs and infers the output dtype and static shape; a mismatch
 * names the node, the tensor and both shapes.
 * @module
 */
import { type DType, fmtShape, type NodeSink, numel, type OpAttrs, type Value } from "./types.ts";

type Spec = [DType, readonly number[]];
const FLOATS: readonly DType[] = ["float32", "float64"];

/** numpy-style broadcast of two shapes, or undefined when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Output length of a sliding window (conv/pool) along one axis, with torch/ORT ceil-mode semantics. */
export function windowOut(
  size: number,
  kernel: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation = 1,
  ceil = false,
): number {
  const span = size + padBegin + padEnd - ((kernel - 1) * dilation + 1);
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // torch and ORT drop a last window that would start inside the end padding only.
  if (ceil && (out - 1) * stride >= size + padBegin) out--;
  return out;
}

/**
 * Calls `f(t, y, q)` for every kernel tap t and output pixel y of a 2-D window (both row-major) whose tap reads
 * an input pixel q (row-major in h × w), skipping taps that read padding: the one statement of which pixel a
 * tap of a strided, padded window reads (the one-hot matrices of the dense conv and of col2im by a product).
 */
export function forEachTap(
  [h, w]: readonly number[],
  [ho, wo]: readonly number[],
  k: readonly number[],
  s: readonly number[],
  p: readonly number[],
  f: (t: number, y: number, q: number) => void,
): void {
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      for (let oy = 0; oy < ho; oy++) {
        const r = oy * s[0] + i - p[0];
        if (r < 0 || r >= h) continue;
        for (let ox = 0; ox < wo; ox++) {
          const c = ox * s[1] + j - p[1];
          if (c >= 0 && c < w) f(i * k[1] + j, oy * wo + ox, r * w + c);
        }
      }
    }
  }
}

function normAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RangeError(`${where}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** The static integer contents of a shape-like argument. */
function intsOf(g: NodeSink, v: Value | readonly number[], where: string): number[] {
  if (Array.isArray(v)) return [...v as number[]];
  const data = g.constantData(v as Value);
  if (!data) {
    throw new TypeError(`${where}: '${(v as Value).name}' must be a constant so that shapes stay static`);
  }
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** The operator builders of one graph (`Graph.op`, lib/graph/graph.ts). */
export class Ops {
  readonly #g: NodeSink;
  /** Builders bound to `g` (use `Graph.op`). */
  constructor(g: NodeSink) {
    this.#g = g;
  }

  #i64(v: Value | readonly number[]): Value {
    return Array.isArray(v) ? this.#g.constant(v as number[], "int64") : v as Value;
  }

  #float(op: string, node: string, role: string, v: Value, dtype?: DType): void {
    if (!FLOATS.includes(v.dtype)) {
      throw new TypeError(`${op} node '${node}': ${role} '${v.name}' must be float, got ${v.dtype}`);
    }
    if (dtype && v.dtype !== dtype) {
      throw new TypeError(
        `${op} node '${node}': ${role} '${v.name}' is ${v.dtype} but ${dtype} was expected`,
      );
    }
  }

  #expectShape(op: string, node: string, role: string, v: Value, want: readonly number[]): void {
    if (v.shape.length !== want.length || v.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(
        `${op} node '${node}': ${role} '${v.name}' has shape ${fmtShape(v.shape)} but ${
          fmtShape(want)
        } was expected`,
      );
    }
  }

  #rank(op: string, node: string, role: string, v: Value, ranks: number[] | ((r: number) => boolean)): void {
    const ok = Array.isArray(ranks) ? ranks.includes(v.shape.length) : ranks(v.shape.length);
    if (!ok) {
      throw new RangeError(
        `${op} node '${node}': ${role} '${v.name}' has shape ${fmtShape(v.shape)} of unsupported rank`,
      );
    }
  }

  #spatial(op: string, node: string, x: Value, kernel: readonly number[], a: {
    strides?: number[];
    pads?: number[];
    dilations?: number[];
    ceil_mode?: number;
    auto_pad?: string;
  }): number[] {
    const nsp = x.shape.length - 2;
    if (a.auto_pad !== undefined && a.auto_pad !== "NOTSET") {
      throw new TypeError(
        `${op} node '${node}': unsupported attribute 'auto_pad' value '${a.auto_pad}' (give pads)`,
      );
    }
    const strides = a.strides ?? Array(nsp).fill(1);
    const pads = a.pads ?? Array(2 * nsp).fill(0);
    const dil = a.dilations ?? Array(nsp).fill(1);
    if (kernel.length !== nsp || strides.length !== nsp || pads.length !== 2 * nsp || dil.length !== nsp) {
      throw new RangeError(
        `${op} node '${node}': attributes kernel_shape/strides/pads/dilations do not fit input '${x.name}' ${
          fmtShape(x.shape)
        }`,
      );
    }
    if (
      [...strides, ...dil, ...kernel].some((s) => !(Number.isInteger(s) && s >= 1)) ||
      pads.some((p) => !(p >= 0))
    ) {
      throw new RangeError(
        `${op} node '${node}': kernel_shape, strides and dilations must be positive, pads non-negative`,
      );
    }
    const out = kernel.map((k, i) =>
      windowOut(x.shape[i + 2], k, strides[i], pads[i], pads[i + nsp], dil[i], a.ceil_mode === 1)
    );
    if (out.some((o) => o < 1)) {
      throw new RangeError(
        `${op} node '${node}': input '${x.name}' ${fmtShape(x.shape)} is smaller than the window`,
      );
    }
    return out;
  }

  /** Conv (opset 11+): X [N,C,...], W [M,C/group,k...], optional B [M]. */
  Conv(x: Value, w: Value, b?: Value, attrs: OpAttrs["Conv"] = {}): Value {
    return this.#g.addNode("Conv", [x, w, b], attrs, (n) => {
      this.#float("Conv", n, "input X", x);
      this.#float("Conv", n, "weight W", w, x.dtype);
      this.#rank("Conv", n, "input X", x, (r) => r >= 3);
      this.#rank("Conv", n, "weight W", w, [x.shape.length]);
      const group = attrs.group ?? 1;
      const kernel = w.shape.slice(2);
      if (attrs.kernel_shape) {
        this.#expectShape("Conv", n, "kernel_shape of weight W", w, [
          w.shape[0],
          w.shape[1],
          ...attrs.kernel_shape,
        ]);
      }
      if (x.shape[1] !== w.shape[1] * group || w.shape[0] % group !== 0) {
        throw new RangeError(
          `Conv node '${n}': input X '${x.name}' ${fmtShape(x.shape)} and weight W '${w.name}' ${
            fmtShape(w.shape)
          } disagree on channels (group ${group})`,
        );
      }
      if (b) this.#expectShape("Conv", n, "bias B", b, [w.shape[0]]);
      const sp = this.#spatial("Conv", n, x, kernel, attrs);
      return [[x.dtype, [x.shape[0], w.shape[0], ...sp]]];
    })[0];
  }

  /** ConvTranspose: X [N,C,...], W [C,M/group,k...]; output size s(in−1) + output_padding + k − pads. */
  ConvTranspose(x: Value, w: Value, b?: Value, attrs: OpAttrs["ConvTranspose"] = {}): Value {
    return this.#g.addNode("ConvTranspose", [x, w, b], attrs, (n) => {
      this.#float("ConvTranspose", n, "input X", x);
      this.#float("ConvTranspose", n, "weight W", w, x.dtype);
      this.#rank("ConvTranspose", n, "weight W", w, [x.shape.length]);
      const group = attrs.group ?? 1;
      const nsp = x.shape.length - 2;
      if (x.shape[1] !== w.shape[0]) {
        throw new RangeError(
          `ConvTranspose node '${n}': input X '${x.name}' ${fmtShape(x.shape)} and weight W '${w.name}' ${
            fmtShape(w.shape)
          } disagree on channels`,
        );
      }
      if (attrs.auto_pad !== undefined && attrs.auto_pad !== "NOTSET") {
        throw new TypeError(
          `ConvTranspose node '${n}': unsupported attribute 'auto_pad' value '${attrs.auto_pad}'`,
        );
      }
      const s = attrs.strides ?? Array(nsp).fill(1);
      const p = attrs.pads ?? Array(2 * nsp).fill(0);
      const d = attrs.dilations ?? Array(nsp).fill(1);
      const op = attrs.output_padding ?? Array(nsp).fill(0);
      const m = w.shape[1] * group;
      if (b) this.#expectShape("ConvTranspose", n, "bias B", b, [m]);
      const sp = x.shape.slice(2).map((v, i) =>
        s[i] * (v - 1) + op[i] + (w.shape[i + 2] - 1) * d[i] + 1 - p[i] - p[i + nsp]
      );
      if (sp.some((v) => v < 1)) throw new RangeError(`ConvTranspose node '${n}': output would be empty`);
      return [[x.dtype, [x.shape[0], m, ...sp]]];
    })[0];
  }

  /** BatchNormalization in inference form (training_mode 0): per-channel (x − mean)/√(var+ε)·scale + B. */
  BatchNormalization(
    x: Value,
    scale: Value,
    bias: Value,
    mean: Value,
    variance: Value,
    attrs: OpAttrs["BatchNormalization"] = {},
  ): Value {
    return this.#g.addNode("BatchNormalization", [x, scale, bias, mean, variance], attrs, (n) => {
      if ((attrs.training_mode ?? 0) !== 0) {
        throw new TypeError(
          `BatchNormalization node '${n}': unsupported attribute 'training_mode' value ${attrs.training_mode} (use batchNormTraining)`,
        );
      }
      this.#float("BatchNormalization", n, "input X", x);
      this.#rank("BatchNormalization", n, "input X", x, (r) => r >= 2);
      const c = [x.shape[1]];
      for (
        const [role, v] of [["scale", scale], ["B", bias], ["input_mean", mean], [
          "input_var",
          variance,
        ]] as const
      ) {
        this.#float("BatchNormalization", n, role, v, x.dtype);
        this.#expectShape("BatchNormalization", n, role, v, c);
      }
      return [[x.dtype, x.shape]];
    })[0];
  }

  #unary(op: "Relu" | "Neg" | "Sqrt" | "Reciprocal" | "Exp" | "Log", x: Value): Value {
    return this.#g.addNode(op, [x], {}, (n) => {
      this.#float(op, n, "input X", x);
      return [[x.dtype, x.shape]];
    })[0];
  }
  /** Relu. */
  Relu(x: Value): Value {
    return this.#unary("Relu", x);
  }
  /** Neg. */
  Neg(x: Value): Value {
    return this.#unary("Neg", x);
  }
  /** Sqrt. */
  Sqrt(x: Value): Value {
    return this.#unary("Sqrt", x);
  }
  /** Reciprocal. */
  Reciprocal(x: Value): Value {
    return this.#unary("Reciprocal", x);
  }
  /** Exp. */
  Exp(x: Value): Value {
    return this.#unary("Exp", x);
  }
  /** Natural logarithm. */
  Log(x: Value): Value {
    return this.#unary("Log", x);
  }

  /** MaxPool; with `{ indices: true }` also returns the Indices output (flattened over the whole tensor). */
  MaxPool(x: Value, attrs: OpAttrs["MaxPool"]): Value;
  /** MaxPool returning [Y, Indices]. */
  MaxPool(x: Value, attrs: OpAttrs["MaxPool"], out: { indices: true }): [Value, Value];
  MaxPool(x: Value, attrs: OpAttrs["MaxPool"], out?: { indices: true }): Value | [Value, Value] {
    const vs = this.#g.addNode("MaxPool", [x], attrs, (n) => {
      this.#float("MaxPool", n, "input X", x);
      this.#rank("MaxPool", n, "input X", x, (r) => r >= 3);
      if (attrs.storage_order) {
        throw new TypeError(`MaxPool node '${n}': unsupported attribute 'storage_order' value 1`);
      }
      const sp = this.#spatial("MaxPool", n, x, attrs.kernel_shape, attrs);
      const shape = [x.shape[0], x.shape[1], ...sp];
      return out?.indices ? [[x.dtype, shape], ["int64", shape]] : [[x.dtype, shape]];
    });
    return out?.indices ? [vs[0], vs[1]] : vs[0];
  }

  /** AveragePool (count_include_pad 0 by default, as ONNX; torch's default is 1). */
  AveragePool(x: Value, attrs: OpAttrs["AveragePool"]): Value {
    return this.#g.addNode("AveragePool", [x], attrs, (n) => {
      this.#float("AveragePool", n, "input X", x);
      this.#rank("AveragePool", n, "input X", x, (r) => r >= 3);
      const sp = this.#spatial("AveragePool", n, x, attrs.kernel_shape, attrs);
      return [[x.dtype, [x.shape[0], x.shape[1], ...sp]]];
    })[0];
  }

  /** GlobalAveragePool: N×C×H×W → N×C×1×1. */
  GlobalAveragePool(x: Value): Value {
    return this.#g.addNode("GlobalAveragePool", [x], {}, (n) => {
      this.#float("GlobalAveragePool", n, "input X", x);
      this.#rank("GlobalAveragePool", n, "input X", x, (r) => r >= 3);
      return [[x.dtype, [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)]]];
    })[0];
  }

  /** Concat along `axis`; every other dimension must agree. */
  Concat(xs: readonly Value[], attrs: OpAttrs["Concat"]): Value {
    return this.#g.addNode("Concat", xs, attrs, (n) => {
      if (xs.length === 0) throw new RangeError(`Concat node '${n}': needs at least one input`);
      const r = xs[0].shape.length;
      const ax = normAxis(attrs.axis, r, `Concat node '${n}'`);
      let total = 0;
      for (const v of xs) {
        if (v.dtype !== xs[0].dtype) {
          throw new TypeError(`Concat node '${n}': input '${v.name}' is ${v.dtype}, not ${xs[0].dtype}`);
        }
        const want = xs[0].shape.map((d, i) => (i === ax ? v.shape[ax] : d));
        this.#expectShape("Concat", n, "input", v, want);
        total += v.shape[ax];
      }
      return [[xs[0].dtype, xs[0].shape.map((d, i) => (i === ax ? total : d))]];
    })[0];
  }

  /** Split into pieces of the given sizes along `axis`. */
  Split(x: Value, split: readonly number[], attrs: OpAttrs["Split"] = {}): Value[] {
    const sv = this.#g.constant(split as number[], "int64");
    return this.#g.addNode("Split", [x, sv], attrs, (n) => {
      const ax = normAxis(attrs.axis ?? 0, x.shape.length, `Split node '${n}'`);
      if (split.reduce((a, b) => a + b, 0) !== x.shape[ax]) {
        throw new RangeError(
          `Split node '${n}': sizes ${fmtShape(split)} do not add up to dimension ${
            x.shape[ax]
          } of '${x.name}'`,
        );
      }
      return split.map((s) => [x.dtype, x.shape.map((d, i) => (i === ax ? s : d))] as Spec);
    });
  }

  /** Slice with constant starts/ends/axes/steps (ONNX clamping rules, negative steps allowed). */
  Slice(
    x: Value,
    starts: readonly number[],
    ends: readonly number[],
    axes?: readonly number[],
    steps?: readonly number[],
  ): Value {
    const g = this.#g;
    const ins = [x, g.constant(starts as number[], "int64"), g.constant(ends as number[], "int64")];
    if (axes || steps) ins.push(g.constant((axes ?? starts.map((_, i) => i)) as number[], "int64"));
    if (steps) ins.push(g.constant(steps as number[], "int64"));
    return g.addNode("Slice", ins, {}, (n) => {
      const shape = [...x.shape];
      starts.forEach((s0, i) => {
        const ax = normAxis(axes?.[i] ?? i, x.shape.length, `Slice node '${n}'`);
        const dim = x.shape[ax], st = steps?.[i] ?? 1;
        if (st === 0) throw new RangeError(`Slice node '${n}': step must not be 0`);
        const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
        const s = st > 0 ? clamp(s0, 0, dim) : clamp(s0, 0, dim - 1);
        const e = st > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
        shape[ax] = Math.max(0, Math.ceil((e - s) / st));
      });
      return [[x.dtype, shape]];
    })[0];
  }

  #binary(op: "Add" | "Sub" | "Mul" | "Div" | "Greater" | "Equal", a: Value, b: Value): Value {
    return this.#g.addNode(op, [a, b], {}, (n) => {
      if (a.dtype !== b.dtype) {
        throw new TypeError(
          `${op} node '${n}': inputs '${a.name}' (${a.dtype}) and '${b.name}' (${b.dtype}) differ in dtype`,
        );
      }
      const s = broadcastShapes(a.shape, b.shape);
      if (!s) {
        throw new RangeError(
          `${op} node '${n}': shapes of '${a.name}' ${fmtShape(a.shape)} and '${b.name}' ${
            fmtShape(b.shape)
          } do not broadcast`,
        );
      }
      return [[op === "Greater" || op === "Equal" ? "bool" : a.dtype, s]];
    })[0];
  }
  /** Add (numpy broadcasting). */
  Add(a: Value, b: Value): Value {
    return this.#binary("Add", a, b);
  }
  /** Sub (numpy broadcasting). */
  Sub(a: Value, b: Value): Value {
    return this.#binary("Sub", a, b);
  }
  /** Mul (numpy broadcasting). */
  Mul(a: Value, b: Value): Value {
    return this.#binary("Mul", a, b);
  }
  /** Div (numpy broadcasting). */
  Div(a: Value, b: Value): Value {
    return this.#binary("Div", a, b);
  }
  /** Greater → bool. */
  Greater(a: Value, b: Value): Value {
    return this.#binary("Greater", a, b);
  }
  /** Equal → bool. */
  Equal(a: Value, b: Value): Value {
    return this.#binary("Equal", a, b);
  }

  /** Where(cond, a, b) with three-way broadcasting. */
  Where(cond: Value, a: Value, b: Value): Value {
    return this.#g.addNode("Where", [cond, a, b], {}, (n) => {
      if (cond.dtype !== "bool") {
        throw new TypeError(`Where node '${n}': condition '${cond.name}' must be bool`);
      }
      if (a.dtype !== b.dtype) {
        throw new TypeError(`Where node '${n}': '${a.name}' and '${b.name}' differ in dtype`);
      }
      const s = broadcastShapes(cond.shape, a.shape), s2 = s && broadcastShapes(s, b.shape);
      if (!s2) {
        throw new RangeError(
          `Where node '${n}': shapes ${fmtShape(cond.shape)}, ${fmtShape(a.shape)}, ${
            fmtShape(b.shape)
          } do not broadcast`,
        );
      }
      return [[a.dtype, s2]];
    })[0];
  }

  /** Sum of any number of same-dtype tensors (broadcasting). */
  Sum(xs: readonly Value[]): Value {
    return this.#g.addNode("Sum", xs, {}, (n) => {
      if (xs.length === 0) throw new RangeError(`Sum node '${n}': needs at least one input`);
      let s: number[] | undefined = [...xs[0].shape];
      for (const v of xs) {
        if (v.dtype !== xs[0].dtype) {
          throw new TypeError(`Sum node '${n}': input '${v.name}' is ${v.dtype}, not ${xs[0].dtype}`);
        }
        const t: number[] | undefined = broadcastShapes(s!, v.shape);
        if (!t) {
          throw new RangeError(
            `Sum node '${n}': shape of '${v.name}' ${fmtShape(v.shape)} does not broadcast with ${
              fmtShape(s!)
            }`,
          );
        }
        s = t;
      }
      return [[xs[0].dtype, s!]];
    })[0];
  }

  /** Flatten to 2-D at `axis` (default 1). */
  Flatten(x: Value, attrs: OpAttrs["Flatten"] = {}): Value {
    return this.#g.addNode("Flatten", [x], attrs, (n) => {
      const ax = attrs.axis ?? 1;
      const a = ax < 0 ? ax + x.shape.length : ax;
      if (a < 0 || a > x.shape.length) {
        throw new RangeError(`Flatten node '${n}': axis ${ax} is out of range`);
      }
      return [[x.dtype, [numel(x.shape.slice(0, a)), numel(x.shape.slice(a))]]];
    })[0];
  }

  /** Reshape to a constant shape (0 copies a dimension, −1 is inferred). */
  Reshape(x: Value, shape: Value | readonly number[], attrs: OpAttrs["Reshape"] = {}): Value {
    const sv = this.#i64(shape);
    return this.#g.addNode("Reshape", [x, sv], attrs, (n) => {
      const want = intsOf(this.#g, shape, `Reshape node '${n}'`);
      const out = want.map((d, i) => (d === 0 && !attrs.allowzero ? x.shape[i] : d));
      const neg = out.filter((d) => d === -1).length;
      const known = numel(out.filter((d) => d !== -1));
      if (neg > 1 || (neg === 1 && (known === 0 || numel(x.shape) % known !== 0))) {
        throw new RangeError(
          `Reshape node '${n}': cannot reshape '${x.name}' ${fmtShape(x.shape)} to ${fmtShape(want)}`,
        );
      }
      const res = out.map((d) => (d === -1 ? numel(x.shape) / known : d));
      if (numel(res) !== numel(x.shape)) {
        throw new RangeError(
          `Reshape node '${n}': cannot reshape '${x.name}' ${fmtShape(x.shape)} to ${fmtShape(want)}`,
        );
      }
      return [[x.dtype, res]];
    })[0];
  }

  /** Transpose by `perm` (default: reversed axes). */
  Transpose(x: Value, attrs: OpAttrs["Transpose"] = {}): Value {
    return this.#g.addNode("Transpose", [x], attrs, (n) => {
      const perm = attrs.perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const sorted = [...perm].sort((a, b) => a - b);
      if (perm.length !== x.shape.length || sorted.some((p, i) => p !== i)) {
        throw new RangeError(
          `Transpose node '${n}': perm ${fmtShape(perm)} does not fit '${x.name}' ${fmtShape(x.shape)}`,
        );
      }
      return [[x.dtype, perm.map((p) => x.shape[p])]];
    })[0];
  }

  /** Expand (bidirectional broadcast) to a constant shape. */
  Expand(x: Value, shape: Value | readonly number[]): Value {
    const sv = this.#i64(shape);
    return this.#g.addNode("Expand", [x, sv], {}, (n) => {
      const want = intsOf(this.#g, shape, `Expand node '${n}'`);
      const s = broadcastShapes(x.shape, want);
      if (!s) {
        throw new RangeError(
          `Expand node '${n}': '${x.name}' ${fmtShape(x.shape)} does not broadcast to ${fmtShape(want)}`,
        );
      }
      return [[x.dtype, s]];
    })[0];
  }

  /** Gemm: Y = alpha·A'·B' + beta·C (C broadcast to [M, N]). */
  Gemm(a: Value, b: Value, c?: Value, attrs: OpAttrs["Gemm"] = {}): Value {
    return this.#g.addNode("Gemm", [a, b, c], attrs, (n) => {
      this.#float("Gemm", n, "input A", a);
      this.#float("Gemm", n, "input B", b, a.dtype);
      this.#rank("Gemm", n, "input A", a, [2]);
      this.#rank("Gemm", n, "input B", b, [2]);
      const [m, k] = attrs.transA ? [a.shape[1], a.shape[0]] : a.shape;
      const [k2, nn] = attrs.transB ? [b.shape[1], b.shape[0]] : b.shape;
      if (k !== k2) {
        throw new RangeError(
          `Gemm node '${n}': inner dimensions of '${a.name}' ${fmtShape(a.shape)} and '${b.name}' ${
            fmtShape(b.shape)
          } differ`,
        );
      }
      if (c) {
        this.#float("Gemm", n, "input C", c, a.dtype);
        const s = broadcastShapes(c.shape, [m, nn]);
        if (!s || s[0] !== m || s[1] !== nn) {
          throw new RangeError(
            `Gemm node '${n}': input C '${c.name}' has shape ${fmtShape(c.shape)} but ${
              fmtShape([m, nn])
            } was expected`,
          );
        }
      }
      return [[a.dtype, [m, nn]]];
    })[0];
  }

  /** MatMul of rank ≥ 2 tensors with broadcast batch dimensions. */
  MatMul(a: Value, b: Value): Value {
    return this.#g.addNode("MatMul", [a, b], {}, (n) => {
      this.#float("MatMul", n, "input A", a);
      this.#float("MatMul", n, "input B", b, a.dtype);
      this.#rank("MatMul", n, "input A", a, (r) => r >= 2);
      this.#rank("MatMul", n, "input B", b, (r) => r >= 2);
      const [m, k] = a.shape.slice(-2), [k2, nn] = b.shape.slice(-2);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (k !== k2 || !batch) {
        throw new RangeError(
          `MatMul node '${n}': '${a.name}' ${fmtShape(a.shape)} and '${b.name}' ${
            fmtShape(b.shape)
          } do not multiply`,
        );
      }
      return [[a.dtype, [...batch, m, nn]]];
    })[0];
  }

  /** Softmax along `axis` (default −1). */
  Softmax(x: Value, attrs: OpAttrs["Softmax"] = {}): Value {
    return this.#g.addNode("Softmax", [x], attrs, (n) => {
      this.#float("Softmax", n, "input", x);
      normAxis(attrs.axis ?? -1, x.shape.length, `Softmax node '${n}'`);
      return [[x.dtype, x.shape]];
    })[0];
  }
  /** LogSoftmax along `axis` (default −1). */
  LogSoftmax(x: Value, attrs: OpAttrs["LogSoftmax"] = {}): Value {
    return this.#g.addNode("LogSoftmax", [x], attrs, (n) => {
      this.#float("LogSoftmax", n, "input", x);
      normAxis(attrs.axis ?? -1, x.shape.length, `LogSoftmax node '${n}'`);
      return [[x.dtype, x.shape]];
    })[0];
  }

  /**
   * SoftmaxCrossEntropyLoss over scores [N, C] and integer labels [N]; reduction "mean" (default), "sum" or
   * "none". With `{ logProb: true }` also returns the log-probabilities.
   */
  SoftmaxCrossEntropyLoss(scores: Value, labels: Value, attrs?: OpAttrs["SoftmaxCrossEntropyLoss"]): Value;
  /** SoftmaxCrossEntropyLoss returning [loss, log_prob]. */
  SoftmaxCrossEntropyLoss(
    scores: Value,
    labels: Value,
    attrs: OpAttrs["SoftmaxCrossEntropyLoss"],
    out: { logProb: true },
  ): [Value, Value];
  SoftmaxCrossEntropyLoss(
    scores: Value,
    labels: Value,
    attrs: OpAttrs["SoftmaxCrossEntropyLoss"] = {},
    out?: { logProb: true },
  ): Value | [Value, Value] {
    const vs = this.#g.addNode("SoftmaxCrossEntropyLoss", [scores, labels], attrs, (n) => {
      this.#float("SoftmaxCrossEntropyLoss", n, "scores", scores);
      this.#rank("SoftmaxCrossEntropyLoss", n, "scores", scores, [2]);
      if (labels.dtype !== "int64" && labels.dtype !== "int32") {
        throw new TypeError(
          `SoftmaxCrossEntropyLoss node '${n}': labels '${labels.name}' must be int64 or int32`,
        );
      }
      this.#expectShape("SoftmaxCrossEntropyLoss", n, "labels", labels, [scores.shape[0]]);
      const red = attrs.reduction ?? "mean";
      if (!["mean", "sum", "none"].includes(red)) {
        throw new TypeError(
          `SoftmaxCrossEntropyLoss node '${n}': unsupported attribute 'reduction' value '${red}'`,
        );
      }
      const loss: Spec = [scores.dtype, red === "none" ? [scores.shape[0]] : []];
      return out?.logProb ? [loss, [scores.dtype, scores.shape]] : [loss];
    });
    return out?.logProb ? [vs[0], vs[1]] : vs[0];
  }

  #reduce(
    op: "ReduceMean" | "ReduceSumSquare" | "ReduceMax",
    x: Value,
    attrs: { axes?: number[]; keepdims?: number },
  ): Value {
    return this.#g.addNode(
      op,
      [x],
      attrs,
      (n) => [[x.dtype, reducedShape(x, attrs.axes, attrs.keepdims ?? 1, `${op} node '${n}'`)]],
    )[0];
  }
  /** ReduceMean over `axes` (default all), keepdims 1 by default as ONNX. */
  ReduceMean(x: Value, attrs: OpAttrs["ReduceMean"] = {}): Value {
    return this.#reduce("ReduceMean", x, attrs);
  }
  /** ReduceSumSquare over `axes`. */
  ReduceSumSquare(x: Value, attrs: OpAttrs["ReduceSumSquare"] = {}): Value {
    return this.#reduce("ReduceSumSquare", x, attrs);
  }
  /** ReduceMax over `axes`. */
  ReduceMax(x: Value, attrs: OpAttrs["ReduceMax"] = {}): Value {
    return this.#reduce("ReduceMax", x, attrs);
  }
  /** ReduceSum (opset 13+: axes is an input; given here as numbers). */
  ReduceSum(x: Value, axes?: readonly number[], attrs: OpAttrs["ReduceSum"] = {}): Value {
    const ins = axes ? [x, this.#g.constant(axes as number[], "int64")] : [x];
    return this.#g.addNode(
      "ReduceSum",
      ins,
      attrs,
      (n) => [[x.dtype, reducedShape(x, axes, attrs.keepdims ?? 1, `ReduceSum node '${n}'`)]],
    )[0];
  }

  /** ScatterElements (reduction "add" accumulates duplicates, opset 16+). */
  ScatterElements(
    data: Value,
    indices: Value,
    updates: Value,
    attrs: OpAttrs["ScatterElements"] = {},
  ): Value {
    return this.#g.addNode("ScatterElements", [data, indices, updates], attrs, (n) => {
      if (indices.dtype !== "int64" && indices.dtype !== "int32") {
        throw new TypeError(`ScatterElements node '${n}': indices must be integer`);
      }
      this.#expectShape("ScatterElements", n, "updates", updates, indices.shape);
      if (data.shape.length !== indices.shape.length) {
        throw new RangeError(
          `ScatterElements node '${n}': data '${data.name}' ${fmtShape(data.shape)} and indices ${
            fmtShape(indices.shape)
          } differ in rank`,
        );
      }
      return [[data.dtype, data.shape]];
    })[0];
  }

  /** ConstantOfShape: a tensor of `shape` filled with `value` (default float32 0). */
  ConstantOfShape(shape: readonly number[], attrs: OpAttrs["ConstantOfShape"] = {}): Value {
    const sv = this.#g.constant(shape as number[], "int64");
    return this.#g.addNode(
      "ConstantOfShape",
      [sv],
      attrs,
      () => [[attrs.value?.dtype ?? "float32", shape]],
    )[0];
  }

  /** Cast to `to`. */
  Cast(x: Value, attrs: OpAttrs["Cast"]): Value {
    return this.#g.addNode("Cast", [x], attrs, () => [[attrs.to, x.shape]])[0];
  }
}

/** Shape after reducing `axes` (all when omitted). */
export function reducedShape(
  x: Value,
  axes: readonly number[] | undefined,
  keepdims: number,
  where: string,
): number[] {
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, x.shape.length, where));
  const out: number[] = [];
  x.shape.forEach((d, i) => {
    if (!ax.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}
