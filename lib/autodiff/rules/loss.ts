/**
 * Softmax-family gradients. SoftmaxCrossEntropyLoss: dscores = (softmax − onehot)·dloss/N for "mean"
 * (·dloss for "sum", row-wise dloss for "none"); the one-hot comes from Equal(labels, 0..C−1) so it works in
 * float64 too (onnxruntime's OneHot has no float64 kernel). A gradient into the optional log_prob output
 * adds the LogSoftmax rule.
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, unsupported } from "../rule.ts";

function logSoftmaxBackward(g: Graph, y: Value, dy: Value, axis: number): Value {
  return g.op.Sub(dy, g.op.Mul(g.op.Exp(y), g.op.ReduceSum(dy, [axis], { keepdims: 1 })));
}

export const softmaxRule: GradRule<"Softmax"> = ({ g, attrs, y: [y], dout: dy }) => {
  const axis = attrs.axis ?? -1;
  const inner = g.op.ReduceSum(g.op.Mul(dy, y!), [axis], { keepdims: 1 });
  return [g.op.Mul(y!, g.op.Sub(dy, inner))];
};

export const logSoftmaxRule: GradRule<"LogSoftmax"> = ({ g, attrs, y: [y], dout: dy }) => [
  logSoftmaxBackward(g, y!, dy, attrs.axis ?? -1),
];

export const softmaxCrossEntropyRule: GradRule<"SoftmaxCrossEntropyLoss"> = (
  { g, node, attrs, x: [scores, labels], y, dy: [dloss, dlogp] },
) => {
  const [n, c] = scores!.shape;
  const parts: Value[] = [];
  if (dloss) {
    const classes = g.constant(Array.from({ length: c }, (_, i) => i), labels!.dtype, [1, c]);
    const onehot = g.op.Cast(g.op.Equal(g.op.Reshape(labels!, [n, 1]), classes), { to: scores!.dtype });
    const diff = g.op.Sub(g.op.Softmax(scores!, { axis: 1 }), onehot);
    const red = attrs.reduction ?? "mean";
    if (red === "mean") parts.push(g.op.Mul(diff, g.op.Mul(dloss, g.constant(1 / n, scores!.dtype))));
    else if (red === "sum") parts.push(g.op.Mul(diff, dloss));
    else if (red === "none") parts.push(g.op.Mul(diff, g.op.Reshape(dloss, [n, 1])));
    else throw unsupported(node, `gradient does not support attribute 'reduction' = '${red}'`);
  }
  if (dlogp) parts.push(logSoftmaxBackward(g, y[1]!, dlogp, 1));
  return [parts.length === 1 ? parts[0] : g.op.Add(parts[0], parts[1])];
};
