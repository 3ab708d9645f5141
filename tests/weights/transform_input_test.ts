import assert from "node:assert/strict";
import { type OnnxModel, readOnnx, readOnnxFile } from "../../lib/graph/read.ts";
import { checkTransformInput, exportedTransformInput } from "../../lib/weights/onnx_import.ts";
import { loadWeights } from "../../lib/weights/load.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { predictLogits } from "../../lib/train/predict.ts";

const golden = new URL("../../fixtures/golden/", import.meta.url).pathname;

Deno.test("transform_input is read from a torchvision export's graph (scripts/golden_transform_input.py)", async () => {
  const on = await readOnnxFile(`${golden}inception_stem_transform_true.onnx`);
  const off = await readOnnxFile(`${golden}inception_stem_transform_false.onnx`);
  assert.equal(exportedTransformInput(on), true);
  assert.equal(exportedTransformInput(off), false);
  assert.doesNotThrow(() => checkTransformInput(on, true));
  assert.throws(
    () => checkTransformInput(off, true),
    /inception_stem_transform_false\.onnx was exported with transform_input=False, but inception_v3 here applies transform_input=True/,
  );
  assert.throws(() => checkTransformInput(on, false), /was exported with transform_input=True, but .*=False/);
});

Deno.test("a graph whose input preprocessing is unknown is refused rather than guessed", () => {
  const f = (v: number[]) => ({
    name: "",
    dims: [1, 3, 1, 1],
    dataType: "FLOAT",
    data: Float32Array.from(v),
  });
  const model: OnnxModel = {
    source: "odd.onnx",
    irVersion: 8,
    opsets: { "": 17 },
    producer: "test",
    initializers: new Map([["m", f([0.5, 0.5, 0.5])], ["s", f([0.2, 0.2, 0.2])], ["w", f([1])]]),
    nodes: [
      { name: "a", opType: "Sub", domain: "", inputs: ["input", "m"], outputs: ["y"], attributes: {} },
      { name: "b", opType: "Div", domain: "", inputs: ["y", "s"], outputs: ["z"], attributes: {} },
      { name: "c", opType: "Conv", domain: "", inputs: ["z", "w"], outputs: ["o"], attributes: {} },
    ],
    inputs: ["input"],
    outputs: ["o"],
  };
  assert.equal(exportedTransformInput(model), null);
  assert.throws(() => checkTransformInput(model, true), /odd\.onnx: cannot tell whether .* transform_input/);
});

Deno.test("loadWeights refuses an Inception export whose transform_input differs from the model's", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/i3.onnx`;
  const opts = { inputSize: 75, aux: false, transformInput: false };
  const bytes = inferenceModel("inception_v3", {
    ...opts,
    state: randomInit(paramSpecs("inception_v3", opts), 0),
  });
  assert.equal(exportedTransformInput(readOnnx(bytes)), false);
  await Deno.writeFile(path, bytes);
  await assert.rejects(
    () => loadWeights(path, paramSpecs("inception_v3", { inputSize: 75, aux: false })),
    /i3\.onnx was exported with transform_input=False, but inception_v3 here applies transform_input=True/,
  );
  const ok = await loadWeights(
    path,
    paramSpecs("inception_v3", { inputSize: 75, aux: false, transformInput: false }),
  );
  assert.equal(ok.transformInput, false);
  // predict builds the model the way the export says, rather than refusing or guessing
  const x = new Float32Array(3 * 75 * 75).fill(0.2);
  const p = await predictLogits({ model: "inception_v3", weights: path }, {
    x,
    n: 1,
    size: 75,
    names: ["a"],
  });
  assert.ok(p.logits.every(Number.isFinite));
  await Deno.remove(dir, { recursive: true });
});
