/**
 * Checkpoints: one safetensors file per run (readable by torch/timm tools) holding the state dict, the Adam
 * moments (`adam.m.<name>`, `adam.v.<name>`) and, in its metadata, the epoch, the optimiser step and the
 * metrics so far. Written atomically, so a run killed at any moment resumes from the last complete one.
 * @module
 */
import { decodeSafetensors, encodeSafetensors, safetensorsMetadata } from "../weights/safetensors.ts";
import type { Optimizer } from "../optim/mod.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** What a checkpoint restores besides the tensors. */
export interface CheckpointMeta {
  /** the last completed epoch; a resumed run continues with the next one */
  epoch: number;
  /** training steps taken over the whole run so far */
  step: number;
  /** JSON-serialisable extras (per-epoch metrics, elapsed time) */
  extra: Record<string, unknown>;
}

/** Writes `state` and the optimiser's moments to `path` atomically. */
export async function saveCheckpoint(
  path: string,
  state: StateDict,
  optimizer: Optimizer,
  meta: CheckpointMeta,
): Promise<void> {
  const tensors: StateDict = new Map(state);
  for (const [k, m] of optimizer.state.m) tensors.set(`adam.m.${k}`, { shape: [m.length], data: m });
  for (const [k, v] of optimizer.state.v) tensors.set(`adam.v.${k}`, { shape: [v.length], data: v });
  const bytes = encodeSafetensors(tensors, {
    format: "transfusion-checkpoint",
    epoch: String(meta.epoch),
    step: String(meta.step),
    optimizer_step: String(optimizer.state.step),
    extra: JSON.stringify(meta.extra),
  });
  await writeFileAtomic(path, bytes);
}

/**
 * Reads a checkpoint into `state` (same names and shapes) and `optimizer`; returns its metadata.
 */
export async function loadCheckpoint(
  path: string,
  state: StateDict,
  optimizer: Optimizer,
): Promise<CheckpointMeta> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read checkpoint ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const metadata = safetensorsMetadata(bytes, path);
  const tensors = decodeSafetensors(bytes, path);
  if (metadata.format !== "transfusion-checkpoint") {
    throw new TypeError(`${path} is not a transfusion checkpoint`);
  }
  for (const [k, t] of state) {
    const c = tensors.get(k);
    if (!c) throw new RangeError(`Checkpoint ${path} lacks tensor ${k}`);
    if (c.data.length !== t.data.length) throw new RangeError(`Checkpoint ${path}: ${k} has the wrong size`);
    (t.data as Float32Array).set(c.data as Float32Array);
  }
  optimizer.state.step = Number(metadata.optimizer_step);
  for (const [k, c] of tensors) {
    if (k.startsWith("adam.m.")) optimizer.state.m.set(k.slice(7), (c.data as Float32Array).slice());
    if (k.startsWith("adam.v.")) optimizer.state.v.set(k.slice(7), (c.data as Float32Array).slice());
  }
  return {
    epoch: Number(metadata.epoch),
    step: Number(metadata.step),
    extra: JSON.parse(metadata.extra ?? "{}"),
  };
}
