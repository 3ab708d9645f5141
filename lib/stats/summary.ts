/**
 * Summaries over runs (mean ± sample standard deviation) and the convergence-speed measure.
 * @module
 */

/** Mean and sample standard deviation of a set of values. */
export interface MeanStd {
  /** arithmetic mean */
  mean: number;
  /** sample standard deviation (n − 1 denominator, numpy `ddof=1`); NaN for a single value */
  std: number;
  /** number of values */
  n: number;
}

/**
 * Mean ± standard deviation over seeds/runs. The deviation is the sample one (n − 1 denominator,
 * `numpy.std(ddof=1)`), which is what the papers' ± usually means; the whole project uses this one.
 * One value gives std NaN (undefined), as numpy does.
 *
 * @example
 * ```ts
 * import { meanStd } from "./summary.ts";
 * const { mean, std } = meanStd([1, 2, 3]);
 * if (mean !== 2 || std !== 1) throw new Error("wrong");
 * ```
 */
export function meanStd(values: ArrayLike<number>): MeanStd {
  const n = values.length;
  if (n === 0) throw new RangeError("values is empty");
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`values[${i}] is ${values[i]}, not a finite number`);
    }
    s += values[i];
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : NaN, n };
}

/**
 * {@linkcode meanStd} of the finite values only, for summaries that must not fail on a missing measure
 * (a NaN similarity, an unreached target): no finite value gives `{ mean: NaN, std: NaN, n: 0 }`.
 *
 * @example
 * ```ts
 * import { finiteMeanStd } from "./summary.ts";
 * const { mean, n } = finiteMeanStd([1, NaN, 3]);
 * if (mean !== 2 || n !== 2) throw new Error("wrong");
 * ```
 */
export function finiteMeanStd(values: ArrayLike<number>): MeanStd {
  const v = Array.from(values).filter(Number.isFinite);
  return v.length ? meanStd(v) : { mean: NaN, std: NaN, n: 0 };
}

/** One evaluation of a training run: its step count and the AUC measured there. */
export interface CurvePoint {
  /** training steps done at this evaluation */
  step: number;
  /** AUC measured there */
  auc: number;
}

/**
 * The convergence-speed measure: training steps needed to first reach `target` AUC, interpolating
 * linearly between consecutive evaluations; `null` when the curve never reaches it. A curve whose first
 * evaluation already reaches the target returns that evaluation's step. Steps must increase strictly.
 *
 * @example
 * ```ts
 * import { stepsToReach } from "./summary.ts";
 * const curve = [{ step: 100, auc: 0.5 }, { step: 200, auc: 0.75 }];
 * if (stepsToReach(curve, 0.625) !== 150) throw new Error("interpolation");
 * if (stepsToReach(curve, 0.8) !== null) throw new Error("never reached");
 * ```
 */
export function stepsToReach(curve: readonly CurvePoint[], target: number): number | null {
  if (!Number.isFinite(target)) throw new RangeError(`target is ${target}, not a finite number`);
  if (curve.length === 0) throw new RangeError("curve is empty");
  for (let i = 0; i < curve.length; i++) {
    const { step, auc } = curve[i];
    if (!Number.isFinite(step) || !Number.isFinite(auc)) {
      throw new RangeError(`curve[${i}] has a non-finite step or auc (${step}, ${auc})`);
    }
    if (i > 0 && !(step > curve[i - 1].step)) {
      throw new RangeError(
        `curve steps must increase strictly: curve[${i}].step = ${step} after ${curve[i - 1].step}`,
      );
    }
  }
  if (curve[0].auc >= target) return curve[0].step;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1], b = curve[i];
    if (b.auc >= target) return a.step + (target - a.auc) / (b.auc - a.auc) * (b.step - a.step);
  }
  return null;
}

/**
 * {@linkcode stepsToReach} of a curve as a run logs it: points with a non-finite step or AUC are dropped,
 * a step logged twice (a resumed run) keeps its last AUC, and the points are sorted by step; `null` when
 * no point is left or the target is never reached.
 *
 * @example
 * ```ts
 * import { loggedStepsToReach } from "./summary.ts";
 * const log = [{ step: 200, auc: 0.6 }, { step: 100, auc: 0.5 }, { step: 200, auc: 0.75 }];
 * if (loggedStepsToReach(log, 0.625) !== 150) throw new Error("wrong");
 * ```
 */
export function loggedStepsToReach(points: readonly CurvePoint[], target: number): number | null {
  const curve = [
    ...new Map(
      points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.auc)).map((p) => [p.step, p]),
    ).values(),
  ].sort((a, b) => a.step - b.step);
  return curve.length ? stepsToReach(curve, target) : null;
}
