/**
 * BatchNormalization gradient.
 * - Training form (node tagged by batchNormTraining: mean/var are the batch statistics of x): the closed
 *   form dx = k1·dy + k2·(x − μ) + k3 with k1 = γ/σ, k2 = −γ·Σ(dy·(x−μ))/(σ³M), k3 = −γ·Σdy/(σM); the first
 *   and last terms run as one inference BatchNormalization (mean 0, var 1, epsilon 0: an exact scale-shift);
 *   Σdy·(x−μ) is taken as Σdy·x − μ·Σdy so that the forward pass keeps no centred copy of x.
 *   The statistics inputs get {@linkcode NO_GRADIENT}: their effect is inside dx.
 * - Inference form (statistics are independent inputs): dx = dy·γ/σ and the gradients of all five inputs.
 * @module
 */
import type { Value } from "../../graph/types.ts";
import { numel } from "../../graph/types.ts";
import { type GradRule, NO_GRADIENT, perChannel, scalar } from "../rule.ts";

const needDotOf = (needs: readonly boolean[]) => needs[1] || needs[4];

export const batchNormRule: GradRule<"BatchNormalization"> = (
  { g, node, attrs, x: [x, scale, , mean, variance], dout: dy, needs },
) => {
  const eps = attrs.epsilon ?? 1e-5;
  const rank = x!.shape.length, c = x!.shape[1];
  const axes = x!.shape.map((_, i) => i).filter((i) => i !== 1);
  const count = numel(x!.shape) / c;
  const invStd = g.op.Reciprocal(g.op.Sqrt(g.op.Add(variance!, scalar(g, eps, x!))));
  const stats = node.meta?.batchStats;
  const needSumDy = needs[2] || (stats && needs[0]) || needs[3] || (stats && needDotOf(needs));
  const sumDy = needSumDy ? g.op.ReduceSum(dy, axes, { keepdims: 0 }) : undefined;
  const needDot = needDotOf(needs) || (stats && needs[0]);
  // Batch statistics: Σdy·(x−μ) = Σdy·x − μ·Σdy, so no centred copy of x is kept from the forward pass.
  const dot = !needDot
    ? undefined
    : stats
    ? g.op.Sub(g.op.ReduceSum(g.op.Mul(dy, x!), axes, { keepdims: 0 }), g.op.Mul(mean!, sumDy!))
    : g.op.ReduceSum(g.op.Mul(dy, g.op.Sub(x!, perChannel(g, mean!, rank))), axes, { keepdims: 0 });
  const k1 = g.op.Mul(scale!, invStd);
  const out: (Value | typeof NO_GRADIENT | undefined)[] = [];
  if (needs[0]) {
    if (stats) {
      // dx = k1·dy + k2·(x − μ) + k3 = (k1·dy + (k3 − k2·μ)) + k2·x
      const invM = scalar(g, -1 / count, x!);
      const k3 = g.op.Mul(g.op.Mul(k1, sumDy!), invM);
      const k2 = g.op.Mul(g.op.Mul(g.op.Mul(k1, g.op.Mul(invStd, invStd)), dot!), invM);
      const zero = g.constant(new Float64Array(c), x!.dtype, [c]);
      const one = g.constant(new Float64Array(c).fill(1), x!.dtype, [c]);
      const shift = g.op.Sub(k3, g.op.Mul(k2, mean!));
      const shifted = g.op.BatchNormalization(dy, k1, shift, zero, one, { epsilon: 0 });
      out[0] = g.op.Add(shifted, g.op.Mul(x!, perChannel(g, k2, rank)));
    } else {
      out[0] = g.op.Mul(dy, perChannel(g, k1, rank));
    }
  }
  if (needs[1]) out[1] = g.op.Mul(dot!, invStd);
  if (needs[2]) out[2] = sumDy;
  if (stats) {
    // the statistics are functions of x: their gradient is already inside dx
    if (needs[3]) out[3] = NO_GRADIENT;
    if (needs[4]) out[4] = NO_GRADIENT;
  } else {
    if (needs[3]) out[3] = g.op.Neg(g.op.Mul(sumDy!, k1));
    if (needs[4]) {
      const cube = g.op.Mul(k1, g.op.Mul(invStd, invStd));
      out[4] = g.op.Mul(g.op.Mul(dot!, cube), scalar(g, -0.5, x!));
    }
  }
  return out;
};
