/**
 * NumPy `.npy` arrays and `.npz` archives, read and written without Python: MedMNIST ships its images as
 * `.npz`, and `predict` takes `.npy` inputs. The zip reader is minimal but handles what `numpy.savez` and
 * `numpy.savez_compressed` write (stored or deflate entries, zip64 extra fields).
 * @module
 */
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from "node:zlib";
import { errorMessage } from "./errors.ts";
import { readBytes, writeFileAtomic } from "./fs.ts";

/** Element types an `.npy` file can hold here (NumPy's names). */
export type NpyDtype =
  | "bool"
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "uint64"
  | "int64"
  | "float32"
  | "float64";

/** The typed array that holds each {@linkcode NpyDtype} (bool as 0/1 bytes). */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** A C-ordered (row-major) n-dimensional array. */
export interface NpyArray {
  /** element type */
  dtype: NpyDtype;
  /** dimensions; `[]` for a scalar */
  shape: number[];
  /** the elements in C order, `shape` product long */
  data: NpyData;
}

interface DtypeInfo {
  dtype: NpyDtype;
  size: number;
  make: (buf: ArrayBuffer, n: number) => NpyData;
}

const DTYPES: Record<string, DtypeInfo> = {
  b1: { dtype: "bool", size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  u1: { dtype: "uint8", size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  i1: { dtype: "int8", size: 1, make: (b, n) => new Int8Array(b, 0, n) },
  u2: { dtype: "uint16", size: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  i2: { dtype: "int16", size: 2, make: (b, n) => new Int16Array(b, 0, n) },
  u4: { dtype: "uint32", size: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  i4: { dtype: "int32", size: 4, make: (b, n) => new Int32Array(b, 0, n) },
  u8: { dtype: "uint64", size: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
  i8: { dtype: "int64", size: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  f4: { dtype: "float32", size: 4, make: (b, n) => new Float32Array(b, 0, n) },
  f8: { dtype: "float64", size: 8, make: (b, n) => new Float64Array(b, 0, n) },
};

const DESCR: Record<NpyDtype, string> = {
  bool: "|b1",
  uint8: "|u1",
  int8: "|i1",
  uint16: "<u2",
  int16: "<i2",
  uint32: "<u4",
  int32: "<i4",
  uint64: "<u8",
  int64: "<i8",
  float32: "<f4",
  float64: "<f8",
};

// Typed arrays are little-endian on every platform Deno runs on; big-endian files are byte-swapped on read.
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes the bytes of an `.npy` file (format versions 1-3). Fortran-ordered arrays are transposed to C
 * order; big-endian data is byte-swapped. `name` is used in error messages.
 *
 * @example
 * ```ts
 * import { encodeNpy, parseNpy } from "./npy.ts";
 * const a = parseNpy(encodeNpy({ dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }));
 * if (a.shape.join() !== "2,2" || a.data[3] !== 4) throw new Error("round trip failed");
 * ```
 */
export function parseNpy(bytes: Uint8Array, name = "npy data"): NpyArray {
  const h = npyHeader(bytes, name);
  const { info, shape, start: off, nbytes } = h;
  if (bytes.length < off + nbytes) {
    throw new RangeError(`${name} is truncated: needs ${nbytes} data bytes, has ${bytes.length - off}`);
  }
  // A copy, so the typed array is aligned and does not pin the (possibly large) file buffer.
  const raw = bytes.slice(off, off + nbytes);
  const swap = (h.order === ">") === LITTLE;
  if (swap && info.size > 1) {
    for (let i = 0; i < nbytes; i += info.size) raw.subarray(i, i + info.size).reverse();
  }
  let data = info.make(raw.buffer, shape.reduce((a, b) => a * b, 1));
  if (h.fortran && shape.length > 1) data = fortranToC(data, shape);
  return { dtype: info.dtype, shape, data };
}

/** What an `.npy` header says: the element type, byte order, layout, shape and where the data starts. */
interface NpyHeader {
  info: DtypeInfo;
  order: string;
  fortran: boolean;
  shape: number[];
  /** offset of the first data byte */
  start: number;
  /** data bytes the shape and dtype need */
  nbytes: number;
}

/** How much of a member is inflated to read its `.npy` header (NumPy itself refuses headers over 10 000 bytes). */
const NPY_HEADER_PEEK = 65536;

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The length of an `.npy` file's header (magic to the first data byte), or null when `bytes` ends before it. */
function npyHeaderEnd(bytes: Uint8Array): number | null {
  if (bytes.length < 12) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes[6] === 1 ? 10 + dv.getUint16(8, true) : 12 + dv.getUint32(8, true);
  return bytes.length < end ? null : end;
}

/** Parses an `.npy` header (format versions 1-3); `bytes` may end anywhere after it. */
function npyHeader(bytes: Uint8Array, name: string): NpyHeader {
  if (bytes.length < 10 || NPY_MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new TypeError(`${name} is not an .npy file (bad magic bytes)`);
  }
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new TypeError(`${name} has unsupported .npy format version ${major}`);
  }
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new TypeError(`${name} has a malformed .npy header: ${header.trim()}`);
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${name} has an invalid shape (${shapeText})`);
  }
  const order = descr[0];
  const info = DTYPES[descr.slice(1)];
  if (!info || !"<>|=".includes(order)) {
    throw new TypeError(`${name} has unsupported dtype '${descr}' (numeric and bool only)`);
  }
  const nbytes = shape.reduce((a, b) => a * b, 1) * info.size;
  return { info, order, fortran: fortran === "True", shape, start: start + headerLen, nbytes };
}

function fortranToC(src: NpyData, shape: number[]): NpyData {
  const n = src.length;
  const dst = new (src.constructor as { new (n: number): NpyData })(n);
  const nd = shape.length;
  // Fortran strides: the first axis varies fastest.
  const fstride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fstride[d] = s;
    s *= shape[d];
  }
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fstride[d];
    (dst as Float64Array)[i] = (src as Float64Array)[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return dst;
}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigUint64Array) return "uint64";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Float32Array) return "float32";
  return "float64";
}

/**
 * Encodes an array as `.npy` bytes (format 1.0, or 2.0 for a header over 64 KiB), little-endian, C order.
 * `dtype` defaults to the typed array's own type; pass `"bool"` for a 0/1 `Uint8Array`.
 */
export function encodeNpy(arr: { data: NpyData; shape: number[]; dtype?: NpyDtype }): Uint8Array {
  const dtype = arr.dtype ?? dtypeOf(arr.data);
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (n !== arr.data.length) {
    throw new RangeError(`Array shape [${arr.shape}] needs ${n} elements, data has ${arr.data.length}`);
  }
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const v1 = header.length + 11 < 65536;
  const pre = v1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, " ") + "\n";
  const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(total + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v1 ? 1 : 2, 0]);
  const dv = new DataView(out.buffer);
  if (v1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(body, total);
  return out;
}

/** Reads an `.npy` file; errors name the file. */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readBytes(path), path);
}

/** Writes an `.npy` file atomically. */
export async function writeNpy(
  path: string,
  arr: { data: NpyData; shape: number[]; dtype?: NpyDtype },
): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr));
}

// ---------------------------------------------------------------------------------------------------------
// zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (the zip / PNG polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One member of a zip archive as its central directory describes it. */
interface ZipEntry {
  /** its file name in the archive */
  name: string;
  /** 0 stored, 8 deflate */
  method: number;
  crc: number;
  /** bytes in the archive */
  csize: number;
  /** bytes once inflated, as the archive declares them */
  usize: number;
  /** where its compressed bytes start */
  start: number;
}

/** What an archive may inflate to; checked against the sizes it declares, before any member is inflated. */
export interface InflateLimits {
  /** memory the inflated members may fill; default: what the system reports free (unchecked without --allow-sys) */
  freeBytes?: number;
}

/**
 * Above this ratio of inflated to compressed size a member is taken for a zip bomb and not inflated: photos
 * deflate about 1.1:1 (RetinaMNIST's images), deflate itself stops near 1032:1, and 100:1 is Apache POI's
 * bound for the same check.
 */
const MAX_RATIO = 100;
/** Members up to this size may compress better than {@linkcode MAX_RATIO} (a label array of zeros does). */
const RATIO_EXEMPT = 64 * 2 ** 20;

/** A byte count for messages: 9.4 GB, 2.5 MB, 830 kB, 12 bytes. */
function sizeText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} bytes`;
}

/** The memory the system reports free, or null where the process may not ask (no --allow-sys). */
function freeMemory(): number | null {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return null;
  }
}

/** Reads a zip archive's central directory (zip64 sizes and offsets), checking each member's local header. */
function zipEntries(bytes: Uint8Array, name: string): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TypeError(`${name} is not a zip archive (no end-of-central-directory record)`);
  let count = dv.getUint16(eocd + 10, true);
  let cdOff = dv.getUint32(eocd + 16, true);
  if (
    (count === 0xffff || cdOff === 0xffffffff) && eocd >= 20 && dv.getUint32(eocd - 20, true) === 0x07064b50
  ) {
    const z64 = Number(dv.getBigUint64(eocd - 20 + 8, true));
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== 0x06064b50) {
      throw new TypeError(`${name} has a broken zip64 record`);
    }
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOff = Number(dv.getBigUint64(z64 + 48, true));
  }
  const entries: ZipEntry[] = [];
  let p = cdOff;
  for (let e = 0; e < count; e++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) {
      throw new TypeError(`${name} has a corrupt central directory (entry ${e})`);
    }
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const entry = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values appear in this order, only for fields that are saturated.
    let x = p + 46 + nameLen;
    const xend = x + extraLen;
    if (xend + commentLen > bytes.length) {
      throw new TypeError(`${name} has a corrupt central directory (${entry})`);
    }
    while (x + 4 <= xend) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (usize === 0xffffffff) (usize = Number(dv.getBigUint64(q, true))), (q += 8);
        if (csize === 0xffffffff) (csize = Number(dv.getBigUint64(q, true))), (q += 8);
        if (local === 0xffffffff) local = Number(dv.getBigUint64(q, true));
      }
      x += 4 + len;
    }
    p = xend + commentLen;
    if (local + 30 > bytes.length || dv.getUint32(local, true) !== 0x04034b50) {
      throw new TypeError(`${name}: bad local header for ${entry}`);
    }
    // the local header repeats the sizes unless a data descriptor follows the data (flag bit 3); saturated
    // values are in its own zip64 field, and the central directory's are the ones read
    const lc = dv.getUint32(local + 18, true), lu = dv.getUint32(local + 22, true);
    const saturated = lc === 0xffffffff || lu === 0xffffffff;
    if (!(dv.getUint16(local + 6, true) & 8) && !saturated && (lc !== csize || lu !== usize)) {
      throw new RangeError(
        `${name}: entry ${entry} is corrupt (its local header says ${lu} bytes from ${lc}, the central directory ${usize} from ${csize})`,
      );
    }
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + csize > bytes.length) {
      throw new RangeError(`${name}: entry ${entry} is truncated (${csize} bytes from offset ${start})`);
    }
    if (method !== 0 && method !== 8) {
      throw new TypeError(`${name}: entry ${entry} uses unsupported compression method ${method}`);
    }
    if (method === 0 && csize !== usize) {
      throw new RangeError(`${name}: entry ${entry} is corrupt (stored, but ${csize} bytes hold ${usize})`);
    }
    entries.push({ name: entry, method, crc, csize, usize, start });
  }
  return entries;
}

/**
 * Refuses an archive whose declared sizes would not fit: a member inflating more than
 * {@linkcode MAX_RATIO} times its compressed size, or all of them together more than the memory free.
 * Inflation itself never goes past a declared size ({@linkcode inflateEntry}), so a member cannot lie small.
 */
function checkInflatedSizes(entries: readonly ZipEntry[], name: string, limits: InflateLimits): void {
  for (const e of entries) {
    if (e.method === 8 && e.usize > RATIO_EXEMPT && e.usize > MAX_RATIO * e.csize) {
      throw new RangeError(
        `${name}: entry ${e.name} would inflate ${sizeText(e.csize)} to ${sizeText(e.usize)} (${
          Math.round(e.usize / Math.max(1, e.csize))
        }:1; real arrays stay under ${MAX_RATIO}:1): refused as a zip bomb, nothing was inflated`,
      );
    }
  }
  const free = limits.freeBytes ?? freeMemory();
  const total = entries.reduce((a, e) => a + e.usize, 0);
  // each member is held twice while it is parsed (inflated, then copied out aligned)
  const peak = total + entries.reduce((a, e) => Math.max(a, e.usize), 0);
  if (free !== null && peak > free) {
    throw new RangeError(
      `${name} needs ${sizeText(peak)} of memory to read (it inflates to ${
        sizeText(total)
      } in ${entries.length} entr${entries.length === 1 ? "y" : "ies"}), more than the ${
        sizeText(free)
      } free here: use a machine with more memory, or a smaller file`,
    );
  }
}

/** Inflates one member, never past its declared size, and checks its CRC. */
function inflateEntry(bytes: Uint8Array, e: ZipEntry, name: string): Uint8Array {
  const comp = bytes.subarray(e.start, e.start + e.csize);
  let data: Uint8Array;
  if (e.method === 0) data = comp;
  else {
    let out: Uint8Array;
    try {
      // one byte more than declared, so a stream that goes on is told from one that ends exactly
      out = inflateRawSync(comp, { maxOutputLength: e.usize + 1 });
    } catch (err) {
      const why = (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
        ? `it inflates past the ${e.usize} bytes it declares`
        : errorMessage(err);
      throw new RangeError(`${name}: entry ${e.name} is corrupt (${why})`);
    }
    // a view, not a copy: the inflated buffer is this member's own
    data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  if (data.length !== e.usize || crc32(data) !== e.crc) {
    throw new RangeError(`${name}: entry ${e.name} is corrupt (size or CRC mismatch)`);
  }
  return data;
}

/** Up to the first `n` inflated bytes of a member (fewer if it is shorter), inflating little more than that. */
function entryHead(bytes: Uint8Array, e: ZipEntry, n: number): Uint8Array {
  if (e.method === 0) return bytes.subarray(e.start, e.start + Math.min(n, e.csize));
  // deflate gives at most ~1032 bytes per input byte: n/1024 compressed bytes and a margin cover n
  const comp = bytes.subarray(e.start, e.start + Math.min(e.csize, Math.ceil(n / 1024) + 1024));
  try {
    return inflateRawSync(comp, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, n);
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * Extracts every file of a zip archive (stored or deflate entries; zip64 sizes and offsets), checking
 * CRCs. Returns entry name → contents. `name` is used in error messages. The sizes the archive declares are
 * checked against `limits` before anything is inflated (see {@linkcode InflateLimits}).
 */
export function unzip(
  bytes: Uint8Array,
  name = "zip data",
  limits: InflateLimits = {},
): Map<string, Uint8Array> {
  const entries = zipEntries(bytes, name);
  checkInflatedSizes(entries, name, limits);
  return new Map(entries.map((e) => [e.name, inflateEntry(bytes, e, name)]));
}

/** Builds a zip archive (no zip64: every entry and the archive under 4 GiB). */
export function zip(
  files: Map<string, Uint8Array> | Record<string, Uint8Array>,
  compress = false,
): Uint8Array {
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let off = 0;
  for (const [name, data] of entries) {
    const nameBytes = new TextEncoder().encode(name);
    const body = compress ? new Uint8Array(deflateRawSync(data)) : data;
    const crc = crc32(data);
    const lh = new Uint8Array(30 + nameBytes.length);
    const l = new DataView(lh.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(8, compress ? 8 : 0, true);
    l.setUint16(12, 0x21, true); // a fixed DOS date (1980-01-01) keeps archives byte-identical run to run
    l.setUint32(14, crc, true);
    l.setUint32(18, body.length, true);
    l.setUint32(22, data.length, true);
    l.setUint16(26, nameBytes.length, true);
    lh.set(nameBytes, 30);
    const ch = new Uint8Array(46 + nameBytes.length);
    const c = new DataView(ch.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, compress ? 8 : 0, true);
    c.setUint16(14, 0x21, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, body.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint32(42, off, true);
    ch.set(nameBytes, 46);
    parts.push(lh, body);
    central.push(ch);
    off += lh.length + body.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, entries.length, true);
  e.setUint16(10, entries.length, true);
  e.setUint32(12, cdSize, true);
  e.setUint32(16, off, true);
  const out = new Uint8Array(off + cdSize + 22);
  let p = 0;
  for (const part of [...parts, ...central, end]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * Decodes the bytes of an `.npz` archive: array name (without `.npy`) → array.
 *
 * @example
 * ```ts
 * import { encodeNpz, parseNpz } from "./npy.ts";
 * const bytes = encodeNpz({ x: { shape: [3], data: new Int32Array([1, 2, 3]) } }, { compress: true });
 * if (parseNpz(bytes).get("x")?.data[2] !== 3) throw new Error("round trip failed");
 * ```
 */
export function parseNpz(
  bytes: Uint8Array,
  name = "npz data",
  limits: InflateLimits = {},
): Map<string, NpyArray> {
  const entries = zipEntries(bytes, name);
  checkInflatedSizes(entries, name, limits);
  const out = new Map<string, NpyArray>();
  for (const e of entries) {
    const where = `${name}:${e.name}`;
    // the array's own header says how many bytes it holds: checked before the member is inflated
    const head = entryHead(bytes, e, NPY_HEADER_PEEK);
    const end = npyHeaderEnd(head);
    if (end !== null) {
      const h = npyHeader(head, where);
      if (end + h.nbytes !== e.usize) {
        throw new RangeError(
          `${where} is corrupt: its header says ${h.info.dtype} [${h.shape}] (${h.nbytes} data bytes), the archive ${
            e.usize - end
          }`,
        );
      }
    }
    const key = e.name.endsWith(".npy") ? e.name.slice(0, -4) : e.name;
    // one member inflated at a time: its inflated bytes are garbage once parsed
    out.set(key, parseNpy(inflateEntry(bytes, e, name), where));
  }
  return out;
}

/** Encodes named arrays as `.npz` bytes (`compress` like `numpy.savez_compressed`). */
export function encodeNpz(
  arrays: Record<string, { data: NpyData; shape: number[]; dtype?: NpyDtype }>,
  opts: { compress?: boolean } = {},
): Uint8Array {
  const files = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(arrays)) files.set(`${k}.npy`, encodeNpy(v));
  return zip(files, opts.compress ?? false);
}

/** Reads an `.npz` file; errors name the file. */
export async function readNpz(path: string, limits: InflateLimits = {}): Promise<Map<string, NpyArray>> {
  return parseNpz(await readBytes(path), path, limits);
}

/** Writes an `.npz` file atomically. */
export async function writeNpz(
  path: string,
  arrays: Record<string, { data: NpyData; shape: number[]; dtype?: NpyDtype }>,
  opts: { compress?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, encodeNpz(arrays, opts));
}
