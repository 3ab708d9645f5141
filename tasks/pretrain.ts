/**
 * `deno task pretrain [study flags]`: the study's pretrain step (see lib/study/pipeline.ts). Flags as for
 * `deno task reproduce`; `--help` lists them.
 * @module
 */
import { resolveConfig, STUDY_USAGE } from "../lib/study/config.ts";
import { pretrainStep } from "../lib/study/pipeline.ts";
import { runCli } from "../lib/util/cli.ts";

await runCli("pretrain", async () => {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`Usage: deno task pretrain [flags]\n\n${STUDY_USAGE}`);
    return;
  }
  await pretrainStep(resolveConfig(Deno.args));
});
