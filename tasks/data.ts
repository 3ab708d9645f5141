/**
 * `deno task data [study flags]`: the study's data step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { dataStep } from "../lib/study/pipeline.ts";
import { runCli } from "../lib/util/cli.ts";

await runCli("data", async () => {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`Usage: deno task data [flags]\n\n${STUDY_USAGE}`);
    return;
  }
  await dataStep(resolveConfig(Deno.args));
});
