import assert from "node:assert/strict";
import { loadWeights } from "../../lib/weights/load.ts";
import { writeSafetensors } from "../../lib/weights/safetensors.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";

const tmp = await Deno.makeTempDir();

Deno.test("weights of another architecture say so first, with the name count and the best match", async () => {
  const cbr = paramSpecs("cbr_small", { inputSize: 32 });
  const resnet = paramSpecs("resnet50", { inputSize: 64 });
  const st = `${tmp}/cbr.safetensors`;
  await writeSafetensors(st, randomInit(cbr, 1));
  const onnx = `${tmp}/cbr.onnx`;
  await Deno.writeFile(onnx, inferenceModel("cbr_small", { inputSize: 32, state: randomInit(cbr, 1) }));
  // float tensors: num_batches_tracked is not in every file (never in an ONNX export)
  const n = resnet.params.filter((p) => p.dtype === "float32").length;
  const m = cbr.params.filter((p) => p.dtype === "float32").length;
  for (const file of [st, onnx]) {
    await assert.rejects(() => loadWeights(file, resnet), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, new RegExp(`holds another architecture than resnet50`));
      assert.match(e.message, new RegExp(`only 2 of resnet50's ${n} tensor names are in it`));
      assert.match(e.message, new RegExp(`best matches cbr_small \\(${m} of its ${m} names\\)`));
      assert.doesNotMatch(e.message, /wrong shape/);
      return true;
    }, file);
  }
  // the same architecture with another head is still a shape problem, named as before
  const other = `${tmp}/cbr3.safetensors`;
  await writeSafetensors(other, randomInit(paramSpecs("cbr_small", { classes: 3, inputSize: 32 }), 2));
  await assert.rejects(() => loadWeights(other, cbr), /2 tensors have the wrong shape: fc.weight \[3,256\]/);
});
