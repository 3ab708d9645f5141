// `export` and the standalone inference model: the training engine's eval-mode graph with the weights
// embedded and a symbolic batch axis, so any onnxruntime runs it on any batch size.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as ort from "npm:onnxruntime-node@1.30.0";
import onnxProto from "npm:onnx-proto@8.0.1";
import { Graph } from "../../lib/graph/graph.ts";
import { serializeGraph } from "../../lib/graph/serialize.ts";
import { randomInit } from "../../lib/models/init.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { exportRun, predictLogits } from "../../lib/train/predict.ts";
import { writeJsonAtomic } from "../../lib/util/fs.ts";
import { writeSafetensors } from "../../lib/weights/safetensors.ts";
import { image } from "./golden_fill.ts";
import { run } from "../train/resume_child.ts";

const { onnx } = onnxProto;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function graphOf(bytes: Uint8Array): onnxProto.onnx.GraphProto {
  return onnx.ModelProto.decode(bytes).graph as onnxProto.onnx.GraphProto;
}

/** The declared dims of a graph input or output: numbers, or the symbolic name. */
function dims(v: onnxProto.onnx.IValueInfoProto): (number | string)[] {
  return (v.type!.tensorType!.shape!.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
}

async function logitsOf(sess: ort.InferenceSession, x: Float32Array, n: number, size: number) {
  const out = await sess.run({ input: new ort.Tensor("float32", x, [n, 3, size, size]) });
  return out.logits.data as Float32Array;
}

Deno.test("export: a run as one standalone ONNX file, weights embedded, any batch size", async () => {
  const dir = await Deno.makeTempDir();
  const size = 32, spec = paramSpecs("cbr_small", { inputSize: size });
  const state = randomInit(spec, 4);
  await writeSafetensors(`${dir}/weights.safetensors`, state);
  await writeJsonAtomic(`${dir}/config.json`, { model: "cbr_small", classes: 5, size });
  const bytes = await exportRun(dir);
  const g = graphOf(bytes);
  // the image is the only input; every float tensor of the state dict is an initializer under its key
  assert.deepEqual(g.input.map((v) => [v.name, dims(v)]), [["input", ["N", 3, size, size]]]);
  assert.deepEqual(g.output.map((v) => [v.name, dims(v)]), [["logits", ["N", 5]]]);
  const floats = spec.params.filter((p) => p.dtype === "float32").map((p) => p.name);
  assert.deepEqual(floats.filter((k) => !g.initializer.some((t) => t.name === k)), []);

  const sess = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  const x = image(7, [3, 3, size, size]), per = 3 * size * size;
  const three = await logitsOf(sess, x, 3, size);
  for (let i = 0; i < 3; i++) {
    const one = await logitsOf(sess, x.slice(i * per, (i + 1) * per), 1, size);
    one.forEach((v, j) => assert.ok(Math.abs(v - three[i * 5 + j]) < 1e-5, `image ${i}, class ${j}`));
  }
  await sess.release();
  // predict, on the run's weights file, runs the same graph
  const p = await predictLogits(
    { model: "cbr_small", weights: `${dir}/weights.safetensors`, batch: 2, threads: 2 },
    { x, n: 3, size, names: ["a", "b", "c"] },
  );
  p.logits.forEach((v, i) => assert.ok(Math.abs(v - three[i]) < 1e-5, `logit ${i}`));

  const task = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      "tasks/export.ts",
    ]
      .concat(["--run", dir, "--out", `${dir}/model.onnx`]),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(task.code, 0, new TextDecoder().decode(task.stderr));
  assert.deepEqual(await Deno.readFile(`${dir}/model.onnx`), new Uint8Array(bytes));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("inferenceModel: weights as named graph inputs without a state; a static batch on request", () => {
  const g = graphOf(inferenceModel("cbr_small", { inputSize: 16, batch: 2, dynamicBatch: false }));
  assert.deepEqual(dims(g.input[0]), [2, 3, 16, 16]);
  assert.deepEqual(dims(g.output[0]), [2, 5]);
  assert.ok(g.input.some((v) => v.name === "block1.bn.running_var"));
  assert.ok(!g.input.some((v) => v.name?.endsWith("num_batches_tracked")));
  assert.equal(g.initializer.filter((t) => t.name?.startsWith("block")).length, 0);
  const state = randomInit(paramSpecs("cbr_small", { inputSize: 16 }), 1);
  state.delete("fc.bias");
  assert.throws(() => inferenceModel("cbr_small", { inputSize: 16, state }), /State dict lacks 'fc.bias'/);
});

Deno.test("serializeGraph: a symbolic batch axis only on named inputs and outputs that have one", () => {
  const g = new Graph("relu");
  g.output(g.op.Relu(g.input("x", "float32", [1, 4])), "y");
  const io = graphOf(serializeGraph(g, 17, { dynamicBatch: ["x"] }));
  assert.deepEqual(dims(io.input[0]), ["N", 4]);
  assert.deepEqual(dims(io.output[0]), [1, 4]);
  assert.throws(
    () => serializeGraph(g, 17, { dynamicBatch: ["z"] }),
    /Graph 'relu' has no input or output 'z'/,
  );
});

Deno.test("export: a run's config.json that disagrees with what its weights were trained for is refused", async () => {
  // an edited size used to export a model for another input size without a word
  const dir = await Deno.makeTempDir();
  await run(dir, 1); // CBR-Small at 16², 5 classes
  await writeJsonAtomic(`${dir}/config.json`, { model: "cbr_small", classes: 5, size: 16 });
  assert.ok((await exportRun(dir)).length > 0);
  await writeJsonAtomic(`${dir}/config.json`, { model: "cbr_small", classes: 5, size: 64 });
  await assert.rejects(
    () => exportRun(dir),
    new RegExp(
      `^RangeError: ${dir}/config\\.json says size 64, but ${dir}/weights\\.safetensors was trained with size 16: restore config\\.json$`,
    ),
  );
  await Deno.remove(dir, { recursive: true });
});
