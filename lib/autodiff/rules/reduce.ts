/**
 * Reduction gradients: the output gradient, reshaped to keepdims form, broadcast back over the reduced axes
 * (ReduceMean divides by the count, ReduceSumSquare multiplies by 2x).
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, scalar } from "../rule.ts";

function keepShape(x: Value, axes: readonly number[] | undefined): number[] {
  const r = x.shape.length;
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  return x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
}

function kept(g: Graph, dy: Value, x: Value, axes: readonly number[] | undefined): Value {
  const s = keepShape(x, axes);
  return dy.shape.length === s.length ? dy : g.op.Reshape(dy, s);
}

export const reduceMeanRule: GradRule<"ReduceMean"> = ({ g, attrs, x: [x], dout: dy }) => {
  const count = x!.shape.reduce((a, b) => a * b, 1) / dy.shape.reduce((a, b) => a * b, 1);
  return [g.op.Expand(g.op.Mul(kept(g, dy, x!, attrs.axes), scalar(g, 1 / count, dy)), x!.shape)];
};

export const reduceSumRule: GradRule<"ReduceSum"> = ({ g, x: [x, axesV], dout: dy }) => {
  const axes = axesV ? Array.from(g.constantData(axesV) as BigInt64Array, Number) : undefined;
  return [g.op.Expand(kept(g, dy, x!, axes), x!.shape)];
};

export const reduceSumSquareRule: GradRule<"ReduceSumSquare"> = ({ g, attrs, x: [x], dout: dy }) => {
  return [g.op.Mul(x!, g.op.Mul(kept(g, dy, x!, attrs.axes), scalar(g, 2, dy)))];
};
