import assert from "node:assert/strict";
import { readJson } from "../../lib/util/fs.ts";
import { getModel, MODELS, paramSpecs } from "../../lib/models/registry.ts";

type Golden = Record<string, { trainable: number; tensors: [string, number[], string][] }>;
const golden = await readJson<Golden>(
  new URL("../../fixtures/golden/models_state_dict.json", import.meta.url).pathname,
);

function ours(model: string, opts = {}) {
  return paramSpecs(model, opts).params.map((p) => [p.name, p.shape, p.dtype]);
}

Deno.test("resnet50 state_dict names, shapes and order equal torchvision 0.14's", () => {
  assert.deepEqual(ours("resnet50", { keepHead: true }), golden.resnet50.tensors);
  assert.equal(paramSpecs("resnet50", { keepHead: true }).counts.trainable, 25_557_032);
});

Deno.test("inception_v3 state_dict (aux_logits=True) equals torchvision 0.14's, AuxLogits in place", () => {
  assert.deepEqual(ours("inception_v3", { keepHead: true, aux: true }), golden.inception_v3.tensors);
  assert.equal(paramSpecs("inception_v3", { keepHead: true }).counts.trainable, 27_161_264);
});

Deno.test("CBR state_dicts equal the torch twin in scripts/golden_models.py", () => {
  for (
    const [m, k] of [["cbr-largeT", "largeT"], ["cbr-largeW", "largeW"], ["cbr-small", "small"], [
      "cbr-tiny",
      "tiny",
    ]]
  ) {
    assert.deepEqual(ours(m), golden[`cbr_${k}`].tensors, m);
    assert.equal(paramSpecs(m).counts.trainable, golden[`cbr_${k}`].trainable, m);
  }
  // the appendix spec makes CBR-Tiny larger than CBR-Small
  assert.equal(paramSpecs("cbr-small").counts.trainable, 2_114_341);
  assert.equal(paramSpecs("cbr-tiny").counts.trainable, 4_310_085);
});

Deno.test("a new head replaces fc (and AuxLogits.fc) with a classes-way layer", () => {
  const r = paramSpecs("resnet50");
  assert.deepEqual(r.params.find((p) => p.name === "fc.weight")?.shape, [5, 2048]);
  assert.deepEqual(r.head, ["fc.weight", "fc.bias"]);
  assert.deepEqual(r.logitsShape, [1, 5]);
  const i = paramSpecs("inception_v3", { classes: 3 });
  assert.deepEqual(i.params.find((p) => p.name === "AuxLogits.fc.weight")?.shape, [3, 768]);
  assert.equal(
    paramSpecs("inception_v3", { aux: false }).params.some((p) => p.name.startsWith("AuxLogits")),
    false,
  );
});

Deno.test("every tensor belongs to exactly one stage or the head", () => {
  for (const name of Object.keys(MODELS)) {
    const s = paramSpecs(name, name === "inception_v3" ? {} : { inputSize: 64 });
    const all = [...s.stages.flatMap((st) => st.keys), ...s.head].sort();
    assert.deepEqual(all, s.params.map((p) => p.name).sort(), name);
  }
  assert.deepEqual(paramSpecs("resnet50").stages.map((s) => s.name), [
    "conv1",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
  ]);
  assert.ok(
    paramSpecs("inception_v3").stages.find((s) => s.name === "Mixed_6e")!.keys.includes(
      "AuxLogits.conv1.conv.weight",
    ),
  );
});

Deno.test("taps and shapes follow torchvision's shape comments", () => {
  const r = paramSpecs("resnet50", { batch: 2 });
  assert.deepEqual(r.taps.get("conv1"), [2, 64, 112, 112]);
  assert.deepEqual(r.taps.get("layer4"), [2, 2048, 7, 7]);
  assert.deepEqual(r.taps.get("pool"), [2, 2048]);
  const i = paramSpecs("inception_v3");
  assert.deepEqual(i.taps.get("Mixed_6e"), [1, 768, 17, 17]);
  assert.deepEqual(i.taps.get("Mixed_7c"), [1, 2048, 8, 8]);
  const big = paramSpecs("inception_v3", { inputSize: 587 });
  assert.deepEqual(big.taps.get("Mixed_7c"), [1, 2048, 17, 17]);
  assert.deepEqual(paramSpecs("inception_v3", { inputSize: 75, aux: false }).taps.get("Mixed_7c"), [
    1,
    2048,
    1,
    1,
  ]);
  assert.deepEqual(paramSpecs("cbr-largeT", { inputSize: 224 }).taps.get("block5"), [1, 512, 14, 14]);
});

Deno.test("bad model options fail with one clear error each", () => {
  assert.throws(() => getModel("vgg16"), /Unknown model vgg16/);
  assert.equal(getModel("CBR_LargeT").name, "cbr_large_t");
  assert.throws(
    () => paramSpecs("inception_v3", { inputSize: 74, aux: false }),
    /must be an integer ≥ 75, got 74/,
  );
  assert.throws(
    () => paramSpecs("inception_v3", { inputSize: 224 }),
    /AuxLogits head needs an input of at least 299/,
  );
  assert.throws(
    () => paramSpecs("resnet50", { keepHead: true, classes: 5 }),
    /keepHead and classes=5 conflict/,
  );
  assert.throws(() => paramSpecs("resnet50", { classes: 0 }), /classes must be a positive integer/);
  assert.throws(() => paramSpecs("resnet50", { aux: true }), /aux applies to Inception-v3 only/);
});
