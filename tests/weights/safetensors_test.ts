import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
} from "../../lib/weights/safetensors.ts";
import { loadWeights } from "../../lib/weights/load.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { inferenceModel } from "../../lib/train/inference.ts";

const tmp = await Deno.makeTempDir();
const spec = paramSpecs("cbr-small", { inputSize: 32 });

Deno.test("safetensors write → read → write is bit-identical", async () => {
  const state = randomInit(spec, 1);
  await writeSafetensors(`${tmp}/a.safetensors`, state);
  const back = await readSafetensors(`${tmp}/a.safetensors`);
  assert.deepEqual([...back.keys()], [...state.keys()]);
  assert.ok(back.get("block1.bn.num_batches_tracked")!.data instanceof BigInt64Array);
  await writeSafetensors(`${tmp}/b.safetensors`, back);
  const [a, b] = [await Deno.readFile(`${tmp}/a.safetensors`), await Deno.readFile(`${tmp}/b.safetensors`)];
  assert.ok(a.length === b.length && a.every((v, i) => v === b[i]));
  // header padded to 8 bytes, as the reference writer does
  assert.equal(Number(new DataView(a.buffer).getBigUint64(0, true)) % 8, 0);
});

/** A safetensors file with hand-written F16 / BF16 / F64 tensors and metadata, as other writers produce. */
function handMade(): Uint8Array {
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001]); // 1, -2, 0.33325195, 2^-24
  const bf16 = new Uint16Array([0x3f80, 0xc0a0]); // 1, -5
  const f64 = new Float64Array([0.1]);
  const header = JSON.stringify({
    __metadata__: { format: "pt" },
    "fc.bias": { dtype: "F64", shape: [1], data_offsets: [0, 8] },
    "fc.weight": { dtype: "F16", shape: [2, 2], data_offsets: [8, 16] },
    "bn.weight": { dtype: "BF16", shape: [2], data_offsets: [16, 20] },
  });
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + 20);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(new Uint8Array(f64.buffer), 8 + h.length);
  out.set(new Uint8Array(f16.buffer), 16 + h.length);
  out.set(new Uint8Array(bf16.buffer), 24 + h.length);
  return out;
}

Deno.test("F16, BF16 and F64 tensors are read as float32", () => {
  const d = decodeSafetensors(handMade());
  assert.deepEqual([...d.get("fc.weight")!.data], [1, -2, Math.fround(0.33325195), 2 ** -24]);
  assert.deepEqual([...d.get("bn.weight")!.data], [1, -5]);
  assert.deepEqual([...d.get("fc.bias")!.data], [Math.fround(0.1)]);
  assert.deepEqual(d.get("fc.weight")!.shape, [2, 2]);
});

Deno.test("loadWeights is strict: missing, unexpected and mis-shaped tensors are refused", async () => {
  const state = randomInit(spec, 2);
  const ok = await loadWeights(await save("ok", state), spec);
  assert.equal(ok.format, "safetensors");
  const missing = new Map(state);
  missing.delete("block2.conv.weight");
  await assert.rejects(loadWeights(await save("m", missing), spec), /1 missing \(block2.conv.weight\)/);
  const extra = new Map(state).set("extra.weight", { shape: [1], data: new Float32Array(1) });
  await assert.rejects(loadWeights(await save("e", extra), spec), /1 unexpected \(extra.weight\)/);
  const other = randomInit(paramSpecs("cbr-small", { classes: 3, inputSize: 32 }), 2);
  await assert.rejects(
    loadWeights(await save("s", other), spec),
    /2 tensors have the wrong shape: fc.weight \[3,256\] ≠ \[5,256\]/,
  );
  const loose = await loadWeights(await save("m2", missing), spec, { strict: false }).catch((e) => e);
  assert.ok(!(loose instanceof Error));
});

Deno.test("unreadable and wrong-format files get one clear error each", async () => {
  await assert.rejects(loadWeights(`${tmp}/nope.safetensors`, spec), /Cannot read .*nope.safetensors/);
  await Deno.writeTextFile(`${tmp}/text.safetensors`, "hello, this is not a weight file");
  await assert.rejects(
    loadWeights(`${tmp}/text.safetensors`, spec),
    /neither a safetensors nor an ONNX file/,
  );
  await Deno.writeFile(`${tmp}/zip.pth`, new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]));
  await assert.rejects(loadWeights(`${tmp}/zip.pth`, spec), /torch.save pickle/);
  const cut = encodeSafetensors(randomInit(spec, 3)).slice(0, 5000);
  assert.throws(() => decodeSafetensors(cut, "cut.safetensors"), /cut.safetensors/);
});

async function save(name: string, d: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>) {
  const p = `${tmp}/${name}.safetensors`;
  await writeSafetensors(p, d);
  return p;
}

/** A safetensors file of `header` (written as is) and `data` zero bytes. */
function raw(header: Record<string, unknown>, data: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

Deno.test("a malformed header entry is named with its file and key, not a raw TypeError", async () => {
  // {"fc.weight": null} used to print "TypeError: Cannot read properties of null (reading 'dtype')"
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { "fc.weight": null },
      /^n\.safetensors: header entry "fc\.weight" is null, not \{dtype, shape, data_offsets\}$/,
    ],
    [{ "fc.weight": 3 }, /header entry "fc\.weight" is 3, not/],
    [
      { "fc.weight": { shape: [1], data_offsets: [0, 4] } },
      /tensor fc\.weight has dtype undefined, not a name/,
    ],
    [
      { "fc.weight": { dtype: "F32", shape: null, data_offsets: [0, 4] } },
      /fc\.weight has shape null, not a list/,
    ],
    [{ "fc.weight": { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, /fc\.weight has shape \[-1\]/],
    [
      { "fc.weight": { dtype: "F32", shape: [1], data_offsets: [4, 0] } },
      /data_offsets \[4,0\], not \[begin, end\]/,
    ],
    [{ "fc.weight": { dtype: "F32", shape: [1] } }, /fc\.weight has data_offsets undefined/],
  ];
  for (const [header, re] of cases) {
    assert.throws(() => decodeSafetensors(raw(header, 4), "n.safetensors"), (e: unknown) => {
      assert.ok(e instanceof RangeError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }
  await Deno.writeFile(`${tmp}/null.safetensors`, raw({ "fc.weight": null }, 0));
  await assert.rejects(
    loadWeights(`${tmp}/null.safetensors`, spec),
    /null\.safetensors: header entry "fc\.weight"/,
  );
});

Deno.test("tensors must tile the data section: overlapping, gapped or out-of-range offsets are refused", () => {
  const t = (b: number, e: number) => ({ dtype: "F32", shape: [(e - b) / 4], data_offsets: [b, e] });
  // two tensors sharing bytes were read as two (an edited file trained to a loss of 1e26 and exited 0)
  assert.throws(
    () => decodeSafetensors(raw({ a: t(0, 8), b: t(4, 12) }, 12), "o.safetensors"),
    /^RangeError: o\.safetensors: tensor b's bytes \[4, 12\) overlap tensor a's \[0, 8\): tensors must lie in order, without overlap, in the data section$/,
  );
  assert.throws(
    () => decodeSafetensors(raw({ a: t(0, 8), b: t(0, 8) }, 8), "s"),
    /tensor b's bytes \[0, 8\) overlap/,
  );
  assert.throws(
    () => decodeSafetensors(raw({ a: t(0, 4), b: t(8, 12) }, 12), "g"),
    /bytes \[4, 8\) before tensor b/,
  );
  assert.throws(
    () => decodeSafetensors(raw({ a: t(0, 8) }, 4), "c"),
    /tensor a ends at byte 8 of a data section of 4/,
  );
  assert.throws(() => decodeSafetensors(raw({ a: t(0, 4) }, 8), "x"), /4 trailing bytes belong to no tensor/);
  // the header's order is free; the offsets' is not
  const d = decodeSafetensors(raw({ b: t(4, 8), a: t(0, 4) }, 8));
  assert.deepEqual([...d.keys()], ["b", "a"]);
});

Deno.test("weights holding NaN or Infinity are refused naming the file and tensor, in either format", async () => {
  // they trained to a NaN loss at step 1, reported on every rerun as "try a lower --lr"
  const state = randomInit(spec, 4);
  const w = state.get("block2.conv.weight")!.data as Float32Array;
  w[3] = NaN;
  w[7] = Infinity;
  const st = await save("nan", state);
  const onnx = `${tmp}/nan.onnx`;
  await Deno.writeFile(onnx, inferenceModel("cbr-small", { inputSize: 32, state }));
  for (const file of [st, onnx]) {
    await assert.rejects(
      loadWeights(file, spec),
      new RegExp(
        `^RangeError: ${file}: tensor block2\\.conv\\.weight holds NaN \\(2 of its ${w.length} values are not finite\\); such weights make every loss NaN: re-export or re-download the file$`,
      ),
    );
  }
});
