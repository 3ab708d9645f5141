import assert from "node:assert/strict";
import {
  encodeNpy,
  encodeNpz,
  parseNpy,
  parseNpz,
  readNpy,
  readNpz,
  unzip,
  writeNpz,
  zip,
} from "../../lib/util/npy.ts";
import { readJson } from "../../lib/util/fs.ts";
import { listDataset } from "../../lib/data/formats.ts";
import { constants as zlib, deflateRawSync } from "node:zlib";

const dir = new URL("../../fixtures/golden/data/", import.meta.url).pathname;
type Expect = Record<string, { shape: number[]; data: (number | string)[] }>;

Deno.test("npy: reads what numpy.save wrote (dtypes, big-endian, Fortran order, scalar, empty)", async () => {
  const expect = await readJson<Expect>(`${dir}npy_expected.json`);
  for (
    const name of ["f4_2x3", "f8_be", "i8_3", "u1_2x2x3", "i4_fortran", "bool_4", "scalar_f4", "u2_empty"]
  ) {
    const a = await readNpy(`${dir}${name}.npy`);
    assert.deepEqual(a.shape, expect[name].shape, name);
    const got = Array.from(
      a.data as ArrayLike<number | bigint>,
      (v) => typeof v === "bigint" ? String(v) : v,
    );
    const want = expect[name].data;
    assert.equal(got.length, want.length, name);
    for (let i = 0; i < got.length; i++) {
      if (typeof want[i] === "string") assert.equal(got[i], want[i]);
      else assert.ok(Math.abs((got[i] as number) - (want[i] as number)) < 1e-6, `${name}[${i}]`);
    }
  }
  assert.equal((await readNpy(`${dir}bool_4.npy`)).dtype, "bool");
});

Deno.test("npy: encode/parse round trip and numpy-compatible header alignment", () => {
  const data = new Float64Array([1.5, -2, 3e300]);
  const bytes = encodeNpy({ shape: [3], data });
  assert.equal((bytes[8] + 10) % 64, 0);
  const back = parseNpy(bytes);
  assert.equal(back.dtype, "float64");
  assert.deepEqual(Array.from(back.data as Float64Array), Array.from(data));
  assert.throws(() => parseNpy(new Uint8Array(20), "x.npy"), /x\.npy is not an \.npy file/);
  assert.throws(() => encodeNpy({ shape: [2, 2], data: new Float32Array(3) }), /needs 4 elements/);
  const trunc = bytes.subarray(0, bytes.length - 4);
  assert.throws(() => parseNpy(trunc, "t.npy"), /t\.npy is truncated/);
});

Deno.test("npz: reads numpy.savez (stored) and savez_compressed (deflate, zip64 extras)", async () => {
  for (const f of ["stored.npz", "deflate.npz"]) {
    const z = await readNpz(`${dir}${f}`);
    assert.deepEqual([...z.keys()].sort(), ["a", "b"]);
    assert.deepEqual(z.get("a")!.shape, [2, 3]);
    assert.equal(String((z.get("b")!.data as BigInt64Array)[2]), String(2 ** 40 + 1));
  }
  const mm = await readNpz(`${dir}retinamnist.npz`);
  assert.deepEqual(mm.get("train_images")!.shape, [10, 28, 28, 3]);
  assert.deepEqual(mm.get("test_labels")!.shape, [4, 1]);
});

Deno.test("npz: our writer round-trips and a corrupt archive is refused", async () => {
  const tmp = await Deno.makeTempDir();
  const arrays = {
    x: { shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) },
    y: { shape: [1], data: new Int32Array([7]) },
  };
  for (const compress of [false, true]) {
    await writeNpz(`${tmp}/a.npz`, arrays, { compress });
    const z = await readNpz(`${tmp}/a.npz`);
    assert.deepEqual(Array.from(z.get("x")!.data as Uint8Array), [1, 2, 3, 4]);
    assert.equal(z.get("y")!.data[0], 7);
  }
  const bytes = encodeNpz(arrays);
  const bad = bytes.slice();
  bad[100] ^= 0xff;
  assert.throws(() => unzip(bad, "bad.npz"), /bad\.npz/);
  assert.throws(() => unzip(new Uint8Array(100), "none.zip"), /none\.zip is not a zip archive/);
  assert.equal(unzip(zip({ "a.txt": new TextEncoder().encode("hi") })).size, 1);
  await Deno.remove(tmp, { recursive: true });
});

/** An `.npy` header for a uint8 vector of `n` elements, padded as NumPy pads it. */
function u8Header(n: number): Uint8Array {
  const text = `{'descr': '|u1', 'fortran_order': False, 'shape': (${n},), }`;
  const total = Math.ceil((10 + text.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, total - 10, true);
  out.set(new TextEncoder().encode(text.padEnd(total - 11, " ") + "\n"), 10);
  return out;
}

/**
 * A zip64 archive of one deflate member: a uint8 `.npy` of `mib` MiB of zeros, made of one deflate block
 * repeated (each ends in a full flush, so copies can follow one another): a few MB that inflate to GBs.
 * With `claim`, its header and its directory say it holds `claim` elements, whatever it inflates to.
 */
function npzBomb(entry: string, mib: number, claim?: number): Uint8Array {
  const head = u8Header(claim ?? mib * 2 ** 20);
  const flush = { finishFlush: zlib.Z_FULL_FLUSH };
  const zeros = deflateRawSync(new Uint8Array(2 ** 20), flush);
  const parts = [deflateRawSync(head, flush), ...Array(mib).fill(zeros), new Uint8Array([3, 0])];
  const csize = parts.reduce((a, p) => a + p.length, 0);
  const usize = head.length + (claim ?? mib * 2 ** 20);
  const name = new TextEncoder().encode(entry);
  const extra = new Uint8Array(20);
  const x = new DataView(extra.buffer);
  x.setUint16(0, 1, true);
  x.setUint16(2, 16, true);
  x.setBigUint64(4, BigInt(usize), true);
  x.setBigUint64(12, BigInt(csize), true);
  const local = new Uint8Array(30 + name.length + extra.length);
  const l = new DataView(local.buffer);
  l.setUint32(0, 0x04034b50, true);
  l.setUint16(4, 45, true);
  l.setUint16(8, 8, true);
  l.setUint32(18, 0xffffffff, true);
  l.setUint32(22, 0xffffffff, true);
  l.setUint16(26, name.length, true);
  l.setUint16(28, extra.length, true);
  local.set(name, 30);
  local.set(extra, 30 + name.length);
  const central = new Uint8Array(46 + name.length + extra.length);
  const c = new DataView(central.buffer);
  c.setUint32(0, 0x02014b50, true);
  c.setUint16(4, 45, true);
  c.setUint16(6, 45, true);
  c.setUint16(10, 8, true);
  c.setUint32(20, 0xffffffff, true);
  c.setUint32(24, 0xffffffff, true);
  c.setUint16(28, name.length, true);
  c.setUint16(30, extra.length, true);
  central.set(name, 46);
  central.set(extra, 46 + name.length);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, 1, true);
  e.setUint16(10, 1, true);
  e.setUint32(12, central.length, true);
  e.setUint32(16, local.length + csize, true);
  const out = new Uint8Array(local.length + csize + central.length + end.length);
  let p = 0;
  for (const part of [local, ...parts, central, end]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

Deno.test("npz: a zip bomb is refused from its declared sizes before anything is inflated", async () => {
  // 9 MB that inflate to 9.4 GB: read in full, it ran for a minute and was killed by the OOM killer
  const bytes = npzBomb("train_images.npy", 9000);
  assert.ok(bytes.length < 10e6);
  const tmp = await Deno.makeTempDir();
  await Deno.writeFile(`${tmp}/bomb.npz`, bytes);
  const t0 = performance.now();
  await assert.rejects(
    () => readNpz(`${tmp}/bomb.npz`),
    /bomb\.npz: entry train_images\.npy would inflate 9\.3 MB to 9\.4 GB \(1011:1; real arrays stay under 100:1\): refused as a zip bomb/,
  );
  // the data step shows the same line, from its listing, before a photo is decoded
  await assert.rejects(
    () => listDataset(`${tmp}/bomb.npz`),
    /bomb\.npz: entry train_images\.npy would inflate/,
  );
  assert.ok(performance.now() - t0 < 2000);
  await Deno.remove(tmp, { recursive: true });
  // a member that inflates past what it declares stops there
  assert.throws(
    () => parseNpz(npzBomb("x.npy", 8, 1000), "liar.npz"),
    /liar\.npz: entry x\.npy is corrupt \(it inflates past the 1128 bytes it declares\)/,
  );
  // an array header that disagrees with the member's declared size, read before inflating it
  const stored = encodeNpz({ x: { shape: [3], data: new Uint8Array(3) } });
  const text = new TextDecoder().decode(stored);
  const lied = stored.slice();
  lied.set(new TextEncoder().encode("(9,)"), text.indexOf("(3,)"));
  assert.throws(
    () => parseNpz(lied, "lied.npz"),
    /lied\.npz:x\.npy is corrupt: its header says uint8 \[9\] \(9 data bytes\), the archive 3/,
  );
  // more than the memory free: refused with both sizes
  const honest = encodeNpz({ x: { shape: [4096], data: new Uint8Array(4096) } }, { compress: true });
  assert.throws(
    () => parseNpz(honest, "big.npz", { freeBytes: 5000 }),
    /^RangeError: big\.npz needs 8 kB of memory to read \(it inflates to 4 kB in 1 entry\), more than the 5 kB free here: use a machine with more memory, or a smaller file$/,
  );
  assert.equal(parseNpz(honest, "fits.npz", { freeBytes: 1e6 }).get("x")!.data.length, 4096);
});
