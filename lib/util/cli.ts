/**
 * The one error path of every task: a one-line message prefixed by the task's name, exit code 1. Stack
 * traces are for bugs; bad input gets a sentence. Every task has one shape: `export function main(argv)`
 * returning {@linkcode exitCode}'s code (tests call it), then
 * `if (import.meta.main) Deno.exit(await main(Deno.args))`.
 * @module
 */
import { errorMessage } from "./errors.ts";

/** TRANSFUSION_DEBUG is set, asked only where env access is granted (analyze and report run without it). */
function debugging(): boolean {
  const env = { name: "env", variable: "TRANSFUSION_DEBUG" } as const;
  return Deno.permissions.querySync(env).state === "granted" && !!Deno.env.get("TRANSFUSION_DEBUG");
}

/**
 * Runs a task's body and returns its exit code: 0, or 1 after any error is printed as `<name>: <message>` on
 * stderr (the stack too when TRANSFUSION_DEBUG is set). Tests call tasks through this and check the code.
 */
export async function exitCode(name: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (e) {
    const msg = errorMessage(e);
    console.error(`${name}: ${msg.split("\n")[0]}`);
    if (e instanceof Error && debugging()) console.error(e.stack);
    return 1;
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

/**
 * node:util's parseArgs reads a negative number after a string flag ("--size -5") as another flag and says
 * "argument is ambiguous"; this joins such a value to its flag ("--size=-5") so the flag's own range check
 * can name the problem. `options` is the parseArgs options table.
 */
export function joinNegativeValues(
  argv: readonly string[],
  options: Readonly<Record<string, { type: string }>>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = argv[i + 1];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : "";
    if (options[name]?.type === "string" && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
