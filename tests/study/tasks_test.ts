// The tasks as configured: a tiny synthetic study run step by step exactly as `deno task reproduce` runs it
// (one process per step, the permissions of lib/study/steps.ts), then the other entry points as deno.json
// runs them, the init each run gets, and a read outside a step's allowed paths. ~40 s on 2 cores.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { configToArgs, resolveConfig, runGrid } from "../../lib/study/config.ts";
import { stepArgs, studySteps } from "../../lib/study/steps.ts";
import { initialState } from "../../lib/study/pipeline.ts";
import { studyPaths } from "../../lib/study/paths.ts";
import { loadAnalysis } from "../../lib/study/analyze.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { readSafetensors } from "../../lib/weights/safetensors.ts";
import { exists } from "../../lib/util/fs.ts";
import { assertSameElements } from "../compare.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TASKS: Record<string, string> = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;

const STUDY = [
  "--preset",
  "synthetic",
  "--data",
  "synthetic:count=48,seed=5,width=96",
  "--source",
  "count=48,classes=12,epochs=1,model=cbr_tiny",
  "--models",
  "cbr_tiny",
  "--inits",
  "random,transfer",
  "--seeds",
  "0,1",
  "--epochs",
  "1",
  "--batch",
  "8",
  "--size",
  "32",
  "--probe-count",
  "8",
  "--test-fraction",
  "0.34",
  "--threads",
  "1",
];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function spawn(args: string[]): Promise<Ran> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, stdout: text(r.stdout), stderr: text(r.stderr) };
}

/** `deno task <name> ...args` as deno.json defines it (its `deno run` flags, the task file). */
async function task(name: string, args: string[]): Promise<Ran> {
  const [deno, ...rest] = TASKS[name].split(/\s+/);
  assert.equal(deno, "deno", `deno.json task ${name}`);
  return await spawn([...rest, ...args]);
}

function ok(r: Ran, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stderr.slice(-2000)}`);
}

Deno.test("study steps run as reproduce and deno.json run them, with the right inits", async () => {
  const out = await Deno.makeTempDir({ prefix: "study-" });
  try {
    const config = resolveConfig([...STUDY, "--out", out]);
    const args = configToArgs(config);
    const steps = await studySteps(config, ROOT);
    assert.deepEqual(steps.map((s) => s.name), [
      "preflight",
      "data",
      "pretrain",
      "train",
      "analyze",
      "report",
    ]);
    for (const step of steps) ok(await spawn(stepArgs(step, ROOT, args)), `step ${step.name}`);

    // the outputs of every step
    const grid = runGrid(config);
    assert.equal(grid.length, 4);
    for (const run of grid) {
      for (const f of ["done.json", "predictions.csv", "activations.safetensors", "weights.safetensors"]) {
        assert.ok(await exists(join(out, run.id, f)), `${run.id}/${f}`);
      }
    }
    const analysis = await loadAnalysis(join(out, "analysis.json"));
    assert.equal(analysis.runs.length, 4);
    assert.deepEqual(analysis.missing, []);
    assert.deepEqual(analysis.comparisons.map((c) => [c.a, c.b, c.seed]), [
      ["transfer", "random", 0],
      ["transfer", "random", 1],
      ["transfer", "random", null],
    ]);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /^# Transfusion reproduction: `synthetic` preset/);
    assert.ok(!/NaN|undefined/.test(report.replace(/n\/a/g, "")), "no unformatted values in the report");

    // each step again, as `deno task <step>` runs it: a finished study is a no-op for each
    for (const name of ["data", "pretrain", "train", "analyze", "report"]) ok(await task(name, args), name);

    // the init each run gets (lib/study/pipeline.ts): random is the seeded draw, transfer the source weights
    // with a fresh head
    const pretrained = await readSafetensors(join(studyPaths(config).pretrainRun, "weights.safetensors"));
    const spec = paramSpecs("cbr_tiny", { classes: 5, inputSize: 32 });
    const heads = new Set(["fc.weight", "fc.bias"]);
    for (const run of grid) {
      const s = await initialState(config, run);
      if (run.init === "random") {
        const want = randomInit(spec, `cbr_tiny:${run.seed}`);
        for (const [k, t] of want) assertSameElements(s.get(k)?.data, t.data, `${run.id} ${k}`);
      } else {
        for (const [k, t] of s) {
          if (heads.has(k) || k.endsWith("num_batches_tracked")) continue;
          assertSameElements(t.data, pretrained.get(k)?.data, `${run.id} ${k}`);
        }
        assert.deepEqual(s.get("fc.weight")!.shape.slice(0, 1), [5], "a 5-grade head replaces the source's");
      }
    }
    const r0 = await initialState(config, grid.find((r) => r.id === "cbr_tiny-random-s0")!);
    const r1 = await initialState(config, grid.find((r) => r.id === "cbr_tiny-random-s1")!);
    assert.notDeepEqual(r0.get("fc.weight")!.data, r1.get("fc.weight")!.data, "seeds draw different weights");

    // export and predict on a finished run, as deno.json runs them
    const tmp = await Deno.makeTempDir({ prefix: "entry-" });
    try {
      const run = join(out, "cbr_tiny-transfer-s0");
      ok(await task("export", ["--run", run, "--out", join(tmp, "m.onnx")]), "export");
      const sess = await ort.InferenceSession.create(join(tmp, "m.onnx"));
      const x = new ort.Tensor("float32", new Float32Array(2 * 3 * 32 * 32).fill(0.1), [2, 3, 32, 32]);
      assert.deepEqual((await sess.run({ input: x })).logits.dims, [2, 5]);
      await sess.release();
      const photos = join(out, "data", "fundus");
      const p = await task("predict", [
        "--model",
        "cbr_tiny",
        "--weights",
        join(run, "weights.safetensors"),
        "--input",
        photos,
        "--size",
        "32",
        "--out",
        join(tmp, "logits.csv"),
      ]);
      ok(p, "predict");
      const rows = (await Deno.readTextFile(join(tmp, "logits.csv"))).trim().split("\n");
      assert.equal(rows.length, 1 + 48, "a header and one row per photo");
      assert.equal(rows[1].split(",").length, 1 + 5);
      // synth and preprocess
      ok(
        await task("synth", ["--out", join(tmp, "s"), "--count", "3", "--seed", "1", "--width", "96"]),
        "synth",
      );
      assert.equal((await Deno.readTextFile(join(tmp, "s", "trainLabels.csv"))).trim().split("\n").length, 4);
      const pre = await task("preprocess", [
        "--data",
        join(tmp, "s"),
        "--out",
        join(tmp, "c"),
        "--size",
        "32",
      ]);
      ok(pre, "preprocess");
      assert.ok(await exists(join(tmp, "c", "manifest.json")), "preprocess wrote the cache's manifest");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }

    // a read outside the step's allowed paths: the report step of this study pointed at another folder
    const elsewhere = await Deno.makeTempDir({ prefix: "elsewhere-" });
    try {
      const report = steps.find((s) => s.name === "report")!;
      const other = configToArgs(resolveConfig([...STUDY, "--out", elsewhere]));
      const r = await spawn(stepArgs(report, ROOT, other));
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
      assert.match(lines[0], /^report: .*read access to .*elsewhere-/i);
    } finally {
      await Deno.remove(elsewhere, { recursive: true });
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
