/**
 * `deno task data [study flags]`: the study's data step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { dataStep } from "../lib/study/pipeline.ts";
import { studyStepMain } from "../lib/study/step_task.ts";
import { stopOnSignals } from "../lib/util/lock.ts";

/** Runs the data task on `argv`, checking first what its permissions allow; resolves to the exit code. */
export const main: (argv: string[]) => Promise<number> = studyStepMain(
  "data",
  ["data", "source", "runs"],
  dataStep,
);

if (import.meta.main) {
  // SIGTERM (scancel, a stopped reproduce) and SIGINT release the locks and exit; finished work stays
  stopOnSignals("data");
  Deno.exit(await main(Deno.args));
}
