/**
 * The CCA dimension cap, alone in its module so that the report can print it without loading onnxruntime.
 * @module
 */

/**
 * The SVCCA / PWCCA dimension cap for `m` probe photos: at most a quarter of them per side (CCA needs more
 * datapoints than dimensions on both sides together).
 *
 * @example
 * ```ts
 * import { ccaCap } from "./cap.ts";
 * if (ccaCap(64) !== 16 || ccaCap(3) !== 1) throw new Error("wrong");
 * ```
 */
export function ccaCap(m: number): number {
  return Math.max(1, Math.floor(m / 4));
}
