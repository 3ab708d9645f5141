/**
 * `deno task synth|preprocess|predict|export [flags]` as deno.json runs them: resolves the tool's path flags
 * against the folder the user typed the command in, then runs the tool as its own Deno process that may read
 * and write only those paths (and the project), with no network — as `reproduce` runs the study's steps.
 * SIGTERM and SIGINT are passed on.
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { toolArgs } from "../lib/study/steps.ts";
import { exitCode } from "../lib/util/cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Runs tool `argv[0]` on the rest of `argv`; resolves to the process exit code (the tool's own). */
export function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  return exitCode(name ?? "tool", async () => {
    const args = await toolArgs(name ?? "", rest, ROOT, Deno.env.get("INIT_CWD") ?? Deno.cwd());
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(sig, () => {
          try {
            child.kill(sig);
          } catch {
            // it has just ended
          }
        });
      } catch {
        // Windows: no SIGTERM listener
      }
    }
    const st = await child.status;
    if (!st.success) Deno.exit(st.code);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
