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
