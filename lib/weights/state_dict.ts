/**
 * State dicts (torch's `state_dict()` as a Map) and a strict loader like torch's `load_state_dict`.
 * @module
 */
import type { ParamSpec, StateDict } from "../models/nn.ts";

// declared beside ParamSpec, which describes their entries; re-exported here for the weights' users
export type { StateDict, Tensor } from "../models/nn.ts";

/** What {@linkcode loadStateDict} found, like torch's `_IncompatibleKeys` plus mis-shaped tensors. */
export interface LoadReport {
  /** The loaded tensors, in spec order (only those present when not strict). */
  state: StateDict;
  /** Spec keys the dict lacks. */
  missing: string[];
  /** Dict keys the spec lacks. */
  unexpected: string[];
  /** Keys whose shapes differ (`key [got] ≠ [want]`). */
  misshaped: string[];
}

function list(names: string[], max = 6): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * Checks `dict` against `specs` like torch's `load_state_dict`: every spec key must be present with the
 * same shape and nothing else may be there. Mis-shaped tensors always throw; with `strict` (the default)
 * missing or unexpected keys throw too, otherwise they are reported and the caller must fill the missing
 * ones (never a silent partial load). Float data loaded into an int64 slot (num_batches_tracked) and
 * vice versa is converted; `allowMissing` (key predicate) tolerates keys a source cannot carry.
 *
 * @example
 * ```ts
 * import { loadStateDict } from "./state_dict.ts";
 * import type { ParamSpec } from "../models/nn.ts";
 * const specs: ParamSpec[] = [{ name: "w", shape: [2], init: { kind: "const", value: 0 }, trainable: true, dtype: "float32" }];
 * const dict = new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * const { state } = loadStateDict(specs, dict);
 * if (state.get("w")!.data[1] !== 2) throw new Error("unexpected");
 * ```
 */
export function loadStateDict(
  specs: readonly ParamSpec[],
  dict: StateDict,
  opts: { strict?: boolean; source?: string; allowMissing?: (key: string) => boolean } = {},
): LoadReport {
  const strict = opts.strict ?? true;
  const src = opts.source ? `${opts.source}: ` : "";
  const want = new Set(specs.map((s) => s.name));
  const missing: string[] = [], misshaped: string[] = [];
  const unexpected = [...dict.keys()].filter((k) => !want.has(k));
  const state: StateDict = new Map();
  for (const s of specs) {
    const t = dict.get(s.name);
    if (!t) {
      if (!opts.allowMissing?.(s.name)) missing.push(s.name);
      continue;
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      misshaped.push(`${s.name} [${t.shape}] ≠ [${s.shape}]`);
      continue;
    }
    state.set(s.name, { shape: [...s.shape], data: convert(t.data, s.dtype) });
  }
  if (misshaped.length) {
    throw new RangeError(`${src}${misshaped.length} tensors have the wrong shape: ${list(misshaped, 4)}`);
  }
  if (strict && (missing.length || unexpected.length)) {
    const parts = [];
    if (missing.length) parts.push(`${missing.length} missing (${list(missing)})`);
    if (unexpected.length) parts.push(`${unexpected.length} unexpected (${list(unexpected)})`);
    throw new RangeError(`${src}state dict does not match the model: ${parts.join("; ")}`);
  }
  return { state, missing, unexpected, misshaped };
}

function convert(
  data: Float32Array | BigInt64Array,
  dtype: "float32" | "int64",
): Float32Array | BigInt64Array {
  if (dtype === "int64") {
    return data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(Math.round(v)));
  }
  return data instanceof Float32Array ? data : Float32Array.from(data, (v) => Number(v));
}
