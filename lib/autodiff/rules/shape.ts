/**
 * Gradients of data-movement ops: Reshape/Flatten (reshape back), Transpose (inverse permutation), Expand
 * (sum over the broadcast axes), Concat (Split), Split (Concat, zeros for pieces without gradient).
 * @module
 */
import type { Value } from "../../graph/types.ts";
import { type GradContext, type GradRule, reduceToShape } from "../rule.ts";
import { swapLast, swapsLastTwo } from "./linalg.ts";

// Flatten is a reshape: one rule serves both.
function reshapeBack<K extends "Reshape" | "Flatten">({ g, x: [x], dout: dy }: GradContext<K>) {
  return [g.op.Reshape(dy, x!.shape)];
}

export const reshapeRule: GradRule<"Reshape"> = reshapeBack;

export const flattenRule: GradRule<"Flatten"> = reshapeBack;

export const identityRule: GradRule<"Identity"> = ({ dout: dy }) => [dy];

export const transposeRule: GradRule<"Transpose"> = ({ g, attrs, x: [x], dout: dy }) => {
  const perm = attrs.perm ?? x!.shape.map((_, i) => x!.shape.length - 1 - i);
  const inv = perm.map((_, i) => perm.indexOf(i));
  // dY = P·Q (a MatMul operand's gradient): (P·Q)ᵀ = Qᵀ·Pᵀ, whose operand transposes onnxruntime fuses into
  // the product; a Transpose of the product it runs as its own pass, and after a Reshape to 4-D on its slow
  // generic path (CBR-Small's dense block4 at 28²: 3.2 ms). The unused P·Q is pruned when serialised.
  const o = g.origin(dy);
  if (o.kind === "node" && o.node.op === "MatMul" && swapsLastTwo(perm, perm.length)) {
    const [p, q] = o.node.inputs as Value[];
    if (p.shape.length >= 2 && q.shape.length >= 2) return [g.op.MatMul(swapLast(g, q), swapLast(g, p))];
  }
  return [g.op.Transpose(dy, { perm: inv })];
};

export const expandRule: GradRule<"Expand"> = ({ g, x: [x], dout: dy }) => [reduceToShape(g, dy, x!.shape)];

export const concatRule: GradRule<"Concat"> = ({ g, attrs, x, dout: dy, needs }) => {
  const axis = attrs.axis < 0 ? attrs.axis + dy.shape.length : attrs.axis;
  const parts = g.op.Split(dy, x.map((v) => v!.shape[axis]), { axis });
  return parts.map((p, i) => (needs[i] ? p : undefined));
};

export const splitRule: GradRule<"Split"> = ({ g, attrs, y, dy }) => {
  const pieces: Value[] = y.map((v, i) =>
    dy[i] ?? g.op.ConstantOfShape(v!.shape, { value: { dtype: v!.dtype, data: [0] } })
  );
  return [g.op.Concat(pieces, { axis: attrs.axis ?? 0 })];
};
