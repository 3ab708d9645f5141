/**
 * Gemm and MatMul gradients. For Y = α·A'·B' + β·C with A' = op(A), B' = op(B):
 * dA' = α·dY·B'ᵀ, dB' = α·A'ᵀ·dY, each written as one Gemm with transpose flags; dC = β·dY summed to C's shape.
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, reduceToShape, scalar } from "../rule.ts";

export const gemmRule: GradRule<"Gemm"> = ({ g, attrs, x: [a, b, c], dout: dy, needs }) => {
  const alpha = attrs.alpha ?? 1, beta = attrs.beta ?? 1;
  const tA = attrs.transA ?? 0, tB = attrs.transB ?? 0;
  const al = alpha === 1 ? {} : { alpha };
  let da: Value | undefined, db: Value | undefined, dc: Value | undefined;
  if (needs[0]) {
    da = tA
      ? g.op.Gemm(b!, dy, undefined, { ...al, transA: tB, transB: 1 })
      : g.op.Gemm(dy, b!, undefined, { ...al, transB: tB ? 0 : 1 });
  }
  if (needs[1]) {
    db = tB
      ? g.op.Gemm(dy, a!, undefined, { ...al, transA: 1, transB: tA })
      : g.op.Gemm(a!, dy, undefined, { ...al, transA: tA ? 0 : 1 });
  }
  if (needs[2] && c) {
    const scaled = beta === 1 ? dy : g.op.Mul(dy, scalar(g, beta, dy));
    dc = reduceToShape(g, scaled, c.shape);
  }
  return [da, db, dc];
};

/** The last two axes of `v` swapped; a value that is itself such a swap is unwrapped instead. */
export function swapLast(g: Graph, v: Value): Value {
  const r = v.shape.length;
  const o = g.origin(v);
  if (
    o.kind === "node" && o.node.op === "Transpose" &&
    swapsLastTwo((o.node.attrs as { perm?: number[] }).perm, r)
  ) {
    return o.node.inputs[0]!;
  }
  return g.op.Transpose(v, { perm: [...Array(r - 2).keys(), r - 1, r - 2] });
}

/** Whether `perm` (of rank `r`) swaps the last two axes and keeps the others. */
export function swapsLastTwo(perm: readonly number[] | undefined, r: number): boolean {
  return r >= 2 && perm !== undefined && perm.length === r &&
    perm.every((p, i) => p === (i < r - 2 ? i : i === r - 2 ? r - 1 : r - 2));
}

export const matMulRule: GradRule<"MatMul"> = ({ g, x: [a, b], dout: dy, needs }) => {
  return [
    needs[0] ? reduceToShape(g, g.op.MatMul(dy, swapLast(g, b!)), a!.shape) : undefined,
    needs[1] ? reduceToShape(g, g.op.MatMul(swapLast(g, a!), dy), b!.shape) : undefined,
  ];
};
