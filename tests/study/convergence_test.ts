// Convergence speed (issue 26): the target is chosen on val, never on test, and the steps are counted on the
// val curves; run folders from before mid-epoch val scoring (val only at epoch ends) and runs without a val
// split still get a rule; a run that never reaches the target is null, and so is its ratio to random.
import assert from "node:assert/strict";
import { convergenceRule, speedRatio, stepsUnder } from "../../lib/study/convergence.ts";
import type { EpochRow } from "../../lib/study/results.ts";

/** Rows every 10 steps: the test curve given, the val curve given or absent (undefined). */
function rows(test: number[], val: (number | undefined)[]): EpochRow[] {
  return test.map((t, i) => ({
    epoch: (i + 1) / 2,
    step: 10 * (i + 1),
    trainLoss: 1,
    testAucReferable: t,
    testAucMacro: t - 0.05,
    testKappa: 0,
    imagesPerSec: 1,
    wallSec: i,
    ...(val[i] === undefined ? {} : { valAucReferable: val[i]! + 0.05, valAucMacro: val[i]!, valKappa: 0 }),
  }));
}

Deno.test("convergence: the target is a fraction of random's best val macro AUC, counted on val curves", () => {
  // test curves that would reach any target at once, so a rule reading test would give 10 steps
  const test = [0.99, 0.99, 0.99, 0.99];
  const runs = [
    { init: "random", seed: 0, rows: rows(test, [0.6, 0.7, 0.8, 0.7]) },
    { init: "random", seed: 1, rows: rows(test, [0.6, 0.6, 0.7, 0.9]) },
    { init: "transfer", seed: 0, rows: rows(test, [0.76, 0.8, 0.8, 0.8]) },
    { init: "transfer", seed: 1, rows: rows(test, [0.6, 0.6, 0.6, 0.7]) },
  ];
  const rule = convergenceRule("m", runs, 0.75, 0.9);
  // random's best val AUCs 0.8 and 0.9: mean 0.85, target 0.5 + 0.9 × 0.35
  assert.deepEqual({ ...rule, target: undefined, randomBest: rule.randomBest!.mean.toFixed(6) }, {
    model: "m",
    split: "val",
    metric: "macro",
    rule: "random-best",
    fraction: 0.9,
    randomBest: "0.850000",
    target: undefined,
    steps: 40,
    evaluations: 4,
  });
  assert.ok(Math.abs(rule.target - 0.815) < 1e-12);
  const steps = runs.map((r) => stepsUnder(rule, r.rows));
  // random s0 peaks at 0.8 < 0.815: never; s1 crosses between 30 (0.7) and 40 (0.9); transfer s0 between 10
  // and 20 (0.76 → 0.8 stays below): never; transfer s1 never
  assert.equal(steps[0], null);
  assert.ok(Math.abs(steps[1]! - (30 + (0.815 - 0.7) / 0.2 * 10)) < 1e-9);
  assert.deepEqual([steps[2], steps[3]], [null, null]);
  const ratio = speedRatio([0, 1], [20, 15], new Map([[0, steps[0]], [1, steps[1]]]));
  assert.equal(ratio.perSeed[0], null, "random never reached it in seed 0: no ratio");
  assert.ok(Math.abs(ratio.perSeed[1]! - 15 / steps[1]!) < 1e-12);
  assert.equal(ratio.ratio.n, 1);
});

Deno.test("convergence: folders without mid-epoch val rows, and runs without a val split, still analyse", () => {
  // an older folder: mid-epoch rows scored test only, epoch ends val too
  const old = [
    { init: "random", seed: 0, rows: rows([0.6, 0.7, 0.8, 0.9], [undefined, 0.7, undefined, 0.8]) },
    { init: "transfer", seed: 0, rows: rows([0.6, 0.7, 0.8, 0.9], [undefined, 0.8, undefined, 0.8]) },
  ];
  const rule = convergenceRule("m", old, 0.75, 0.5);
  assert.deepEqual([rule.split, rule.evaluations], ["val", 2]);
  assert.ok(Math.abs(rule.target - 0.65) < 1e-12);
  // the first val evaluation (step 20) already passes: that step, an upper bound
  assert.deepEqual(old.map((r) => stepsUnder(rule, r.rows)), [20, 20]);

  // no val split (Kaggle, synthetic): the fixed target on the test referable-AUC curve, as before
  const noVal = [{ init: "random", seed: 0, rows: rows([0.6, 0.7, 0.8, 0.9], [undefined, undefined]) }];
  const fixed = convergenceRule("m", noVal, 0.75, 0.9);
  assert.deepEqual(
    { split: fixed.split, metric: fixed.metric, rule: fixed.rule, target: fixed.target },
    { split: "test", metric: "referable", rule: "fixed", target: 0.75 },
  );
  assert.equal(stepsUnder(fixed, noVal[0].rows), 25);
  // a val split but no random-init runs to set the target: the fixed one too
  assert.equal(convergenceRule("m", [old[1]], 0.75, 0.9).rule, "fixed");
});
