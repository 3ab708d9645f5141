/**
 * `deno task models [--classes 5]`: the registered models with their parameter counts, default input size,
 * transfusion stages and the activations the CCA reads.
 * @module
 */
import { parseArgs } from "node:util";
import { MODELS, paramSpecs } from "../lib/models/registry.ts";
import { exitCode } from "../lib/util/cli.ts";

/** Runs the models task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("models", () => {
    const { values } = parseArgs({ args: argv, options: { classes: { type: "string", default: "5" } } });
    const classes = Number(values.classes);
    if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`--classes must be an integer ≥ 2`);
    const fmt = (n: number) => n.toLocaleString("en-US");
    console.log(
      `| model | parameters (${classes} classes) | parameters (1000 classes) | input | stages (transfusion:k) | taps |`,
    );
    console.log("|---|---|---|---|---|---|");
    for (const def of Object.values(MODELS)) {
      const size = def.inputSize;
      const a = paramSpecs(def.name, { classes, inputSize: size }),
        b = paramSpecs(def.name, { classes: 1000, inputSize: size });
      console.log(
        `| ${def.name} | ${fmt(a.counts.trainable)} | ${fmt(b.counts.trainable)} | ${size}² | ${
          def.stages.map((s) => s.name).join(", ")
        } | ${[...a.taps.keys()].join(", ")} |`,
      );
    }
    return Promise.resolve();
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
