/**
 * Training-mode batch normalisation with torch semantics, composed from standard ops: batch statistics by
 * reductions, the inference BatchNormalization op as the per-channel scale-and-shift, and the running
 * statistics updated with momentum 0.1 and the unbiased variance (ONNX's own training_mode uses the biased
 * variance and the opposite momentum convention).
 * @module
 */
import type { Graph } from "./graph.ts";
import type { Value } from "./types.ts";
import { fmtShape, numel } from "./types.ts";

/** What {@linkcode batchNormTraining} builds. */
export interface BatchNormTrainingResult {
  /** The normalised output. */
  y: Value;
  /** Batch mean [C]. */
  mean: Value;
  /** Biased batch variance [C] (what normalises y). */
  variance: Value;
  /** (1 − momentum)·running_mean + momentum·mean. */
  runningMean: Value;
  /** (1 − momentum)·running_var + momentum·var·M/(M − 1), M = elements per channel. */
  runningVar: Value;
}

/**
 * Builds training-mode batch norm over axis 1 of `x` (N×C×…). The BatchNormalization node is tagged so that
 * its gradient rule uses the closed-form backward through the batch statistics.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { batchNormTraining } from "./batchnorm.ts";
 * const g = new Graph();
 * const x = g.input("x", "float32", [4, 3, 5, 5]);
 * const c = (n: string) => g.input(n, "float32", [3]);
 * const bn = batchNormTraining(g, x, c("w"), c("b"), c("rm"), c("rv"));
 * if (bn.y.shape.join() !== "4,3,5,5") throw new Error("bad shape");
 * ```
 */
export function batchNormTraining(
  g: Graph,
  x: Value,
  scale: Value,
  bias: Value,
  runningMean: Value,
  runningVar: Value,
  opts: { epsilon?: number; momentum?: number } = {},
): BatchNormTrainingResult {
  const eps = opts.epsilon ?? 1e-5, m = opts.momentum ?? 0.1;
  if (x.shape.length < 2) {
    throw new RangeError(`Batch norm input '${x.name}' has shape ${fmtShape(x.shape)}; need N×C×…`);
  }
  const c = x.shape[1];
  const count = numel(x.shape) / c;
  if (count < 2) {
    throw new RangeError(
      `Batch norm input '${x.name}' ${fmtShape(x.shape)} has 1 value per channel; training needs more`,
    );
  }
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const dt = x.dtype;
  const k = (v: number) => g.constant(v, dt);
  const meanK = g.op.ReduceMean(x, { axes, keepdims: 1 });
  const mean = g.op.Reshape(meanK, [c]);
  // One pass, E[x²] − E[x]², instead of centring first: a centred copy of every BN input costs a full
  // read+write per layer and, kept for the backward, a whole activation's memory. The cancellation it risks
  // (|mean| ≫ std) does not occur after a conv with these inits; Relu clamps a rounding-negative variance.
  const meanSq = g.op.Mul(g.op.ReduceSumSquare(x, { axes, keepdims: 0 }), k(1 / count));
  const variance = g.op.Relu(g.op.Sub(meanSq, g.op.Mul(mean, mean)));
  const y = g.op.BatchNormalization(x, scale, bias, mean, variance, { epsilon: eps });
  const o = g.origin(y);
  if (o.kind === "node") o.node.meta = { batchStats: true };
  const newMean = g.op.Add(g.op.Mul(runningMean, k(1 - m)), g.op.Mul(mean, k(m)));
  const newVar = g.op.Add(g.op.Mul(runningVar, k(1 - m)), g.op.Mul(variance, k((m * count) / (count - 1))));
  return { y, mean, variance, runningMean: newMean, runningVar: newVar };
}
