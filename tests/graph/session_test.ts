import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/graph.ts";
import { createDownloader, createSession, feedTensor, ort } from "../../lib/graph/session.ts";
import { Rng } from "../../lib/util/random.ts";
import { gpuTest } from "../gpu/webgpu.ts";

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

// Conv + Relu, then an output kept on the device and fed back as the next run's input (the resident
// training state's pattern) for several runs, downloaded by a Neg(Neg(x)) session: equal to the CPU's.
Deno.test(
  gpuTest("webgpu: a conv graph and a device-resident feedback loop equal the CPU provider", async () => {
    const g = new Graph("loop");
    const x = g.input("x", "float32", [2, 3, 8, 8]), w = g.input("w", "float32", [4, 3, 3, 3]);
    const y = g.op.Relu(g.op.Conv(x, w, undefined, { pads: [1, 1, 1, 1] }));
    g.output(g.op.ReduceMean(y, { keepdims: 0 }), "loss");
    // w ← w − 0.01·mean(y)·w: a state update that depends on the run
    g.output(
      g.op.Sub(w, g.op.Mul(w, g.op.Mul(g.op.ReduceMean(y, { keepdims: 0 }), g.constant(0.01)))),
      "w_new",
    );
    const bytes = g.toBytes();
    const rng = new Rng(4);
    const xs = Float32Array.from({ length: 2 * 3 * 8 * 8 }, () => rng.normal());
    const w0 = Float32Array.from({ length: 4 * 27 }, () => rng.normal() * 0.3);
    const cpu = await createSession(bytes, { threads: 1 });
    const gpu = await createSession(bytes, {
      device: "webgpu",
      outputLocation: { loss: "cpu", w_new: "gpu-buffer" },
    });
    const down = await createDownloader([{ name: "w", shape: [4, 3, 3, 3] }]);
    try {
      let wc: Float32Array = w0, wg: ort.Tensor = new ort.Tensor("float32", w0, [4, 3, 3, 3]);
      const xt = new ort.Tensor("float32", xs, [2, 3, 8, 8]);
      for (let i = 0; i < 4; i++) {
        const a = await cpu.run({ x: xt, w: new ort.Tensor("float32", wc, [4, 3, 3, 3]) });
        const b = await gpu.run({ x: xt, w: wg });
        assert.equal(b.w_new.location, "gpu-buffer");
        const la = (a.loss.data as Float32Array)[0], lb = (b.loss.data as Float32Array)[0];
        assert.ok(Math.abs(la - lb) <= 1e-5 * Math.abs(la), `run ${i}: loss ${lb} vs ${la}`);
        if (wg.location === "gpu-buffer") wg.dispose();
        wc = a.w_new.data as Float32Array;
        wg = b.w_new;
      }
      const got = (await down.run({ w: wg })).get("w")!;
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - wc[i]) <= 1e-5, `w[${i}]`);
      // the resident tensor stays usable after the download
      assert.equal((await down.run({ w: wg })).get("w")![0], got[0]);
      wg.dispose();
    } finally {
      await cpu.release();
      await gpu.release();
      await down.release();
    }
  }),
);

Deno.test("gpu-buffer outputs are refused off webgpu, by name", async () => {
  await assert.rejects(
    () => createSession(tiny(), { device: "cpu", outputLocation: "gpu-buffer" }),
    /Output location 'gpu-buffer' needs device webgpu, got 'cpu'/,
  );
  await assert.rejects(
    () => createSession(tiny(), { outputLocation: { y: "gpu" as "cpu" } }),
    /Output location must be cpu or gpu-buffer, got 'gpu'/,
  );
});
