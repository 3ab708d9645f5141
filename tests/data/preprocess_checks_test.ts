import assert from "node:assert/strict";
import { preprocessDataset } from "../../lib/data/preprocess.ts";
import { synthFundus } from "../../lib/data/synth.ts";
import { countLine } from "../../lib/util/progress.ts";

Deno.test("preprocess progress: skipped photos are counted as skipped, not as done", async () => {
  const dir = await Deno.makeTempDir();
  await synthFundus({ out: `${dir}/data`, count: 4, seed: 3, width: 96, gradeWeights: [1, 1, 1, 1, 1] });
  await Deno.writeTextFile(`${dir}/data/1_left.jpeg`, "not a jpeg");
  const calls: [number, number, number][] = [];
  const r = await preprocessDataset({
    data: `${dir}/data`,
    out: `${dir}/cache`,
    size: 16,
    workers: 0,
    onProgress: (done, total, skipped) => calls.push([done, total, skipped]),
  });
  assert.equal(r.skipped.length, 1);
  assert.equal(calls.length, 4);
  assert.deepEqual(calls.at(-1), [3, 4, 1]);
  // done never counts a skipped photo
  for (const [done, , skipped] of calls) assert.ok(done + skipped <= 4);
  assert.equal(countLine("preprocess", 7, 8, 1, "images"), "preprocess: 7/8 images done, 1 skipped");
  assert.equal(countLine("preprocess", 3, 8, 0, "images"), "preprocess: 3/8 images done");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess: a test fraction outside (0, 1) is refused before any photo is decoded", async () => {
  const dir = await Deno.makeTempDir();
  await synthFundus({ out: `${dir}/data`, count: 2, seed: 3, width: 96 });
  for (const testFraction of [0, 1, -0.5, NaN]) {
    let calls = 0;
    await assert.rejects(
      () =>
        preprocessDataset({
          data: `${dir}/data`,
          out: `${dir}/cache`,
          size: 16,
          workers: 0,
          testFraction,
          onProgress: () => calls++,
        }),
      /Test fraction must lie in \(0, 1\), got/,
    );
    assert.equal(calls, 0);
    await assert.rejects(() => Deno.stat(`${dir}/cache`), Deno.errors.NotFound);
  }
  await Deno.remove(dir, { recursive: true });
});
