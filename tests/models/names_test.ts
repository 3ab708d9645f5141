import assert from "node:assert/strict";
import { getModel, MODELS, paramSpecs } from "../../lib/models/registry.ts";
import { MODEL_NAMES } from "../../lib/study/config.ts";

Deno.test("models: one canonical spelling everywhere (the study's), any spelling accepted", () => {
  for (const name of MODEL_NAMES) {
    assert.ok(name in MODELS, `${name} is a registry key`);
    assert.equal(getModel(name).name, name);
  }
  assert.equal(getModel("cbr-small").name, "cbr_small");
  assert.equal(getModel("CBR-LargeT").name, "cbr_large_t");
  assert.equal(paramSpecs("cbr-largeW", { inputSize: 32 }).model, "cbr_large_w");
});
