/**
 * The guard that keeps a non-finite gradient out of the weights: a NaN or ±Infinity gradient under a finite
 * loss (a square root at 0, an overflow in one layer) would otherwise pass through Adam into every weight
 * it touches and, at an epoch's end, into the checkpoint.
 * @module
 */

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
    // one multiply-add per entry: a sum is NaN as soon as one term is NaN or two infinities meet
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * 0;
    if (s === 0) continue;
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) throw new NonFiniteGradientError(step, param, g[i]);
    }
  }
}
