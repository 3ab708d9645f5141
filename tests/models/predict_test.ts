import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { predictLogits } from "../../lib/train/predict.ts";
import { writeNpy } from "../../lib/util/npy.ts";

const input = { x: new Float32Array(2 * 3 * 32 * 32).fill(0.1), n: 2, size: 32, names: ["a", "b"] };

Deno.test("predict: no weights is an error unless random weights are asked for", async () => {
  await assert.rejects(
    () => predictLogits({ model: "cbr-small" }, input),
    (e: Error) =>
      e instanceof RangeError && /no --weights/.test(e.message) && /--random-weights/.test(e.message),
  );
  const r = await predictLogits({ model: "cbr-small", randomWeights: true }, input);
  assert.equal(r.classes, 5);
  assert.equal(r.logits.length, 10);
  assert.match(r.note ?? "", /random initialisation/);
  await assert.rejects(
    () => predictLogits({ model: "cbr-small", weights: "w.safetensors", randomWeights: true }, input),
    /either --weights FILE or --random-weights/,
  );
});

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function task(name: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      `tasks/${name}.ts`,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("predict and models tasks: one-line errors, one spelling of model names", async () => {
  const dir = await Deno.makeTempDir();
  await writeNpy(`${dir}/x.npy`, {
    dtype: "float32",
    shape: [1, 3, 32, 32],
    data: new Float32Array(3 * 32 * 32),
  });
  const noWeights = await task("predict", [
    "--model",
    "cbr-small",
    "--input",
    `${dir}/x.npy`,
    "--out",
    `${dir}/l.csv`,
  ]);
  assert.equal(noWeights.code, 1, noWeights.stderr);
  assert.match(noWeights.stderr, /^predict: no --weights/);
  const badSize = await task("predict", [
    "--model",
    "cbr_small",
    "--random-weights",
    "--size",
    "-5",
    "--input",
    dir,
    "--out",
    `${dir}/l.csv`,
  ]);
  assert.equal(badSize.code, 1);
  assert.match(badSize.stderr, /^predict: --size must be a whole number ≥ 1, got -5/);
  const random = await task("predict", [
    "--model",
    "cbr-small",
    "--random-weights",
    "--input",
    `${dir}/x.npy`,
    "--out",
    `${dir}/l.csv`,
  ]);
  assert.equal(random.code, 0, random.stderr);
  assert.match(random.stderr, /random initialisation/);
  const models = await task("models", []);
  assert.equal(models.code, 0, models.stderr);
  assert.match(models.stdout, /\| cbr_small \|/);
  assert.doesNotMatch(models.stdout, /cbr-/);
  await Deno.remove(dir, { recursive: true });
});
