import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { createHash } from "node:crypto";
import { readOnnx, readOnnxFile } from "../../lib/graph/read.ts";
import { importOnnx, importOnnxFile } from "../../lib/weights/onnx_import.ts";
import { loadWeights } from "../../lib/weights/load.ts";
import { ShapeNet } from "../../lib/models/shape_net.ts";
import type { Net, ParamSpec } from "../../lib/models/nn.ts";
import { inferenceModel } from "../../lib/train/inference.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { readJson } from "../../lib/util/fs.ts";

const { onnx } = onnxProto;
const dir = new URL("../../fixtures/golden/", import.meta.url).pathname;
const tiny = await readJson<{ state_dict: Record<string, { shape: number[]; data: number[] }> }>(
  `${dir}models_tiny.json`,
);

/** The `Tiny` net of scripts/golden_models.py on the layer API. */
function tinyNet<T extends { readonly shape: readonly number[] }>(net: Net<T>, x: T, convOut = 4): T {
  x = net.relu(
    net.batchNorm2d("bn1", net.conv2d("conv1", x, { out: convOut, kernel: 3, padding: 1, bias: false })),
  );
  return net.linear("fc", net.globalAvgPool(x), { out: 3, bias: true });
}
function tinySpecs(convOut = 4) {
  const net = new ShapeNet();
  tinyNet(net, net.input([2, 3, 6, 5]), convOut);
  return net.specs;
}

function assertTinyWeights(state: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>) {
  for (const [k, v] of Object.entries(tiny.state_dict)) {
    const got = state.get(k)!;
    assert.deepEqual(got.shape, v.shape, k);
    assert.deepEqual(
      [...got.data].map(Number),
      v.data.map((x) => (k.endsWith("tracked") ? x : Math.fround(x))),
      k,
    );
  }
}

/** Re-encodes an ONNX file with every initializer renamed, as some exporters do. */
function anonymise(bytes: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph as onnxProto.onnx.GraphProto;
  const names = new Map(g.initializer.map((t, i) => [t.name, `onnx::W_${i}`]));
  for (const t of g.initializer) t.name = names.get(t.name)!;
  for (const n of g.node) n.input = (n.input ?? []).map((x) => names.get(x) ?? x);
  g.input = g.input.filter((v) => !names.has(v.name));
  return onnx.ModelProto.encode(m).finish();
}

Deno.test("a torchvision-style export with BN kept imports by name, bit-exact", async () => {
  const m = await readOnnxFile(`${dir}models_tiny_bn.onnx`);
  assert.equal(m.producer, "pytorch 1.13.0");
  const imp = importOnnx(m, tinySpecs());
  assert.equal(imp.by, "name");
  assert.deepEqual(imp.absent, ["bn1.num_batches_tracked"]);
  assertTinyWeights(imp.state);
});

Deno.test("an export whose names did not survive imports by graph structure", async () => {
  const bytes = anonymise(await Deno.readFile(`${dir}models_tiny_bn.onnx`));
  const imp = importOnnx(readOnnx(bytes), tinySpecs());
  assert.equal(imp.by, "structure");
  assertTinyWeights(imp.state);
  assert.throws(
    () => importOnnx(readOnnx(bytes, "anon.onnx"), tinySpecs(5)),
    /anon.onnx: graph layer 1 \(conv/,
  );
});

Deno.test("BN folded into the convolutions is refused with the export command that keeps it", async () => {
  await assert.rejects(
    importOnnxFile(`${dir}models_tiny_folded.onnx`, tinySpecs()),
    /BatchNorm folded into its convolutions.*training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False/,
  );
});

Deno.test("export → import → export gives bit-identical weights (CBR-Small)", async () => {
  const spec = paramSpecs("cbr-small", { inputSize: 32 });
  const state = randomInit(spec, 11);
  const first = inferenceModel("cbr-small", { inputSize: 32, state });
  const path = `${await Deno.makeTempDir()}/m.onnx`;
  await Deno.writeFile(path, first);
  const loaded = await loadWeights(path, spec);
  assert.equal(loaded.format, "onnx");
  assert.equal(loaded.filled.length, 4);
  const second = inferenceModel("cbr-small", { inputSize: 32, state: loaded.state });
  assert.ok(first.length === second.length && first.every((b, i) => b === second[i]));
  const byStructure = importOnnx(readOnnx(anonymise(first)), spec.params);
  assert.equal(byStructure.by, "structure");
  for (const [k, t] of state) assert.deepEqual(byStructure.state.get(k)!.data, t.data, k);
});

Deno.test("an eval-mode Inception export without AuxLogits imports, the aux head listed as absent", () => {
  const spec = paramSpecs("inception_v3", { keepHead: true, inputSize: 299 });
  const noAux = paramSpecs("inception_v3", { keepHead: true, aux: false });
  const state = randomInit(noAux, 12);
  const bytes = anonymise(inferenceModel("inception_v3", { keepHead: true, aux: false, state }));
  const imp = importOnnx(readOnnx(bytes), spec.params);
  assert.equal(imp.by, "structure");
  assert.equal(imp.absent.filter((k) => k.startsWith("AuxLogits.")).length, 14);
  assert.deepEqual(
    imp.state.get("Mixed_7c.branch_pool.bn.running_var")!.data,
    state.get("Mixed_7c.branch_pool.bn.running_var")!.data,
  );
});

Deno.test("bad ONNX input gets one clear error each", async () => {
  const tmp = await Deno.makeTempDir();
  await assert.rejects(loadWeights(`${tmp}/missing.onnx`, tinySpecs()), /Cannot read .*missing.onnx/);
  await Deno.writeFile(`${tmp}/junk.onnx`, new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  await assert.rejects(loadWeights(`${tmp}/junk.onnx`, tinySpecs()), /junk.onnx is not an ONNX model/);
  await assert.rejects(
    loadWeights(`${dir}models_tiny_bn.onnx`, tinySpecs(5)),
    /6 tensors have the wrong shape: conv1.weight \[4,3,3,3\] ≠ \[5,3,3,3\], bn1.weight/,
  );
  const fc2: ParamSpec = {
    name: "fc2.weight",
    shape: [3, 3],
    init: { kind: "const", value: 0 },
    trainable: true,
    dtype: "float32",
  };
  const more = [...tinySpecs(), fc2];
  await assert.rejects(
    loadWeights(`${dir}models_tiny_bn.onnx`, more),
    /graph has 3 weighted layers, the model needs more \(stopped at fc2\)/,
  );
});

Deno.test("tensors the exporter stored once and recreated with Identity nodes import under their names", () => {
  // torch.onnx.export keeps one copy of equal tensors (an untrained model's BN weights and running
  // variances are all 1) and adds Identity nodes for the others, as a real torchvision ResNet-50 export does
  const spec = paramSpecs("cbr-small", { inputSize: 16 });
  const state = randomInit(spec, 1);
  const model = readOnnx(inferenceModel("cbr-small", { inputSize: 16, state }));
  const kept = "block2.bn.weight", alias = "block2.bn.running_var";
  assert.deepEqual(state.get(kept)!.data, state.get(alias)!.data);
  const inits = new Map(model.initializers);
  inits.delete(alias);
  const dedup = {
    name: "dedup",
    opType: "Identity",
    domain: "",
    inputs: [kept],
    outputs: [alias],
    attributes: {},
  };
  const { state: got, by } = importOnnx(
    { ...model, initializers: inits, nodes: [dedup, ...model.nodes] },
    spec.params,
  );
  assert.equal(by, "name");
  assert.deepEqual(got.get(alias)!.data, state.get(alias)!.data);
});

Deno.test("a folded-BN export is called that by loadWeights, before any check of names", async () => {
  // the architecture check ran first and called it "another architecture … best matches cbr_large_w"
  await assert.rejects(
    loadWeights(`${dir}models_tiny_folded.onnx`, tinySpecs()),
    /^RangeError: \S+models_tiny_folded\.onnx has BatchNorm folded into its convolutions .*re-export with torch\.onnx\.export\(.*do_constant_folding=False\)$/,
  );
});

/** Stores equal initializers once and recreates the others with Identity nodes, as torch.onnx.export does. */
function dedupe(bytes: Uint8Array): { bytes: Uint8Array; aliased: number } {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph as onnxProto.onnx.GraphProto;
  const seen = new Map<string, string>();
  const kept: onnxProto.onnx.ITensorProto[] = [];
  const aliases: onnxProto.onnx.INodeProto[] = [];
  for (const t of g.initializer) {
    const data = t.rawData?.length ? t.rawData : new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
    const key = `${t.dims}:${t.dataType}:${createHash("sha256").update(data).digest("hex")}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, t.name!);
      kept.push(t);
    } else {aliases.push({
        opType: "Identity",
        name: `Identity_${aliases.length}`,
        input: [first],
        output: [t.name!],
      });}
  }
  g.initializer = kept as onnxProto.onnx.TensorProto[];
  g.node = [...aliases, ...g.node] as onnxProto.onnx.NodeProto[];
  return { bytes: onnx.ModelProto.encode(m).finish(), aliased: aliases.length };
}

Deno.test("a BN-keeping export whose equal tensors torch stored once loads through loadWeights", async () => {
  // an untrained ResNet-50's BN weights and variances are all 1, its biases and means all 0: 200 of its 267
  // names became Identity outputs, and the architecture check, run before they were resolved, refused it
  const spec = paramSpecs("resnet50", { inputSize: 64 });
  const state = randomInit(spec, 3);
  const { bytes, aliased } = dedupe(inferenceModel("resnet50", { inputSize: 64, state }));
  const floats = spec.params.filter((p) => p.dtype === "float32").length;
  assert.ok(aliased > floats / 2, `${aliased} of ${floats} aliased`);
  const path = `${await Deno.makeTempDir()}/dedup.onnx`;
  await Deno.writeFile(path, bytes);
  const { state: got } = await loadWeights(path, spec);
  for (const [k, t] of state) assert.deepEqual(got.get(k)!.data, t.data, k);
  await Deno.remove(path);
});
