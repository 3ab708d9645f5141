// Runs a resume child (a script taking `DIR EPOCHS`) and kills it with SIGKILL as soon as its first
// checkpoint is on disk (it is then somewhere in epoch 2): what a preempted job or a power cut leaves.
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../lib/util/fs.ts";

/** Starts `child` on `dir`, kills it after its first checkpoint, and checks that it had not finished. */
export async function killAfterFirstCheckpoint(child: URL, dir: string, epochs: number, timeoutMs: number) {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      child.pathname,
      dir,
      String(epochs),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const ckpt = join(dir, "checkpoint.safetensors");
  const t0 = Date.now();
  while (!(await exists(ckpt)) && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 10));
  proc.kill("SIGKILL");
  await proc.status;
  assert.ok(await exists(ckpt), `the child wrote no checkpoint within ${timeoutMs / 1000} s`);
  assert.ok(!(await exists(join(dir, "done.json"))), "the child finished before it was killed");
}
