/**
 * The guards that keep a non-finite loss or gradient out of the weights: a NaN or ±Infinity gradient under a finite
 * loss (a square root at 0, an overflow in one layer) would otherwise pass through Adam into every weight
 * it touches and, at an epoch's end, into the checkpoint.
 * @module
 */

/** Raised when the loss stops being finite; the caller keeps its last good checkpoint. */
export class NonFiniteLossError extends Error {
  /** `step` is the optimiser step (from 1) whose loss came out as `loss` (NaN or ±Infinity). */
  constructor(readonly step: number, readonly loss: number) {
    super(
      `Loss is ${loss} at step ${step}: training stopped, the last checkpoint is intact (try a lower --lr)`,
    );
    this.name = "NonFiniteLossError";
  }
}

/** Raised when a gradient holds NaN or ±Infinity; the weights and the last checkpoint are left as they were. */
export class NonFiniteGradientError extends Error {
  /** `step`: the optimiser step (from 1); `param`: the parameter; `value`: the first non-finite entry. */
  constructor(readonly step: number, readonly param: string, readonly value: number) {
    super(
      `Gradient of ${param} is ${value} at step ${step}: training stopped before the update, the last ` +
        "checkpoint is intact (try a lower --lr)",
    );
    this.name = "NonFiniteGradientError";
  }
}

/**
 * Throws {@linkcode NonFiniteGradientError} naming the first parameter whose gradient holds NaN or ±Infinity.
 *
 * @example
 * ```ts
 * import { assertFiniteGradients } from "./finite.ts";
 * assertFiniteGradients(1, new Map([["fc.weight", Float32Array.of(0.5, -2)]])); // fine
 * try {
 *   assertFiniteGradients(3, new Map([["fc.bias", Float32Array.of(0, -Infinity)]]));
 * } catch (e) {
 *   if (!(e instanceof Error) || !e.message.startsWith("Gradient of fc.bias is -Infinity at step 3")) throw e;
 * }
 * ```
 */
export function assertFiniteGradients(step: number, grads: ReadonlyMap<string, ArrayLike<number>>): void {
  for (const [param, g] of grads) {
    const i = firstNonFinite(g);
    if (i >= 0) throw new NonFiniteGradientError(step, param, g[i]);
  }
}

/**
 * The index of the first NaN or ±Infinity in `values`, or -1 when all are finite.
 *
 * @example
 * ```ts
 * import { firstNonFinite } from "./finite.ts";
 * if (firstNonFinite(Float32Array.of(1, NaN, Infinity)) !== 1) throw new Error("unexpected");
 * ```
 */
export function firstNonFinite(values: ArrayLike<number>): number {
  // one multiply-add per entry: a sum is NaN as soon as one term is NaN or two infinities meet
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * 0;
  if (s === 0) return -1;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** How many entries of `values` are NaN or ±Infinity. */
export function countNonFinite(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) n++;
  return n;
}

/**
 * Throws a one-line `RangeError` naming `source`'s first float tensor that holds NaN or ±Infinity, its first
 * such value and how many there are; `advice` says what to do about it. Weights like these make every loss NaN, which
 * would otherwise be reported as a learning rate too high.
 */
export function assertFiniteTensors(
  source: string,
  tensors: Iterable<[string, { data: ArrayLike<number> | BigInt64Array }]>,
  advice?: string,
): void {
  for (const [name, t] of tensors) {
    if (t.data instanceof BigInt64Array) continue;
    const i = firstNonFinite(t.data);
    if (i < 0) continue;
    throw new RangeError(
      `${source}: tensor ${name} holds ${t.data[i]} (${
        countNonFinite(t.data)
      } of its ${t.data.length} values are not finite)${advice ? `; ${advice}` : ""}`,
    );
  }
}
