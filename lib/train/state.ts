/**
 * State dicts: named tensors in torchvision's state_dict order. Parameters and BN running statistics are
 * float32; `num_batches_tracked` is int64, as torch keeps it.
 * @module
 */
import type { ParamSpec } from "../models/nn.ts";

/** One named tensor. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** A state dict: state_dict key → tensor, in the model's creation order. */
export type StateDict = Map<string, NamedTensor>;

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The float32 data of a state-dict entry; a missing or non-float entry is an error naming the key. */
export function floatOf(state: StateDict, name: string): Float32Array {
  const t = state.get(name);
  if (!t) throw new RangeError(`State dict has no tensor ${name}`);
  if (!(t.data instanceof Float32Array)) throw new TypeError(`State dict tensor ${name} is not float32`);
  return t.data;
}

/** Checks that `state` holds every tensor of `specs` with the right shape (as torch's strict load). */
export function checkState(specs: readonly ParamSpec[], state: StateDict): void {
  const missing: string[] = [], wrong: string[] = [];
  for (const s of specs) {
    const t = state.get(s.name);
    if (!t) missing.push(s.name);
    else if (t.shape.join("x") !== s.shape.join("x")) {
      wrong.push(`${s.name} [${t.shape}] vs model [${s.shape}]`);
    }
  }
  if (missing.length || wrong.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? " …" : ""}`);
    if (wrong.length) parts.push(`shape mismatch ${wrong.slice(0, 3).join("; ")}`);
    throw new RangeError(`State dict does not fit the model: ${parts.join("; ")}`);
  }
}

/** A deep copy (training mutates its arrays in place). */
export function cloneState(state: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, t] of state) out.set(k, { shape: [...t.shape], data: t.data.slice() });
  return out;
}
