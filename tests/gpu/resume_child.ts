// A small resumable run on webgpu for resume_test.ts: `deno run ... resume_child.ts DIR EPOCHS`.
import { runTraining } from "../../lib/train/mod.ts";
import { randomInit } from "../../lib/models/init.ts";
import { Graph } from "../../lib/graph/graph.ts";
import { GraphNet } from "../../lib/train/graph_net.ts";
import { resNet } from "../train/parity_nets.ts";
import { gradeBatches } from "../train/grade_batches.ts";

const SIZE = 16, BATCH = 4, STEPS = 4;

const batches = (seed: string, count: number) => gradeBatches(seed, count, BATCH, SIZE);

/** The run's initial weights. */
export function initialState() {
  const g = new Graph("specs");
  const net = new GraphNet(g, { mode: "train" });
  resNet(net, g.input("x", "float32", [BATCH, 3, SIZE, SIZE]));
  return randomInit(net.specs, 1);
}

/** One webgpu run of the small residual net in `dir` (resumed if it has a checkpoint). */
export async function run(dir: string, epochs: number) {
  return await runTraining({
    dir,
    model: resNet,
    init: () => Promise.resolve(initialState()),
    epochs,
    batch: BATCH,
    size: SIZE,
    lr: 1e-2,
    seed: 1,
    threads: 1,
    device: "webgpu",
    trainBatches: async function* (epoch) {
      yield* batches(`train:${epoch}`, STEPS);
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
