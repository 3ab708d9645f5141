/**
 * `deno task data [study flags]`: the study's data step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { dataStep } from "../lib/study/pipeline.ts";
import { preflight } from "../lib/study/preflight.ts";
import { exitCode } from "../lib/util/cli.ts";
import { stopOnSignals } from "../lib/util/lock.ts";

/** Runs the data task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("data", async () => {
    if (argv.includes("--help") || argv.includes("-h")) {
      console.log(`Usage: deno task data [flags]\n\n${STUDY_USAGE}`);
      return;
    }
    const config = resolveConfig(argv);
    // what this step's permissions let it check, before it does any work
    await preflight(config, ["data", "source"]);
    await dataStep(config);
  });
}

if (import.meta.main) {
  // SIGTERM (scancel, a stopped reproduce) and SIGINT release the locks and exit; finished work stays
  stopOnSignals("data");
  Deno.exit(await main(Deno.args));
}
