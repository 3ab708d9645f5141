/**
 * The engine's graphs as bytes: a SHA-256 of every training and evaluation graph the trainer would build for
 * each model at a few batch sizes and image sides, on each backend (the CPU with this processor's
 * blocked-channel lowering, the CPU without it, WebGPU). A refactor of the engine that keeps these hashes
 * keeps every seeded result bit-identical (onnxruntime gets the same model); one that changes a hash changes
 * what runs, and `bench/same_results.ts` on two study folders tells whether the results moved too.
 *
 * Usage: deno run -A bench/same_graphs.ts [--out FILE] [--against FILE]
 * `--out` writes the hashes as JSON; `--against` compares them with an earlier file and exits 1 on any
 * difference, naming each graph that changed.
 * @module
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { getModel } from "../lib/models/registry.ts";
import { INCEPTION_AUX_MIN_SIZE } from "../lib/models/inception.ts";
import { buildEvalGraph, buildTrainGraph, type ModelFn, trainGraphOptionsFor } from "../lib/train/step.ts";
import { backendFor, nchwcBlockSize } from "../lib/train/backend.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { out: { type: "string" }, against: { type: "string" } },
});

/** model, image side, batches: each small-map, dense, swapped and fold path, with a batch off the block */
const CASES: [string, number, number[]][] = [
  ["cbr_small", 28, [16, 6]],
  ["cbr_small", 64, [8]],
  ["cbr_tiny", 28, [16]],
  ["cbr_large_w", 28, [16]],
  ["squeezenet1_1", 64, [16, 6]],
  ["resnet50", 28, [16, 6]],
  ["resnet50", 64, [8]],
  ["inception_v3", 75, [4]],
  ["inception_v3", 299, [2]],
];

function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const block = await nchwcBlockSize();
const hashes: Record<string, string> = {};
for (const [name, size, batches] of CASES) {
  const def = getModel(name);
  const opts = {
    classes: 5,
    aux: def.hasAux && size >= INCEPTION_AUX_MIN_SIZE,
    transformInput: def.transformInput,
  };
  const model: ModelFn = (net, x) => def.build(net, x, opts);
  for (const batch of batches) {
    const shape = { batch, size };
    const key = `${name} ${size}² ×${batch}`;
    for (const [backend, nchwcBlock] of [["cpu", block], ["cpu-plain", 0]] as const) {
      const b = backendFor("cpu", nchwcBlock);
      const tg = buildTrainGraph(model, shape, trainGraphOptionsFor(b, { auxWeight: 0.4 }));
      hashes[`${key} ${backend} train`] = sha(tg.bytes);
      hashes[`${key} ${backend} eval`] = sha(buildEvalGraph(model, shape, { backend: b }).bytes);
    }
    const gpu = buildTrainGraph(model, shape, trainGraphOptionsFor(backendFor("webgpu"), { auxWeight: 0.4 }));
    hashes[`${key} webgpu train`] = sha(gpu.bytes);
  }
  console.error(`${name} ${size}²: hashed`);
}
const doc = { block, hashes };
if (values.out) await writeFileAtomic(values.out, JSON.stringify(doc, null, 1) + "\n");
if (values.against) {
  const old = JSON.parse(await Deno.readTextFile(values.against)) as typeof doc;
  if (old.block !== block) {
    throw new RangeError(`${values.against}: made with block ${old.block}, here ${block}`);
  }
  const keys = new Set([...Object.keys(old.hashes), ...Object.keys(hashes)]);
  const changed = [...keys].filter((k) => old.hashes[k] !== hashes[k]);
  for (const k of changed) console.log(`changed: ${k}`);
  console.log(`${keys.size - changed.length} of ${keys.size} graphs identical (block ${block})`);
  if (changed.length) Deno.exit(1);
}
