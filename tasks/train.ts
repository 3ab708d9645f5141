/**
 * `deno task train [study flags]`: the study's train step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { trainStep } from "../lib/study/pipeline.ts";
import { studyStepMain } from "../lib/study/step_task.ts";
import { stopOnSignals } from "../lib/util/lock.ts";

/** Runs the train task on `argv`, checking first what its permissions allow; resolves to the exit code. */
export const main: (argv: string[]) => Promise<number> = studyStepMain("train", [
  "weights",
  "device",
  "cache",
  "runs",
], trainStep);

if (import.meta.main) {
  // SIGTERM (scancel, a stopped reproduce) and SIGINT release the locks and exit; finished work stays
  stopOnSignals("train");
  Deno.exit(await main(Deno.args));
}
