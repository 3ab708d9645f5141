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

Deno.test("predict: non-finite input or logits are refused in one line, and no CSV is written", async () => {
  // NaN pixels gave NaN logits in the CSV with exit 0
  const dir = await Deno.makeTempDir();
  const x = new Float32Array(2 * 3 * 32 * 32).fill(0.1);
  x[3 * 32 * 32 + 5] = NaN;
  await writeNpy(`${dir}/nan.npy`, { shape: [2, 3, 32, 32], data: x });
  const args = (
    input: string,
  ) => ["--model", "cbr_small", "--random-weights", "--input", input, "--out", `${dir}/l.csv`];
  const nan = await task("predict", args(`${dir}/nan.npy`));
  assert.equal(nan.code, 1, nan.stderr);
  assert.equal(
    nan.stderr.trim(),
    `predict: ${dir}/nan.npy: image 1 holds NaN (1 non-finite values in all): predict takes finite, normalised pixels`,
  );
  // finite, but far outside any normalised range: the logits overflow
  await writeNpy(`${dir}/huge.npy`, {
    shape: [2, 3, 32, 32],
    data: new Float32Array(2 * 3 * 32 * 32).fill(3e38),
  });
  const huge = await task("predict", args(`${dir}/huge.npy`));
  assert.equal(huge.code, 1, huge.stderr);
  assert.match(
    huge.stderr.trim(),
    /^predict: The logits of image 0 are -?(Infinity|NaN) \(\d+ non-finite in all\): inputs this large overflow the model; normalise them as its training photos were$/,
  );
  await assert.rejects(() => Deno.stat(`${dir}/l.csv`), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});
