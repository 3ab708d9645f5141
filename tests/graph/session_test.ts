import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/graph.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";

function tiny(): Uint8Array {
  const g = new Graph();
  g.output(g.op.Relu(g.input("x", "float32", [4])), "y");
  return g.toBytes();
}

Deno.test("cpu session runs a model", async () => {
  const s = await createSession(tiny(), { device: "cpu", threads: 1 });
  const x = new Graph().input("x", "float32", [4]);
  const out = await s.run({ x: feedTensor(x, Float32Array.from([-1, 2, -3, 4])) });
  assert.deepEqual(Array.from(out.y.data as Float32Array), [0, 2, 0, 4]);
  await s.release();
});

Deno.test("bad options are rejected by name", async () => {
  await assert.rejects(
    () => createSession(tiny(), { device: "tpu" as "cpu" }),
    /Device must be cpu, webgpu or cuda, got 'tpu'/,
  );
  await assert.rejects(
    () => createSession(tiny(), { threads: 0 }),
    /Threads must be a positive integer, got 0/,
  );
  const x = new Graph().input("x", "float32", [4]);
  assert.throws(
    () => feedTensor(x, new Float32Array(3)),
    /Feed 'x': data has 3 elements but shape \[4\] needs 4/,
  );
});

// On a machine without the provider, the error must say what is missing; where it exists, it must run.
Deno.test("cuda: runs, or says which libraries are missing and how to install them", async () => {
  try {
    const s = await createSession(tiny(), { device: "cuda" });
    await s.release();
  } catch (e) {
    const msg = (e as Error).message;
    assert.match(msg, /^CUDA provider/);
    assert.match(msg, /libonnxruntime_providers_cuda|libraries|not available/);
    if (/missing/.test(msg)) assert.match(msg, /deno install --allow-scripts=npm:onnxruntime-node@1\.30\.0/);
    assert.ok(!msg.includes("\n"), "one line");
  }
});

Deno.test("webgpu: runs, or says that a GPU adapter (Vulkan driver) is missing", async () => {
  try {
    const s = await createSession(tiny(), { device: "webgpu" });
    await s.release();
  } catch (e) {
    const msg = (e as Error).message;
    assert.match(msg, /WebGPU provider has no GPU adapter .* Vulkan driver/);
    assert.ok(!msg.includes("\n"), "one line");
  }
});
