import assert from "node:assert/strict";
import {
  encodeNpy,
  encodeNpz,
  parseNpy,
  readNpy,
  readNpz,
  unzip,
  writeNpz,
  zip,
} from "../../lib/util/npy.ts";
import { readJson } from "../../lib/util/fs.ts";

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
