/**
 * The one error path of every task: a one-line message prefixed by the task's name, exit code 1. Stack
 * traces are for bugs; bad input gets a sentence.
 * @module
 */

/** Runs a task's main function; any error becomes `<name>: <message>` on stderr and exit code 1. */
export async function runCli(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`${name}: ${msg.split("\n")[0]}`);
    if (Deno.env.get("TRANSFUSION_DEBUG") && e instanceof Error) console.error(e.stack);
    Deno.exit(1);
  }
}

/**
 * A numeric flag: `undefined` when absent (or `fallback`), else the number, which must be finite (and an
 * integer unless `integer` is false); a bad value throws a one-line `RangeError` naming the flag.
 */
export function numberFlag(
  name: string,
  value: string | undefined,
  opts: { integer?: boolean; fallback?: number; required?: boolean } = {},
): number | undefined {
  if (value === undefined) {
    if (opts.required && opts.fallback === undefined) {
      throw new RangeError(`--${name} is required (see --help)`);
    }
    return opts.fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || ((opts.integer ?? true) && !Number.isInteger(n))) {
    throw new RangeError(
      `--${name} must be ${(opts.integer ?? true) ? "an integer" : "a number"}, got '${value}'`,
    );
  }
  return n;
}
