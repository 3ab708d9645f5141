import assert from "node:assert/strict";
import { encodeNpy, parseNpy as decodeNpy, readNpy, writeNpy } from "../../lib/util/npy.ts";

const dir = new URL("../../fixtures/golden/", import.meta.url).pathname;

Deno.test("reads arrays written by np.save", async () => {
  const f4 = await readNpy(`${dir}models_npy_f4.npy`);
  assert.equal(f4.dtype, "float32");
  assert.deepEqual(f4.shape, [2, 3, 4]);
  assert.deepEqual([...f4.data], Array.from({ length: 24 }, (_, i) => i / 8));
  const f8 = await readNpy(`${dir}models_npy_f8.npy`);
  assert.deepEqual([...f8.data], [1.5, -2.25, 1e-300, Math.PI]);
  const u1 = await readNpy(`${dir}models_npy_u1.npy`);
  assert.deepEqual([u1.dtype, u1.shape, [...u1.data]], ["uint8", [3, 2], [250, 251, 252, 253, 254, 255]]);
  const i8 = await readNpy(`${dir}models_npy_i8.npy`);
  assert.deepEqual([...i8.data], [-(2n ** 40n), 0n, 7n]);
  const be = await readNpy(`${dir}models_npy_f4be.npy`);
  assert.deepEqual([...be.data], [0.5, -1, 3.25]);
  const sc = await readNpy(`${dir}models_npy_scalar.npy`);
  assert.deepEqual([sc.shape, [...sc.data]], [[], [2.5]]);
});

Deno.test("write → read round trip; output matches np.save byte for byte", async () => {
  const golden = await Deno.readFile(`${dir}models_npy_f4.npy`);
  const a = decodeNpy(golden);
  assert.deepEqual(encodeNpy(a), golden);
  const p = `${await Deno.makeTempDir()}/x.npy`;
  await writeNpy(p, { dtype: "int64", shape: [2], data: new BigInt64Array([1n, -1n]) });
  assert.deepEqual([...(await readNpy(p)).data], [1n, -1n]);
});

Deno.test("bad .npy input gets one clear error each", async () => {
  assert.throws(
    () => decodeNpy(new TextEncoder().encode("not numpy at all"), "x.npy"),
    /x.npy is not an? .npy file/,
  );
  const f = encodeNpy({ dtype: "float32", shape: [2], data: new Float32Array(2) });
  const edit = (from: string, to: string) =>
    Uint8Array.from(String.fromCharCode(...f).replace(from, to), (c) => c.charCodeAt(0));
  // Fortran order is read (and reordered), so only broken files are refused
  assert.throws(() => decodeNpy(edit("<f4", "<c8"), "c.npy"), /c.npy/);
  assert.throws(() => decodeNpy(f.slice(0, f.length - 3), "t.npy"), /t.npy/);
  await assert.rejects(readNpy("/nonexistent/x.npy"), /Cannot read \/nonexistent\/x.npy/);
});
