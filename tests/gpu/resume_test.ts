// On webgpu, with the state resident on the device, a run killed with SIGKILL after its first checkpoint
// resumes (uploading the checkpoint's weights and Adam moments) to exactly the weights of an uninterrupted
// webgpu run.
import assert from "node:assert/strict";
import { join } from "node:path";
import { killAfterFirstCheckpoint } from "../train/kill_child.ts";
import { decodeSafetensors } from "../../lib/weights/safetensors.ts";
import { initialState, run } from "./resume_child.ts";
import { gpuTest } from "./webgpu.ts";
import { assertSameElements } from "../compare.ts";

const EPOCHS = 5;

Deno.test(gpuTest("webgpu: SIGKILL mid-run, resume, identical final weights", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = join(root, "whole"), killed = join(root, "killed");
    const a = await run(whole, EPOCHS);
    assert.equal(a.metrics.length, EPOCHS);

    await killAfterFirstCheckpoint(new URL("./resume_child.ts", import.meta.url), killed, EPOCHS, 120000);

    const b = await run(killed, EPOCHS);
    assert.ok(b.resumedFrom !== undefined && b.resumedFrom >= 1, "the rerun did not resume");
    const wa = await Deno.readFile(join(whole, "weights.safetensors"));
    const wb = await Deno.readFile(join(killed, "weights.safetensors"));
    assertSameElements(wb, wa, "resumed weights.safetensors against the uninterrupted run's");
    // the weights file holds the trained (synced) weights, not the initial host copy
    const init = initialState().get("fc.weight")!.data as Float32Array;
    const trained = decodeSafetensors(wa, "weights").get("fc.weight")!.data as Float32Array;
    assert.ok(
      trained.some((w, i) => Math.abs(w - init[i]) > 1e-3),
      "the weights file holds the initial weights",
    );
    assert.deepEqual(b.metrics.map((m) => m.testAucMacro), a.metrics.map((m) => m.testAucMacro));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}));
