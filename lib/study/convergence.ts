/**
 * Convergence speed, Raghu et al.'s "how much faster does transfer train": training steps until a run's
 * held-out AUC first reaches a target, and each init's steps against random init's. The target is chosen on
 * the model-selection split when the runs have one (MedMNIST's val), never on test: a fraction of the way
 * from chance (0.5) to the best val macro AUC that random init reaches, and the steps are counted on the val
 * curves. Without a val split the study's fixed `aucTarget` is counted on the test referable-AUC curves.
 * @module
 */
import { finiteMeanStd, loggedStepsToReach } from "../stats/summary.ts";
import type { ConvergenceRule, EpochRow, SpeedRatio } from "./results.ts";

/** A run's held-out curve as the rule reads it: (step, AUC) of the split and metric named. */
export function curveOf(
  rows: readonly EpochRow[],
  split: "val" | "test",
  metric: "macro" | "referable",
): { step: number; auc: number }[] {
  const field = split === "val"
    ? metric === "macro" ? "valAucMacro" : "valAucReferable"
    : metric === "macro"
    ? "testAucMacro"
    : "testAucReferable";
  return rows.flatMap((r) => r[field] === undefined ? [] : [{ step: r.step, auc: r[field]! }]);
}

/** One run of a model as the rule needs it. */
export interface ConvergenceRun {
  /** the run's init, e.g. "random" */
  init: string;
  /** the run's seed */
  seed: number;
  /** its evaluations in training order */
  rows: readonly EpochRow[];
}

/**
 * The rule for one model's runs: with val scores in every run and random-init runs among them, the target
 * is `fraction` of the way from 0.5 to random's mean best val macro AUC, counted on the val curves; else
 * `aucTarget` on the test referable-AUC curves.
 *
 * @example
 * ```ts
 * import { convergenceRule } from "./convergence.ts";
 * const row = (step: number, v: number) => ({
 *   epoch: step / 10, step, trainLoss: 1, testAucReferable: 0.7, testAucMacro: 0.7, testKappa: 0,
 *   imagesPerSec: 1, wallSec: 1, valAucMacro: v,
 * });
 * const r = convergenceRule("m", [{ init: "random", seed: 0, rows: [row(10, 0.6), row(20, 0.7)] }], 0.8, 0.9);
 * if (r.split !== "val" || Math.abs(r.target - 0.68) > 1e-12) throw new Error("wrong");
 * ```
 */
export function convergenceRule(
  model: string,
  runs: readonly ConvergenceRun[],
  aucTarget: number,
  fraction: number,
): ConvergenceRule {
  const steps = Math.max(0, ...runs.flatMap((r) => r.rows.map((x) => x.step)));
  const random = runs.filter((r) => r.init === "random");
  const withVal = runs.length > 0 && runs.every((r) => curveOf(r.rows, "val", "macro").length > 0);
  const evaluations = (split: "val" | "test", metric: "macro" | "referable") =>
    runs.length
      ? Math.min(...runs.map((r) => new Set(curveOf(r.rows, split, metric).map((p) => p.step)).size))
      : 0;
  if (withVal && random.length > 0) {
    const randomBest = finiteMeanStd(
      random.map((r) => Math.max(...curveOf(r.rows, "val", "macro").map((p) => p.auc))),
    );
    return {
      model,
      split: "val",
      metric: "macro",
      rule: "random-best",
      fraction,
      randomBest,
      target: 0.5 + fraction * (randomBest.mean - 0.5),
      steps,
      evaluations: evaluations("val", "macro"),
    };
  }
  return {
    model,
    split: "test",
    metric: "referable",
    rule: "fixed",
    target: aucTarget,
    steps,
    evaluations: evaluations("test", "referable"),
  };
}

/** Steps until the run's curve under `rule` first reaches its target (interpolated); null if never. */
export function stepsUnder(rule: ConvergenceRule, rows: readonly EpochRow[]): number | null {
  return loggedStepsToReach(curveOf(rows, rule.split, rule.metric), rule.target);
}

/**
 * Each seed's steps ÷ random init's steps of the same seed (same data order), and their mean ± sd over the
 * seeds where both reached the target.
 *
 * @example
 * ```ts
 * import { speedRatio } from "./convergence.ts";
 * const r = speedRatio([0, 1, 2], [10, null, 30], new Map([[0, 20], [1, 20], [2, 30]]));
 * if (r.perSeed[1] !== null || r.ratio.n !== 2 || r.ratio.mean !== 0.75) throw new Error("wrong");
 * ```
 */
export function speedRatio(
  seeds: readonly number[],
  steps: readonly (number | null)[],
  random: ReadonlyMap<number, number | null>,
): SpeedRatio {
  const perSeed = seeds.map((seed, i) => {
    const s = steps[i], r = random.get(seed);
    return s === null || r === null || r === undefined || !(r > 0) ? null : s / r;
  });
  return { perSeed, ratio: finiteMeanStd(perSeed.map((x) => x ?? NaN)) };
}
