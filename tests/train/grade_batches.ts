// Synthetic training batches whose grade shows as brightness, so a small net has something to learn:
// deterministic by seed, `count` batches of `batch` images of 3×size×size.
import type { TrainBatch } from "../../lib/train/mod.ts";
import { Rng } from "../../lib/util/random.ts";

/** `count` seeded batches; image i of batch s has grade (i + s) mod 5. */
export function* gradeBatches(
  seed: string,
  count: number,
  batch: number,
  size: number,
): Generator<TrainBatch> {
  const rng = new Rng(seed);
  for (let s = 0; s < count; s++) {
    const y = Int32Array.from({ length: batch }, (_, i) => (i + s) % 5);
    const x = Float32Array.from({ length: batch * 3 * size * size }, (_, j) => {
      const img = Math.floor(j / (3 * size * size));
      return rng.normal() * 0.5 + y[img] * 0.3;
    });
    yield { x, y, n: batch };
  }
}
