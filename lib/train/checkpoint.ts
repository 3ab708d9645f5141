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
import { errorMessage } from "../util/errors.ts";
import { assertFiniteTensors } from "./finite.ts";

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
 * A checkpoint whose bytes cannot be what {@linkcode saveCheckpoint} wrote: cut short, not safetensors,
 * another run's tensors. Nothing was restored from it.
 */
export class DamagedCheckpointError extends Error {
  /** Names the file and what is wrong with it. */
  constructor(path: string, why: string) {
    super(`Checkpoint ${path} is damaged: ${why}`);
    this.name = "DamagedCheckpointError";
  }
}

/**
 * Reads a checkpoint into `state` (same names and shapes) and `optimizer`; returns its metadata. The whole
 * file is checked before anything is restored, so on a {@linkcode DamagedCheckpointError} `state` and
 * `optimizer` are as they were and the run can start afresh. An unreadable file (permissions, I/O) is a plain
 * error: it is not evidence of damage.
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
    throw new Error(`Cannot read checkpoint ${path}: ${errorMessage(e)}`);
  }
  let metadata: Record<string, string>, tensors: StateDict, extra: Record<string, unknown>;
  try {
    metadata = safetensorsMetadata(bytes, path);
    tensors = decodeSafetensors(bytes, path);
    extra = JSON.parse(metadata.extra ?? "{}");
    // the trainer never saves a non-finite weight or moment (lib/train/finite.ts): one here is damage, and
    // resumed from it every rerun would stop at its first step with a NaN loss, blaming the learning rate.
    // Adam's second moment may overflow to +Infinity under a finite gradient; it is never NaN or negative.
    assertFiniteTensors(path, [...tensors].filter(([k]) => !k.startsWith("adam.v.")));
    for (const [k, t] of tensors) {
      if (!k.startsWith("adam.v.")) continue;
      const bad = (t.data as Float32Array).find((v) => !(v >= 0));
      if (bad !== undefined) throw new RangeError(`tensor ${k} holds ${bad}`);
    }
  } catch (e) {
    const why = errorMessage(e).replace(`${path}: `, "").replace(`${path} `, "");
    throw new DamagedCheckpointError(path, why);
  }
  if (metadata.format !== "transfusion-checkpoint") {
    throw new DamagedCheckpointError(path, "it is not a transfusion checkpoint");
  }
  const epoch = Number(metadata.epoch), step = Number(metadata.step), opt = Number(metadata.optimizer_step);
  if (![epoch, step, opt].every(Number.isInteger)) {
    throw new DamagedCheckpointError(path, "its epoch or step is not a whole number");
  }
  for (const [k, t] of state) {
    const c = tensors.get(k);
    if (!c) throw new DamagedCheckpointError(path, `it lacks tensor ${k}`);
    if (c.data.length !== t.data.length) throw new DamagedCheckpointError(path, `${k} has the wrong size`);
  }
  for (const [k, t] of state) (t.data as Float32Array).set(tensors.get(k)!.data as Float32Array);
  optimizer.state.step = opt;
  for (const [k, c] of tensors) {
    if (k.startsWith("adam.m.")) optimizer.state.m.set(k.slice(7), (c.data as Float32Array).slice());
    if (k.startsWith("adam.v.")) optimizer.state.v.set(k.slice(7), (c.data as Float32Array).slice());
  }
  return { epoch, step, extra };
}
