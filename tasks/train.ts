/**
 * `deno task train [study flags]`: the study's train step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { trainStep } from "../lib/study/pipeline.ts";
import { runCli } from "../lib/util/cli.ts";

await runCli("train", async () => {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`Usage: deno task train [flags]\n\n${STUDY_USAGE}`);
    return;
  }
  await trainStep(resolveConfig(Deno.args));
});
