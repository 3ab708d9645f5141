// The torch train-step goldens' initial state (scripts/golden_train.py): read once, by every parity test.
import type { StateDict } from "../../lib/weights/state_dict.ts";

/** What every train-step golden holds: the batch, the initial state and Adam's learning rate. */
export interface GoldenStep {
  input_shape: number[];
  x: number[];
  y: number[];
  state: Record<string, { shape: number[]; data: number[] }>;
  adam_lr: number;
}

/** The golden's initial state as a state dict (BN step counters as int64). */
export function toState(g: GoldenStep): StateDict {
  const s: StateDict = new Map();
  for (const [k, v] of Object.entries(g.state)) {
    s.set(k, {
      shape: v.shape,
      data: k.endsWith("num_batches_tracked")
        ? BigInt64Array.from(v.data, BigInt)
        : Float32Array.from(v.data),
    });
  }
  return s;
}
