// What a kill at a bad moment leaves in a run folder is repaired by the rerun (issue 11, items 4 and 5):
// a death between the last checkpoint and its metrics.csv row, a truncated checkpoint, the temp files of a
// write cut short, and a run folder that another live process is writing.
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { exists } from "../../lib/util/fs.ts";
import { acquireLock } from "../../lib/util/lock.ts";
import { run } from "./resume_child.ts";
import { decodeSafetensors, encodeSafetensors, safetensorsMetadata } from "../../lib/weights/safetensors.ts";

/** Runs `body` with console.error captured; returns the lines. */
async function stderrOf(body: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await body();
  } finally {
    console.error = orig;
  }
  return lines;
}

const rows = async (dir: string) => (await Deno.readTextFile(join(dir, "metrics.csv"))).trim().split("\n");

Deno.test("train: a death between the last checkpoint and its metrics row is repaired by the rerun", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await run(dir, 2);
    // done.json names its folder relatively (a copied study folder stays whole); the summary has the path
    assert.equal(JSON.parse(await Deno.readTextFile(join(dir, "done.json"))).dir, basename(dir));
    assert.equal(a.dir, dir);
    const full = await rows(dir);
    assert.equal(full.length, 3);
    // the state such a death leaves: the epoch-2 checkpoint, metrics.csv with epoch 1 only, no done.json
    await Deno.remove(join(dir, "done.json"));
    await Deno.writeTextFile(join(dir, "metrics.csv"), full.slice(0, 2).join("\n") + "\n");
    const b = await run(dir, 2);
    assert.equal(b.resumedFrom, 2);
    assert.deepEqual(await rows(dir), full, "metrics.csv still lacks the last epoch");
    assert.deepEqual(b.final, a.final);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: a truncated checkpoint is set aside and the run restarts from scratch, saying so", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = join(root, "whole"), dir = join(root, "cut");
    await run(whole, 2);
    // one epoch, then the checkpoint cut in half (a disk that lost the tail) and a kill mid-write's temp file
    await run(dir, 1);
    await Deno.remove(join(dir, "done.json"));
    const ckpt = join(dir, "checkpoint.safetensors");
    const bytes = await Deno.readFile(ckpt);
    await Deno.writeFile(ckpt, bytes.subarray(0, bytes.length >> 1));
    await Deno.writeFile(join(dir, `weights.safetensors.${Deno.pid}.7.tmp`), bytes.subarray(0, 100));

    let s: Awaited<ReturnType<typeof run>> | undefined;
    const lines = await stderrOf(async () => s = await run(dir, 2));
    assert.ok(
      lines.some((l) => /removed 1 temp file\(s\) left by an interrupted write/.test(l)),
      lines.join("\n"),
    );
    const said = lines.filter((l) => /is damaged/.test(l));
    assert.equal(said.length, 1, lines.join("\n"));
    assert.match(
      said[0],
      /^Checkpoint \S+checkpoint\.safetensors is damaged: .*; moved to checkpoint\.safetensors\.damaged, restarting cut from scratch$/,
    );
    assert.ok(await exists(`${ckpt}.damaged`));
    assert.equal(s!.resumedFrom, undefined);
    // from scratch means exactly the uninterrupted run
    assert.deepEqual(
      await Deno.readFile(join(dir, "weights.safetensors")),
      await Deno.readFile(join(whole, "weights.safetensors")),
    );
    for await (const e of Deno.readDir(dir)) assert.ok(!e.name.endsWith(".tmp"), `left ${e.name}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: a run folder that a live process is writing is refused with one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await acquireLock(dir);
    await assert.rejects(run(dir, 1), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`^${dir} is being written by PID ${Deno.pid} on \\S+ since \\d{4}-`),
      );
      return true;
    });
    await lock.release();
    assert.ok(!(await exists(join(dir, "checkpoint.safetensors"))), "the refused run wrote a checkpoint");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: a checkpoint holding NaN is named as damaged and set aside, not blamed on the learning rate", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = join(root, "whole"), dir = join(root, "nan");
    await run(whole, 2);
    await run(dir, 1);
    await Deno.remove(join(dir, "done.json"));
    // a weight turned NaN on disk: resumed from it, every rerun stopped at step 1 with "try a lower --lr"
    const ckpt = join(dir, "checkpoint.safetensors");
    const bytes = await Deno.readFile(ckpt);
    const tensors = decodeSafetensors(bytes);
    const name = [...tensors.keys()].find((k) => k.endsWith("conv.weight"))!;
    (tensors.get(name)!.data as Float32Array)[5] = NaN;
    await Deno.writeFile(ckpt, encodeSafetensors(tensors, safetensorsMetadata(bytes)));

    const lines = await stderrOf(() => run(dir, 2));
    const said = lines.filter((l) => /is damaged/.test(l));
    assert.equal(said.length, 1, lines.join("\n"));
    assert.equal(
      said[0],
      `Checkpoint ${ckpt} is damaged: tensor ${name} holds NaN (1 of its ${
        tensors.get(name)!.data.length
      } values are not finite); moved to checkpoint.safetensors.damaged, restarting nan from scratch`,
    );
    assert.deepEqual(
      await Deno.readFile(join(dir, "weights.safetensors")),
      await Deno.readFile(join(whole, "weights.safetensors")),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
