/**
 * The shape shared by the study-step tasks (`deno task data`, `pretrain`, `train`): help, flags, the
 * checks that step's permissions allow, then the step, behind the one exit path.
 * @module
 */
import { resolveConfig, STUDY_USAGE, type StudyConfig } from "./config.ts";
import { preflight, type PreflightCheck } from "./preflight.ts";
import { exitCode } from "../util/cli.ts";

/**
 * A task's `main(argv)` for study step `name`: `--help` prints the study flags; otherwise the configuration
 * is resolved, the `checks` run before any work, then `step`. Resolves to the process exit code.
 */
export function studyStepMain(
  name: string,
  checks: readonly PreflightCheck[],
  step: (c: StudyConfig) => Promise<unknown>,
): (argv: string[]) => Promise<number> {
  return (argv) =>
    exitCode(name, async () => {
      if (argv.includes("--help") || argv.includes("-h")) {
        console.log(`Usage: deno task ${name} [flags]\n\n${STUDY_USAGE}`);
        return;
      }
      const config = resolveConfig(argv);
      await preflight(config, checks);
      await step(config);
    });
}
