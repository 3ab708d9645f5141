/**
 * The devices a session runs on, as one table: the `Device` type, the `--device` flag's values and its check
 * all come from it. A module of its own, free of onnxruntime, so that the study configuration reads it
 * without loading the runtime.
 * @module
 */

/** The onnxruntime execution providers the engine runs on. */
export const DEVICES = ["cpu", "webgpu", "cuda"] as const;

/** Where a session runs. */
export type Device = typeof DEVICES[number];

/**
 * Whether `text` names a device.
 *
 * @example
 * ```ts
 * import { isDevice } from "./device.ts";
 * if (!isDevice("webgpu") || isDevice("gpu")) throw new Error("unexpected");
 * ```
 */
export function isDevice(text: string): text is Device {
  return (DEVICES as readonly string[]).includes(text);
}
