import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { resolveConfig } from "../../lib/study/config.ts";
import { preflight } from "../../lib/study/preflight.ts";
import { writeSafetensors } from "../../lib/weights/safetensors.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { main as analyze } from "../../tasks/analyze.ts";

const SYNTH = ["--preset", "synthetic", "--source", "none", "--inits", "random"];

/** A generic CSV dataset of `labels.length` photos (empty files: listing never decodes them). */
async function csvData(labels: number[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  const rows = ["path,label,patient"];
  for (const [i, l] of labels.entries()) {
    await Deno.writeTextFile(`${dir}/p${i}.png`, "");
    rows.push(`p${i}.png,${l},pt${i}`);
  }
  await Deno.writeTextFile(`${dir}/labels.csv`, rows.join("\n") + "\n");
  return dir;
}

Deno.test("preflight: a split whose held-out side cannot give a referable AUC is refused up front", async () => {
  // --limit 3 used to leave an empty test side, exit 0, and fail an epoch later with "labels is empty"
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--limit", "3"]), ["data"]),
    /3 synthetic photos with --test-fraction 0\.1: the held-out split would have 0 photos/,
  );
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", "synthetic:count=100,grades=1:1:0:0:0"]), ["data"]),
    /grades=1:1:0:0:0: every photo would be non-referable/,
  );
  await preflight(resolveConfig([...SYNTH, "--limit", "40"]), ["data"]);
  // a folder: the split is predicted from the listing exactly as preprocessing will make it
  const grades = Array.from({ length: 40 }, (_, i) => i % 2);
  const dir = await csvData(grades);
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", dir, "--format", "csv"]), ["data"]),
    /labels\.csv and --test-fraction 0\.1: the held-out split has 4 photos \(0 referable, 4 non-referable\)/,
  );
  const mixed = await csvData(grades.map((g, i) => (i % 4 === 3 ? 3 : g)));
  await preflight(resolveConfig([...SYNTH, "--data", mixed, "--format", "csv"]), ["data"]);
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", mixed, "--format", "csv", "--limit", "5"]), ["data"]),
    /with --limit 5 and --test-fraction 0\.1: the held-out split has 1 photos/,
  );
  // a cache already built is checked exactly (photos may have been skipped)
  const out = await Deno.makeTempDir();
  const c = resolveConfig([...SYNTH, "--out", out]);
  const cache = `${out}/cache/fundus-64`;
  await Deno.mkdir(cache, { recursive: true });
  const entries = grades.map((label, i) => ({ label, split: i < 4 ? "test" : "train" }));
  await Deno.writeTextFile(`${cache}/manifest.json`, JSON.stringify({ entries }));
  await assert.rejects(
    () => preflight(c, ["cache"]),
    /the cache .*fundus-64: the held-out split has 4 photos/,
  );
  for (const d of [dir, mixed, out]) await Deno.remove(d, { recursive: true });
});

Deno.test("preflight: models, source task, weights and device are checked before any step works", async () => {
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--models", "inception_v3", "--size", "64"]), []),
    /--models inception_v3 at --size 64: Input size of inception_v3 must be an integer ≥ 75/,
  );
  await assert.rejects(
    () => preflight(resolveConfig(["--preset", "synthetic", "--source", "classes=4"]), ["source"]),
    /--source classes=4: the synthetic source task has 12 classes/,
  );
  const dir = await Deno.makeTempDir();
  const cbr = `${dir}/cbr.safetensors`;
  await writeSafetensors(cbr, randomInit(paramSpecs("cbr_small", { inputSize: 32 }), 1));
  const paper = (weights: string) =>
    resolveConfig(["--preset", "paper", "--data", dir, "--models", "resnet50", "--weights", weights]);
  await assert.rejects(
    () => preflight(paper(`resnet50=${cbr}`), ["weights"]),
    /--weights resnet50=.*cbr\.safetensors: .* holds another architecture than resnet50.*best matches cbr_small/,
  );
  await assert.rejects(
    () => preflight(paper(`resnet50=${dir}/none.onnx`), ["weights"]),
    /--weights resnet50=.*none\.onnx: Cannot read/,
  );
  await preflight(resolveConfig([...SYNTH, "--device", "cpu"]), ["device"]);
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--device", "cuda"]), ["device"]),
    /--device cuda does not work here: CUDA provider/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("analyze on an --out that does not exist is an error, not an empty analysis", async () => {
  const missing = `${await Deno.makeTempDir()}/nothing-here`;
  assert.equal(await analyze(["--out", missing, "--quiet"]), 1);
  await assert.rejects(() => Deno.stat(missing), Deno.errors.NotFound);
});

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("reproduce refuses a bad study before its first step, leaving nothing behind", async () => {
  const out = `${await Deno.makeTempDir()}/study`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-env",
      "tasks/reproduce.ts",
      ...SYNTH,
      "--limit",
      "3",
      "--out",
      out,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 1, err);
  assert.match(err, /held-out split would have 0 photos/);
  assert.doesNotMatch(err, /step data/);
  assert.match(err, /reproduce: nothing was started/);
  await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
});

Deno.test("preflight: a --batch larger than the training split is refused before any work", async () => {
  // it used to train with 108 (the whole split) while the report said 100000
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", "synthetic:120", "--batch", "100000"]), ["data"]),
    /^RangeError: 120 synthetic photos with --test-fraction 0\.1: the training split has 108 photos, fewer than --batch 100000: lower --batch to 108 or less$/,
  );
  await preflight(resolveConfig([...SYNTH, "--data", "synthetic:120", "--batch", "108"]), ["data"]);
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--train-subset", "20", "--batch", "32"]), ["data"]),
    /the training subset \(--train-subset 20\) has 20 photos, fewer than --batch 32: lower --batch to 20/,
  );
  // a folder's split as preprocessing will make it, and the self-made source task's
  const dir = await csvData(Array.from({ length: 40 }, (_, i) => i % 4));
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", dir, "--format", "csv", "--batch", "64"]), ["data"]),
    /labels\.csv and --test-fraction 0\.1: the training split has 36 photos, fewer than --batch 64/,
  );
  await assert.rejects(
    () =>
      preflight(resolveConfig(["--preset", "synthetic", "--source", "count=50", "--batch", "64"]), [
        "source",
      ]),
    /--source count=50 with --test-fraction 0\.1: the training split has 45 photos, fewer than --batch 64/,
  );
  // a cache already built: its exact split, after photos the data step skipped
  const out = await Deno.makeTempDir();
  await Deno.mkdir(`${out}/cache/fundus-64`, { recursive: true });
  const entries = Array.from({ length: 40 }, (_, i) => ({ label: i % 4, split: i < 4 ? "test" : "train" }));
  await Deno.writeTextFile(`${out}/cache/fundus-64/manifest.json`, JSON.stringify({ entries }));
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--out", out, "--batch", "37"]), ["cache"]),
    /the cache .*fundus-64: the training split has 36 photos, fewer than --batch 37/,
  );
  for (const d of [dir, out]) await Deno.remove(d, { recursive: true });
});

Deno.test("preflight: a split too small because listed photos are missing names them", async () => {
  // one .png among .jpeg photos: the extension came from the first photo, the other 23 were not found, and
  // the split error said to raise --limit or --test-fraction without naming them
  const dir = await Deno.makeTempDir();
  const rows = ["image,level"];
  for (let i = 0; i < 24; i++) {
    const id = `${10 + i}_${i % 2 ? "left" : "right"}`;
    rows.push(`${id},${i % 5}`);
    await Deno.writeFile(`${dir}/${id}${i === 0 ? ".png" : ".jpeg"}`, new Uint8Array(0));
  }
  await Deno.writeTextFile(`${dir}/trainLabels.csv`, rows.join("\n") + "\n");
  await assert.rejects(
    () => preflight(resolveConfig([...SYNTH, "--data", dir]), ["data"]),
    (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /trainLabels\.csv and --test-fraction 0\.1: the held-out split has 0 photos/);
      assert.match(
        e.message,
        /; 23 listed photos are not in the folder: 11_left\.png, 12_right\.png, 13_left\.png and 20 more \(11_left\.jpeg is there: each id is looked for with the extension of the first photo found, \.png; give all photos one extension\)$/,
      );
      return true;
    },
  );
  await Deno.remove(dir, { recursive: true });
});
