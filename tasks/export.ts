/**
 * `deno task export --run DIR --out model.onnx`: a finished run as a standalone ONNX inference model
 * (weights as initializers, input "input" N×3×H×W normalised, output "logits") for onnxruntime in any language.
 * @module
 */
import { parseArgs } from "node:util";
import { exportRun } from "../lib/train/predict.ts";
import { exitCode } from "../lib/util/cli.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

/** Runs the export task on `argv`; returns the process exit code. */
export function main(argv: string[]): Promise<number> {
  return exitCode("export", async () => {
    const { values: v } = parseArgs({
      args: argv,
      options: { run: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (v.help) return console.log("Usage: deno task export --run DIR --out model.onnx");
    if (!v.run || !v.out) throw new RangeError("--run and --out are required");
    const bytes = await exportRun(v.run);
    await writeFileAtomic(v.out, bytes);
    console.log(`export: ${v.out} (${(bytes.length / 1e6).toFixed(1)} MB)`);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
