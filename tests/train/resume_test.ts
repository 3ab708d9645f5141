// A run killed with SIGKILL and resumed ends with exactly the weights of an uninterrupted run; a finished
// run is skipped on rerun; a run directory never holds a half-written checkpoint.
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../lib/util/fs.ts";
import { killAfterFirstCheckpoint } from "./kill_child.ts";
import { run } from "./resume_child.ts";
import { assertSameElements } from "../compare.ts";

const EPOCHS = 4;

Deno.test("train: SIGKILL mid-run, resume, identical final weights", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = join(root, "whole"), killed = join(root, "killed");
    const a = await run(whole, EPOCHS);
    assert.equal(a.metrics.length, EPOCHS);

    await killAfterFirstCheckpoint(new URL("./resume_child.ts", import.meta.url), killed, EPOCHS, 60000);
    // the kill may land inside an atomic write (metrics.csv follows the checkpoint at once) and leave its
    // temp file: the real files stay whole, and the resumed run removes the leftover
    const b = await run(killed, EPOCHS);
    assert.ok(b.resumedFrom !== undefined && b.resumedFrom >= 1, "the rerun did not resume");
    for await (const e of Deno.readDir(killed)) assert.ok(!e.name.endsWith(".tmp"), `left ${e.name}`);
    const wa = await Deno.readFile(join(whole, "weights.safetensors"));
    const wb = await Deno.readFile(join(killed, "weights.safetensors"));
    assertSameElements(wb, wa, "resumed weights.safetensors against the uninterrupted run's");
    assert.deepEqual(b.metrics.map((m) => m.testAucMacro), a.metrics.map((m) => m.testAucMacro));

    // a finished run reruns as a no-op, returning its summary
    const t1 = performance.now();
    const c = await run(whole, EPOCHS);
    assert.ok(performance.now() - t1 < 1000);
    assert.deepEqual(c.final, a.final);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: a NaN loss stops the run with a clear error and leaves the last checkpoint intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = join(dir, "checkpoint.safetensors");
    let before: Uint8Array | undefined;
    await assert.rejects(
      run(dir, 3, 2, { atEpoch: async (e) => void (e === 2 && (before = await Deno.readFile(ckpt))) }),
      /Loss is NaN at step 5: training stopped, the last checkpoint is intact/,
    );
    assert.ok(before, "epoch 1 wrote a checkpoint");
    assertSameElements(await Deno.readFile(ckpt), before, "the checkpoint's bytes");
    assert.ok(!(await exists(join(dir, "done.json"))));
    // the epoch-1 checkpoint still resumes: the same run without the bad input finishes from it
    const s = await run(dir, 3);
    assert.equal(s.resumedFrom, 1);
    assert.equal(s.metrics.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: a NaN gradient under a finite loss stops the run before the update", async () => {
  // epoch 2's last batch (step 8) gives NaN gradients but a finite loss; unchecked, Adam would write NaN
  // into the weights and the end of epoch 2 into the checkpoint
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = join(dir, "checkpoint.safetensors");
    let before: Uint8Array | undefined;
    await assert.rejects(
      run(dir, 3, 2, {
        kind: "zero-last",
        atEpoch: async (e) => void (e === 2 && (before = await Deno.readFile(ckpt))),
      }),
      /^NonFiniteGradientError: Gradient of \S+ is NaN at step 8: training stopped before the update/,
    );
    assert.ok(before, "epoch 1 wrote a checkpoint");
    assertSameElements(await Deno.readFile(ckpt), before, "the checkpoint's bytes");
    assert.ok(!(await exists(join(dir, "done.json"))));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: an infinite loss stops the run as a NaN one does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = join(dir, "checkpoint.safetensors");
    let before: Uint8Array | undefined;
    await assert.rejects(
      run(dir, 3, 2, {
        kind: "inf-loss",
        atEpoch: async (e) => void (e === 2 && (before = await Deno.readFile(ckpt))),
      }),
      /Loss is Infinity at step 8: training stopped, the last checkpoint is intact/,
    );
    assertSameElements(await Deno.readFile(ckpt), before, "the checkpoint's bytes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
