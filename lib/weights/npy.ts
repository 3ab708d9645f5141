/**
 * NumPy `.npy` read/write (format versions 1-3): float32, float64, uint8 and int64, C order, either
 * byte order on read. Used by `predict --input X.npy` (an N×3×H×W float32 tensor).
 * @module
 */
import { writeFileAtomic } from "../util/fs.ts";

/** A decoded array. */
export interface NpyArray {
  /** Element type. */
  dtype: "float32" | "float64" | "uint8" | "int64";
  /** Shape (empty for a scalar). */
  shape: number[];
  /** Values, C order. */
  data: Float32Array | Float64Array | Uint8Array | BigInt64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DTYPES: Record<string, [NpyArray["dtype"], number]> = {
  f4: ["float32", 4],
  f8: ["float64", 8],
  u1: ["uint8", 1],
  i8: ["int64", 8],
};

/**
 * Decodes `.npy` bytes. Fortran order and other dtypes are refused with a one-line error.
 *
 * @example
 * ```ts
 * import { decodeNpy, encodeNpy } from "./npy.ts";
 * const a = decodeNpy(encodeNpy({ dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }));
 * if (a.shape.join() !== "2,2" || a.data[3] !== 4) throw new Error("unexpected");
 * ```
 */
export function decodeNpy(bytes: Uint8Array, where = "npy data"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new RangeError(`${where} is not a .npy file: the \\x93NUMPY magic is missing`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + hlen),
  );
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) {
    throw new RangeError(`${where} has a malformed .npy header: ${header.trim()}`);
  }
  const dt = DTYPES[descr[2]];
  if (!dt) throw new RangeError(`${where} has dtype ${descr[2]}, expected float32, float64, uint8 or int64`);
  if (fortran[1] === "True") {
    throw new RangeError(`${where} is in Fortran order; save it C-ordered (np.ascontiguousarray)`);
  }
  const shape = shapeM[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const [dtype, size] = dt;
  const off = start + hlen;
  if (bytes.length - off < n * size) {
    throw new RangeError(
      `${where} holds ${bytes.length - off} data bytes, shape [${shape}] needs ${n * size}`,
    );
  }
  const little = descr[1] !== ">";
  const v = new DataView(bytes.buffer, bytes.byteOffset + off, n * size);
  let data: NpyArray["data"];
  if (dtype === "float32") {
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = v.getFloat32(4 * i, little);
  } else if (dtype === "float64") {
    data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = v.getFloat64(8 * i, little);
  } else if (dtype === "int64") {
    data = new BigInt64Array(n);
    for (let i = 0; i < n; i++) data[i] = v.getBigInt64(8 * i, little);
  } else data = bytes.slice(off, off + n);
  return { dtype, shape, data };
}

/** Encodes an array as `.npy` version 1.0, little-endian, C order (what `np.save` writes). */
export function encodeNpy(a: NpyArray): Uint8Array {
  const code = { float32: "<f4", float64: "<f8", uint8: "|u1", int64: "<i8" }[a.dtype];
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (a.data.length !== n) throw new RangeError(`Array has ${a.data.length} values for shape [${a.shape}]`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '${code}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + hb.length + a.data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, hb.length, true);
  out.set(hb, 10);
  out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), 10 + hb.length);
  return out;
}

/** Reads a `.npy` file; an unreadable or malformed file gets a one-line error naming it. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
  return decodeNpy(bytes, path);
}

/** Writes a `.npy` file atomically. */
export async function writeNpy(path: string, a: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(a));
}
