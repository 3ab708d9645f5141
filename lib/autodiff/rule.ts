/**
 * The gradient-rule contract and helpers shared by the rules.
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import type { Node, OpAttrs, OpKind, Value } from "../graph/types.ts";
import { fmtShape } from "../graph/types.ts";
import type { ConvChoice, ConvSignature } from "../graph/conv_plan.ts";

export type { ConvChoice, ConvSignature };

/** What a rule sees: the forward node, the gradient of each output, and which inputs need a gradient. */
export interface GradContext<K extends OpKind> {
  /** The graph the backward nodes are appended to. */
  readonly g: Graph;
  /** The forward node. */
  readonly node: Node<K>;
  /** Its attributes. */
  readonly attrs: OpAttrs[K];
  /** Forward inputs (undefined for omitted optional inputs). */
  readonly x: readonly (Value | undefined)[];
  /** Forward outputs. */
  readonly y: readonly (Value | undefined)[];
  /** Gradient of the loss w.r.t. each output; undefined where none flows (zero). */
  readonly dy: readonly (Value | undefined)[];
  /**
   * The gradient of the first output. The traversal calls a rule only when some output has a gradient, so
   * for a single-output op this is always there (a multi-output op reads `dy`; reading `dout` where output 0
   * has none is an error naming the node).
   */
  readonly dout: Value;
  /**
   * needs[i]: input i lies on a path from a requested variable, so its gradient must be returned. A rule runs
   * only when some input needs one: for an op with one float input, needs[0] is always true.
   */
  readonly needs: readonly boolean[];
  /** Choices between equivalent formulations (for execution providers that lack an op). */
  readonly options: GradOptions;
}

/** Choices between equivalent backward formulations. */
export interface GradOptions {
  /**
   * MaxPool backward: "indices" (default) scatters dY through the forward node's Indices output;
   * "windows" rebuilds the arg-max from the k² strided window slices and spreads dY with a one-hot
   * ConvTranspose — for providers whose MaxPool has no Indices output (onnxruntime's WebGPU).
   */
  maxPool?: "indices" | "windows";
  /**
   * Conv weight gradient: "batched" (default) multiplies each sample's dY by its im2col columns and sums
   * over the batch; "gemm" does one Gemm over the batch-flattened columns (more memory, fewer op kinds).
   */
  convWeight?: "batched" | "gemm";
  /** Conv weight gradient's im2col: "conv" (default, a one-hot grouped Conv) or "slices" (kh·kw strided copies). */
  im2col?: "conv" | "slices";
  /**
   * Sums of three or more gradient contributions: "sum" (default, one ONNX Sum) or "add" (a balanced tree of
   * Adds) — onnxruntime's WebGPU provider has no Sum kernel, so a Sum there runs on the CPU.
   */
  sum?: "sum" | "add";
  /**
   * Largest stack of window slices the "windows" MaxPool backward builds at once, in bytes (default 1 GiB):
   * the batch is split to stay under it (a WebGPU adapter's buffer limit).
   */
  windowChunkBytes?: number;
  /**
   * Largest im2col buffer a conv weight gradient materialises at once, in bytes (default: the conv plan's
   * `CONV_LIMITS.dwChunkBytes`): the batch, then a sample's output rows, are split to stay under it.
   */
  dwChunkBytes?: number;
  /**
   * Per-conv choice of formulation (a measured choice, bench/tune.ts), consulted by the Conv rule with
   * the conv's shape signature; undefined, or a field left undefined, keeps the default rules above.
   */
  convChoice?: (sig: ConvSignature) => ConvChoice | undefined;
  /**
   * Conv backward with the kernel cropped to the taps that meet a pixel in some window (default true; false
   * keeps the full kernel, for comparisons): equal within float rounding, less work where a feature map is
   * smaller than the kernel's reach.
   */
  convCrop?: boolean;
  /**
   * The backend's blocked-channel block (`EngineBackend.block`, lib/train/backend.ts), or 0/absent: the conv plan
   * (lib/graph/conv_plan.ts `defaultDw`) picks the dW formulations made for those kernels with it.
   */
  block?: number;
}

/**
 * What a rule returns for an input that needs a gradient but gets none by the op's definition (BatchNorm's
 * batch statistics: their effect is already inside dx). Returning `undefined` for a needed input is a bug
 * the traversal reports.
 */
export const NO_GRADIENT: unique symbol = Symbol("no gradient");

/**
 * A reverse-mode rule: returns the gradient for each input position (same shape as that input),
 * {@linkcode NO_GRADIENT} where the op defines none, or undefined where not needed. Rules build only what
 * `needs` asks for.
 */
export type GradRule<K extends OpKind> = (ctx: GradContext<K>) => (Value | typeof NO_GRADIENT | undefined)[];

/** An error naming the op, the node and the attribute or reason a gradient cannot be built. */
export function unsupported(node: Node, what: string): Error {
  return new TypeError(`${node.op} node '${node.name}': ${what}`);
}

/** Sums gradient contributions: one Add for two, else one Sum or a balanced tree of Adds (`options.sum`). */
export function sumAll(g: Graph, parts: readonly Value[], options: GradOptions): Value {
  if (parts.length === 0) throw new RangeError("Nothing to sum");
  if (parts.length === 1) return parts[0];
  if (parts.length === 2) return g.op.Add(parts[0], parts[1]);
  if (options.sum !== "add") return g.op.Sum(parts);
  const half = parts.length >> 1;
  return g.op.Add(sumAll(g, parts.slice(0, half), options), sumAll(g, parts.slice(half), options));
}

/** A scalar constant of `like`'s dtype. */
export function scalar(g: Graph, v: number, like: Value): Value {
  return g.constant(v, like.dtype);
}

/** Sums `dy` down to `shape` over the axes that broadcasting expanded (numpy rules). */
export function reduceToShape(g: Graph, dy: Value, shape: readonly number[]): Value {
  if (dy.shape.length === shape.length && dy.shape.every((d, i) => d === shape[i])) return dy;
  const lead = dy.shape.length - shape.length;
  if (lead < 0) {
    throw new RangeError(`Gradient '${dy.name}' ${fmtShape(dy.shape)} cannot reduce to ${fmtShape(shape)}`);
  }
  const axes: number[] = [];
  dy.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const r = axes.length ? g.op.ReduceSum(dy, axes, { keepdims: 1 }) : dy;
  return r.shape.length === shape.length && r.shape.every((d, i) => d === shape[i])
    ? r
    : g.op.Reshape(r, shape);
}

/** Reshapes a per-channel vector [C] to [1, C, 1, …] for broadcasting against a rank-`rank` tensor. */
export function perChannel(g: Graph, v: Value, rank: number): Value {
  return g.op.Reshape(v, [1, v.shape[0], ...Array(rank - 2).fill(1)]);
}

/** The default spatial attributes of a 2-D window op, after checking that the node is 2-D. */
export function window2d(
  node: Node,
  x: Value,
  kernel: readonly number[],
  a: { strides?: number[]; pads?: number[]; dilations?: number[] },
): { k: number[]; s: number[]; p: number[] } {
  if (x.shape.length !== 4) {
    throw unsupported(node, `gradient supports 2-D (N×C×H×W) inputs, got ${fmtShape(x.shape)}`);
  }
  if (a.dilations && a.dilations.some((d) => d !== 1)) {
    throw unsupported(node, `gradient does not support attribute 'dilations' = ${fmtShape(a.dilations)}`);
  }
  return { k: [...kernel], s: a.strides ?? [1, 1], p: a.pads ?? [0, 0, 0, 0] };
}
