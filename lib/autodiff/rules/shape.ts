/**
 * Gradients of data-movement ops: Reshape/Flatten (reshape back), Transpose (inverse permutation), Expand
 * (sum over the broadcast axes), Concat (Split), Split (Concat, zeros for pieces without gradient).
 * @module
 */
import type { Value } from "../../graph/types.ts";
import { type GradContext, type GradRule, reduceToShape } from "../rule.ts";

// Flatten is a reshape: one rule serves both.
function reshapeBack<K extends "Reshape" | "Flatten">({ g, x: [x], dy: [dy], needs }: GradContext<K>) {
  return dy && needs[0] ? [g.op.Reshape(dy, x!.shape)] : [];
}

export const reshapeRule: GradRule<"Reshape"> = reshapeBack;

export const flattenRule: GradRule<"Flatten"> = reshapeBack;

export const identityRule: GradRule<"Identity"> = ({ dy: [dy], needs }) => (dy && needs[0] ? [dy] : []);

export const transposeRule: GradRule<"Transpose"> = ({ g, attrs, x: [x], dy: [dy], needs }) => {
  if (!dy || !needs[0]) return [];
  const perm = attrs.perm ?? x!.shape.map((_, i) => x!.shape.length - 1 - i);
  const inv = perm.map((_, i) => perm.indexOf(i));
  return [g.op.Transpose(dy, { perm: inv })];
};

export const expandRule: GradRule<"Expand"> = ({ g, x: [x], dy: [dy], needs }) =>
  dy && needs[0] ? [reduceToShape(g, dy, x!.shape)] : [];

export const concatRule: GradRule<"Concat"> = ({ g, attrs, x, dy: [dy], needs }) => {
  if (!dy || !needs.some(Boolean)) return [];
  const axis = attrs.axis < 0 ? attrs.axis + dy.shape.length : attrs.axis;
  const parts = g.op.Split(dy, x.map((v) => v!.shape[axis]), { axis });
  return parts.map((p, i) => (needs[i] ? p : undefined));
};

export const splitRule: GradRule<"Split"> = ({ g, attrs, y, dy, needs }) => {
  if (!needs[0] || dy.every((d) => !d)) return [];
  const pieces: Value[] = y.map((v, i) =>
    dy[i] ?? g.op.ConstantOfShape(v!.shape, { value: { dtype: v!.dtype, data: [0] } })
  );
  return [g.op.Concat(pieces, { axis: attrs.axis ?? 0 })];
};
