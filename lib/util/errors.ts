/**
 * The one way an error becomes text in a message: its `message` when it is an Error, else its string form
 * (a thrown string, a worker's posted value).
 * @module
 */

/**
 * The message of a caught value.
 *
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * if (errorMessage(new RangeError("too big")) !== "too big") throw new Error("unexpected");
 * if (errorMessage("plain") !== "plain") throw new Error("unexpected");
 * ```
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
