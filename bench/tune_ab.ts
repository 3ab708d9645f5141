/**
 * In-process A/B of the conv formulation tuner: two Trainers of one model from the same weights, one with
 * the Conv rule's fixed choices (A) and one with the measured ones (B, bench/tune.ts), stepped
 * alternately on the same batch; prints each round's A/B time ratio and their median and spread. Both share
 * the process and the machine's load at the moment, so the ratio is steadier than two separate runs' times.
 *
 * Usage: deno run -A bench/tune_ab.ts MODEL [--batch 64] [--size 28] [--threads 2] [--rounds 8]
 *        [--tune out/bench/conv_tune.json]
 * @module
 */
import { parseArgs } from "node:util";
import { getModel, paramSpecs } from "../lib/models/registry.ts";
import { randomInit } from "../lib/models/init.ts";
import type { ModelFn } from "../lib/train/step.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { resolveBackend } from "../lib/train/backend.ts";
import { convChoiceHook, tuneConvs } from "./tune.ts";
import { median } from "./common.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    batch: { type: "string", default: "64" },
    size: { type: "string", default: "28" },
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "8" },
    tune: { type: "string", default: "out/bench/conv_tune.json" },
  },
});
const name = positionals[0] ?? "cbr-small";
const batch = Number(values.batch), size = Number(values.size), threads = Number(values.threads);
const def = getModel(name);
const mopts = { classes: 5, aux: false, transformInput: false };
const model: ModelFn = (net, x) => def.build(net, x, mopts);
await Deno.mkdir(values.tune!.replace(/[^/]*$/, "") || ".", { recursive: true });
// timed with the backward options the trainers below use (the CPU lowering included)
const choices = await tuneConvs(model, { batch, size }, values.tune, {
  threads,
  backend: await resolveBackend(),
});
console.log(
  `${name} ${batch}×${size}²: ${
    Object.entries(choices).map(([k, c]) => `${k} → ${c.dx ?? "-"}/${c.dw}`).join("; ")
  }`,
);
const specs = paramSpecs(name, { ...mopts, inputSize: size });
const a = await Trainer.create(model, randomInit(specs, 1), { batch, size, threads });
const b = await Trainer.create(model, randomInit(specs, 1), {
  batch,
  size,
  threads,
  convChoice: convChoiceHook(choices),
});
const x = new Float32Array(batch * 3 * size * size);
for (let i = 0, s = 1; i < x.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  x[i] = s / 2 ** 32 - 0.5;
}
const y = Int32Array.from({ length: batch }, (_, i) => i % 5);
const time = async (t: Trainer) => {
  const t0 = performance.now();
  await t.step(x, y);
  return performance.now() - t0;
};
await time(a);
await time(b);
const ratios: number[] = [], ta: number[] = [], tb: number[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  // alternate which goes first
  let va: number, vb: number;
  if (r % 2) {
    va = await time(a);
    vb = await time(b);
  } else {
    vb = await time(b);
    va = await time(a);
  }
  ta.push(va);
  tb.push(vb);
  ratios.push(va / vb);
}
const s = [...ratios].sort((p, q) => p - q);
console.log(
  `A (fixed) ms ${ta.map((v) => v.toFixed(0)).join(" ")}\nB (tuned) ms ${
    tb.map((v) => v.toFixed(0)).join(" ")
  }\n` +
    `A/B time ratio median ${median(ratios).toFixed(3)} (min ${s[0].toFixed(3)}, max ${
      s[s.length - 1].toFixed(3)
    }; ` +
    `> 1: tuned is faster)`,
);
await a.release();
await b.release();
