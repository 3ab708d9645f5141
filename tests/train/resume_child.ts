// A small resumable run for resume_test.ts: `deno run ... resume_child.ts DIR EPOCHS`.
import { runTraining, type TrainBatch } from "../../lib/train/mod.ts";
import { randomInit } from "../../lib/models/init.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import { Rng } from "../../lib/util/random.ts";
import type { Value } from "../../lib/graph/mod.ts";

const SIZE = 16, BATCH = 8, STEPS = 4;

function* batches(seed: string, count: number): Generator<TrainBatch> {
  const rng = new Rng(seed);
  for (let s = 0; s < count; s++) {
    const y = Int32Array.from({ length: BATCH }, (_, i) => (i + s) % 5);
    // the grade shows as brightness, so the net has something to learn
    const x = Float32Array.from({ length: BATCH * 3 * SIZE * SIZE }, (_, j) => {
      const img = Math.floor(j / (3 * SIZE * SIZE));
      return rng.normal() * 0.5 + y[img] * 0.3;
    });
    yield { x, y, n: BATCH };
  }
}

/** `poisonEpoch`: that epoch's images are NaN, as a corrupt input would make them. */
export async function run(dir: string, epochs: number, poisonEpoch?: number) {
  const def = getModel("cbr-small");
  const spec = paramSpecs("cbr-small", { classes: 5, inputSize: SIZE });
  return await runTraining({
    dir,
    model: (net, x) => def.build(net, x, { classes: 5 }) as { logits: Value },
    init: () => Promise.resolve(randomInit(spec, 1)),
    epochs,
    batch: BATCH,
    size: SIZE,
    lr: 1e-3,
    seed: 1,
    threads: 1,
    trainBatches: async function* (epoch) {
      for (const b of batches(`train:${epoch}`, STEPS)) {
        if (epoch === poisonEpoch) b.x.fill(NaN);
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
