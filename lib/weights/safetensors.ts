/**
 * safetensors read/write (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`, then the data.
 * Reads F32, F16, BF16 and F64 as float32 and I64/I32 as int64; writes F32 and I64. torchvision's and
 * timm's `resnet50.tv_in1k` / `inception_v3.tv_in1k` files use torchvision's state_dict names.
 * @module
 */
import { readBytes, writeFileAtomic } from "../util/fs.ts";
import type { StateDict } from "./state_dict.ts";
import { numel } from "../graph/types.ts";
import { errorMessage } from "../util/errors.ts";

const SIZES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Decodes safetensors bytes into a state dict (header order). `where` names the source in errors.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const dict = new Map([["fc.weight", { shape: [1, 2], data: new Float32Array([1, 2]) }]]);
 * const back = decodeSafetensors(encodeSafetensors(dict));
 * if (back.get("fc.weight")!.data[1] !== 2) throw new Error("unexpected");
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, where = "safetensors data"): StateDict {
  const bad = (why: string) => new RangeError(`${where} is not a safetensors file: ${why}`);
  if (bytes.length < 10) throw bad("it is too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  if (hlen < 2 || 8 + hlen > bytes.length || bytes[8] !== 0x7b) throw bad("no JSON header at the start");
  // an object: the header starts with "{"
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw bad(`its header is not JSON (${errorMessage(e)})`);
  }
  const base = 8 + hlen;
  const entries = headerEntries(header, where);
  checkOffsets(entries, bytes.length - base, where);
  const out: StateDict = new Map();
  for (const { name, dtype, shape, begin: b, end: e } of entries) {
    const size = SIZES[dtype];
    const n = numel(shape);
    if (e - b !== n * size) {
      throw new RangeError(`${where}: tensor ${name} has ${e - b} bytes for ${dtype} [${shape}]`);
    }
    const v = new DataView(bytes.buffer, bytes.byteOffset + base + b, e - b);
    let data: Float32Array | BigInt64Array;
    if (dtype === "I64" || dtype === "I32") {
      data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = dtype === "I64" ? v.getBigInt64(8 * i, true) : BigInt(v.getInt32(4 * i, true));
      }
    } else {
      const f = new Float32Array(n);
      if (dtype === "F32") { for (let i = 0; i < n; i++) f[i] = v.getFloat32(4 * i, true); }
      else if (dtype === "F64") { for (let i = 0; i < n; i++) f[i] = v.getFloat64(8 * i, true); }
      else if (dtype === "F16") {
        for (let i = 0; i < n; i++) f[i] = halfToFloat(v.getUint16(2 * i, true));
      } else {
        // bfloat16 is the top half of a float32
        const u = new Uint32Array(f.buffer);
        for (let i = 0; i < n; i++) u[i] = v.getUint16(2 * i, true) << 16;
      }
      data = f;
    }
    out.set(name, { shape: [...shape], data });
  }
  return out;
}

/** One tensor of a safetensors header, checked for form. */
interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** its data's byte range in the data section, [begin, end) */
  begin: number;
  end: number;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The header's tensors in header order; an entry that is not `{dtype, shape, data_offsets}` is named. */
function headerEntries(header: Record<string, unknown>, where: string): HeaderEntry[] {
  const out: HeaderEntry[] = [];
  for (const [name, h] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = h as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      throw new RangeError(
        `${where}: header entry "${name}" is ${JSON.stringify(h)}, not {dtype, shape, data_offsets}`,
      );
    }
    const { dtype, shape, data_offsets: off } = e;
    if (typeof dtype !== "string") {
      throw new RangeError(`${where}: tensor ${name} has dtype ${JSON.stringify(dtype)}, not a name`);
    }
    if (!SIZES[dtype]) throw new RangeError(`${where}: tensor ${name} has unsupported dtype ${dtype}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new RangeError(
        `${where}: tensor ${name} has shape ${JSON.stringify(shape)}, not a list of sizes`,
      );
    }
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[1] < off[0]) {
      throw new RangeError(
        `${where}: tensor ${name} has data_offsets ${JSON.stringify(off)}, not [begin, end] with begin ≤ end`,
      );
    }
    out.push({ name, dtype, shape, begin: off[0], end: off[1] });
  }
  return out;
}

/**
 * Throws unless the tensors tile the data section, as safetensors' own reader requires: in offset order each
 * starts where the one before ended, the first at 0, the last at the section's end. Overlapping tensors would
 * share bytes (an edited file trained to a loss of 1e26 and exited 0).
 */
function checkOffsets(entries: readonly HeaderEntry[], dataBytes: number, where: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0, prev: HeaderEntry | undefined;
  for (const t of sorted) {
    if (t.begin < at) {
      throw new RangeError(
        `${where}: tensor ${t.name}'s bytes [${t.begin}, ${t.end}) overlap tensor ${prev!.name}'s [${
          prev!.begin
        }, ${prev!.end}): tensors must lie in order, without overlap, in the data section`,
      );
    }
    if (t.begin > at) {
      throw new RangeError(
        `${where}: bytes [${at}, ${t.begin}) before tensor ${t.name} belong to no tensor: tensors must lie in order, without gaps, in the data section`,
      );
    }
    at = t.end;
    prev = t;
  }
  if (at !== dataBytes) {
    throw new RangeError(
      at > dataBytes
        ? `${where}: tensor ${
          prev!.name
        } ends at byte ${at} of a data section of ${dataBytes} (truncated file?)`
        : `${where}: the tensors end at byte ${at} of a data section of ${dataBytes}: ${
          dataBytes - at
        } trailing bytes belong to no tensor`,
    );
  }
}

/**
 * Encodes a state dict as safetensors (F32 / I64, tensors in map order, header padded with spaces to a
 * multiple of 8 as the reference writer does). Deterministic: equal dicts give identical bytes.
 */
export function encodeSafetensors(dict: StateDict, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of dict) {
    if (t.data.length !== numel(t.shape)) {
      throw new RangeError(`Tensor ${name} has ${t.data.length} values for shape [${t.shape}]`);
    }
    const dtype = t.data instanceof BigInt64Array ? "I64" : "F32";
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const t of dict.values()) {
    // little-endian on every platform Deno ships on, as safetensors requires
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Reads a .safetensors file; an unreadable or malformed file gets a one-line error naming it. */
export async function readSafetensors(path: string): Promise<StateDict> {
  return decodeSafetensors(await readBytes(path), path);
}

/** Writes a state dict as .safetensors, atomically. */
export async function writeSafetensors(
  path: string,
  dict: StateDict,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(dict, metadata));
}

/** The `__metadata__` string map of safetensors bytes (empty when absent). */
export function safetensorsMetadata(bytes: Uint8Array, where = "safetensors data"): Record<string, string> {
  if (bytes.length < 10) throw new RangeError(`${where} is not a safetensors file: it is too short`);
  const hlen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + hlen > bytes.length) throw new RangeError(`${where} is not a safetensors file: truncated header`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen))).__metadata__ ?? {};
  } catch (e) {
    throw new RangeError(
      `${where} is not a safetensors file: its header is not JSON (${errorMessage(e)})`,
    );
  }
}
