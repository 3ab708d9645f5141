import assert from "node:assert/strict";
import { paramSpecs } from "../../lib/models/registry.ts";
import { meanVarInit, moments, randomInit, transferInit, transfusionInit } from "../../lib/models/init.ts";
import type { StateDict } from "../../lib/weights/state_dict.ts";

const f32 = (d: StateDict, k: string) => d.get(k)!.data as Float32Array;
/** Bitwise equality; assert.deepEqual is slow on million-element arrays. */
function same(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test("random init follows torchvision's defaults (ResNet-50)", () => {
  const spec = paramSpecs("resnet50");
  const s = randomInit(spec, 1);
  assert.deepEqual([...s.keys()], spec.params.map((p) => p.name));
  // kaiming_normal_(fan_out): layer3.0.conv2 is 256×256×3×3, fan_out = 256·9
  const w = moments(f32(s, "layer3.0.conv2.weight"));
  assert.ok(Math.abs(w.mean) < 0.001);
  assert.ok(Math.abs(Math.sqrt(w.variance) / Math.sqrt(2 / (256 * 9)) - 1) < 0.01);
  // fc: U(±1/√2048)
  const fc = f32(s, "fc.weight");
  assert.ok(fc.every((v) => Math.abs(v) <= 1 / Math.sqrt(2048)));
  assert.ok(Math.abs(moments(fc).variance / (1 / (3 * 2048)) - 1) < 0.1);
  assert.ok(f32(s, "bn1.weight").every((v) => v === 1) && f32(s, "bn1.bias").every((v) => v === 0));
  assert.ok(f32(s, "bn1.running_var").every((v) => v === 1));
  assert.equal((s.get("bn1.num_batches_tracked")!.data as BigInt64Array)[0], 0n);
});

Deno.test("random init of Inception-v3 uses trunc_normal_ std 0.1 / 0.01 / 0.001", () => {
  const s = randomInit(paramSpecs("inception_v3"), 2);
  const a = moments(f32(s, "Mixed_6e.branch7x7dbl_3.conv.weight"));
  assert.ok(Math.abs(Math.sqrt(a.variance) - 0.1) < 0.002);
  assert.ok(Math.abs(Math.sqrt(moments(f32(s, "AuxLogits.conv1.conv.weight")).variance) - 0.01) < 0.0002);
  assert.ok(Math.abs(Math.sqrt(moments(f32(s, "AuxLogits.fc.weight")).variance) - 0.001) < 0.0001);
});

Deno.test("random init is reproducible per seed and independent of tensor order", () => {
  const spec = paramSpecs("cbr-small", { inputSize: 32 });
  const a = randomInit(spec, "s"), b = randomInit([...spec.params].reverse(), "s"), c = randomInit(spec, "t");
  assert.ok(same(f32(a, "block2.conv.weight"), f32(b, "block2.conv.weight")));
  assert.ok(!same(f32(a, "block2.conv.weight"), f32(c, "block2.conv.weight")));
});

Deno.test("Mean-Var: each tensor's sample mean and variance match the source's within sampling error", () => {
  const spec = paramSpecs("cbr-small", { inputSize: 32 });
  const src = randomInit(spec, 3);
  // give the source tensors distinct means and scales
  for (const [k, t] of src) {
    if (t.data instanceof Float32Array && spec.params.find((p) => p.name === k)!.trainable) {
      t.data.forEach((v, i, arr) => (arr[i] = 0.3 + 2 * v));
    }
  }
  const mv = meanVarInit(src, spec, 4);
  for (const p of spec.params) {
    const got = mv.get(p.name)!;
    assert.deepEqual(got.shape, p.shape);
    if (!p.trainable) continue;
    if (spec.head.includes(p.name)) continue;
    const s = moments(f32(src, p.name)), m = moments(got.data as Float32Array);
    const n = got.data.length;
    const se = Math.sqrt(s.variance / n);
    assert.ok(Math.abs(m.mean - s.mean) < 5 * se + 1e-6, `${p.name} mean`);
    // variance of a normal sample variance ≈ 2σ⁴/n
    assert.ok(Math.abs(m.variance - s.variance) < 5 * s.variance * Math.sqrt(2 / n) + 1e-9, `${p.name} var`);
    if (s.variance > 0) assert.notDeepEqual(got.data, src.get(p.name)!.data);
  }
  // running statistics are reset, num_batches_tracked too
  assert.ok(f32(mv, "block1.bn.running_var").every((v) => v === 1));
  assert.ok(f32(mv, "block1.bn.running_mean").every((v) => v === 0));
});

Deno.test("transfer keeps the body, draws a new head; keepHead keeps it", () => {
  const pre = randomInit(paramSpecs("cbr-small", { keepHead: true, inputSize: 32 }), 5);
  const spec = paramSpecs("cbr-small", { classes: 5, inputSize: 32 });
  const t = transferInit(pre, spec, 6);
  assert.ok(same(f32(t, "block4.conv.weight"), f32(pre, "block4.conv.weight")));
  assert.deepEqual(t.get("fc.weight")!.shape, [5, 256]);
  assert.throws(
    () => transferInit(pre, spec, 6, { keepHead: true }),
    /Pretrained fc.weight has shape \[1000,256\]/,
  );
  const kept = transferInit(pre, paramSpecs("cbr-small", { keepHead: true, inputSize: 32 }), 6, {
    keepHead: true,
  });
  assert.ok(same(f32(kept, "fc.weight"), f32(pre, "fc.weight")));
  const partial = new Map(pre);
  partial.delete("block1.bn.running_var");
  assert.throws(() => transferInit(partial, spec, 6), /lack block1.bn.running_var/);
});

Deno.test("transfusion k takes stages 1..k from the pretrained weights", () => {
  const spec = paramSpecs("resnet50");
  const pre = randomInit(spec, 7), rnd = randomInit(spec, 8);
  const t2 = transfusionInit(pre, rnd, 2, spec.stages);
  assert.ok(same(f32(t2, "conv1.weight"), f32(pre, "conv1.weight")));
  assert.ok(same(f32(t2, "bn1.running_mean"), f32(pre, "bn1.running_mean")));
  assert.ok(same(f32(t2, "layer1.2.conv3.weight"), f32(pre, "layer1.2.conv3.weight")));
  assert.ok(same(f32(t2, "layer2.0.conv1.weight"), f32(rnd, "layer2.0.conv1.weight")));
  assert.ok(same(f32(t2, "fc.weight"), f32(rnd, "fc.weight")));
  const t0 = transfusionInit(pre, rnd, 0, spec.stages);
  assert.ok(same(f32(t0, "conv1.weight"), f32(rnd, "conv1.weight")));
  assert.throws(() => transfusionInit(pre, rnd, 6, spec.stages), /k must be an integer from 0 to 5, got 6/);
});

Deno.test("transfer and Mean-Var of Inception-v3 from weights without AuxLogits (an eval-mode ONNX export)", () => {
  const spec = paramSpecs("inception_v3", { classes: 5, inputSize: 299 });
  const full = randomInit(paramSpecs("inception_v3", { classes: 1000, inputSize: 299 }), 3);
  // what the ONNX import returns: no AuxLogits tensors, but every num_batches_tracked filled with 0
  const pretrained: StateDict = new Map(
    [...full].filter(([k, t]) => !k.startsWith("AuxLogits.") || t.data instanceof BigInt64Array),
  );
  const t = transferInit(pretrained, spec, 4);
  const fresh = randomInit(spec, 4);
  assert.deepEqual(
    t.get("AuxLogits.conv0.conv.weight")!.data,
    fresh.get("AuxLogits.conv0.conv.weight")!.data,
  );
  assert.deepEqual(
    t.get("Mixed_7c.branch_pool.conv.weight")!.data,
    full.get("Mixed_7c.branch_pool.conv.weight")!.data,
  );
  assert.equal(meanVarInit(pretrained, spec, 5).size, spec.params.length);
});
