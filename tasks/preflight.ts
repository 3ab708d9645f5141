/**
 * `deno task preflight [study flags]` (run by `reproduce` before its first step): checks the whole study
 * before any work — configuration, models at their input sides, the source task, every pretrained weights
 * file, the device, and whether the held-out split can give a defined referable AUC (see
 * lib/study/preflight.ts). Prints one line when all is well; otherwise the first problem, exit code 1.
 * Permissions: --allow-read of the data, the weights, --out and the project; --allow-env --allow-ffi
 * --allow-sys (onnxruntime and sharp); it writes nothing.
 * @module
 */
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { ALL_CHECKS, preflight } from "../lib/study/preflight.ts";
import { exitCode } from "../lib/util/cli.ts";

/** Runs the preflight task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("preflight", async () => {
    if (argv.includes("--help") || argv.includes("-h")) {
      console.log(`Usage: deno task preflight [flags]\n\nChecks a study before it runs.\n\n${STUDY_USAGE}`);
      return;
    }
    const c = resolveConfig(argv);
    await preflight(c, ALL_CHECKS);
    console.error(
      `preflight: ${c.preset} study in ${c.out}: configuration, weights, device and split checked`,
    );
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
