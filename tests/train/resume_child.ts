// A small resumable run for resume_test.ts: `deno run ... resume_child.ts DIR EPOCHS`.
import { runTraining } from "../../lib/train/mod.ts";
import { randomInit } from "../../lib/models/init.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import type { Value } from "../../lib/graph/mod.ts";
import type { GraphNet } from "../../lib/train/graph_net.ts";
import { gradeBatches } from "./grade_batches.ts";

const SIZE = 16, BATCH = 8, STEPS = 4;

const batches = (seed: string, count: number) => gradeBatches(seed, count, BATCH, SIZE);

/** How {@linkcode run} spoils its `poisonEpoch`. */
export interface Poison {
  /**
   * "nan": every image of the epoch is NaN (a corrupt input: the loss is NaN); "zero-last": the epoch's last
   * batch is all zeros, which makes the gradients NaN under a finite loss (see `nanGradTerm`); "inf-loss":
   * the same zeros make class 0's logit −Infinity, so the loss is +Infinity (see `infLossTerm`)
   */
  kind?: "nan" | "zero-last" | "inf-loss";
  /** called before each epoch's first batch (e.g. to copy the checkpoint as it stands) */
  atEpoch?: (epoch: number) => Promise<void>;
}

/**
 * Adds `0 · √(mean(x)² · Σlogits²)` to the logits: zero in the forward pass, a zero gradient while the batch's
 * mean is not 0, and 0/0 = NaN through the square root (into every parameter) when the batch is all zeros.
 */
function nanGradTerm(net: GraphNet, x: Value, logits: Value): Value {
  const op = net.g.op;
  const m = op.ReduceMean(x, { keepdims: 0 }), s = op.ReduceSum(logits, undefined, { keepdims: 0 });
  const a = op.Mul(op.Mul(m, m), op.Mul(s, s));
  return op.Add(logits, op.Mul(net.g.constant(0, "float32", []), op.Sqrt(a)));
}

/** Adds `log(mean(x)² + [0, 1, 1, 1, 1])` to the logits: class 0's logit is −Infinity for an all-zero batch. */
function infLossTerm(net: GraphNet, x: Value, logits: Value): Value {
  const op = net.g.op;
  const m = op.ReduceMean(x, { keepdims: 0 });
  return op.Add(logits, op.Log(op.Add(op.Mul(m, m), net.g.constant([0, 1, 1, 1, 1], "float32", [5]))));
}

/** `poisonEpoch`: that epoch is spoilt as `poison.kind` says (default: NaN images). */
export async function run(dir: string, epochs: number, poisonEpoch?: number, poison: Poison = {}) {
  const def = getModel("cbr-small");
  const spec = paramSpecs("cbr-small", { classes: 5, inputSize: SIZE });
  return await runTraining({
    dir,
    model: (net, x) => {
      const { logits } = def.build(net, x, { classes: 5 }) as { logits: Value };
      const term = poison.kind === "zero-last"
        ? nanGradTerm
        : poison.kind === "inf-loss"
        ? infLossTerm
        : null;
      return { logits: term ? term(net as GraphNet, x, logits) : logits };
    },
    init: () => Promise.resolve(randomInit(spec, 1)),
    epochs,
    batch: BATCH,
    size: SIZE,
    lr: 1e-3,
    seed: 1,
    threads: 1,
    trainBatches: async function* (epoch) {
      await poison.atEpoch?.(epoch);
      let k = 0;
      for (const b of batches(`train:${epoch}`, STEPS)) {
        k++;
        if (epoch === poisonEpoch && (poison.kind ?? "nan") === "nan") b.x.fill(NaN);
        if (epoch === poisonEpoch && poison.kind !== undefined && poison.kind !== "nan" && k === STEPS) {
          b.x.fill(0);
        }
        yield b;
      }
    },
    stepsPerEpoch: STEPS,
    testBatches: async function* () {
      yield* batches("test", 2);
    },
    probeBatches: async function* () {
      yield* batches("test", 1);
    },
  });
}

if (import.meta.main) await run(Deno.args[0], Number(Deno.args[1]));
