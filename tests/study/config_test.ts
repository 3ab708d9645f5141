import assert from "node:assert/strict";
import { type Device, DEVICES } from "../../lib/graph/device.ts";
import {
  configToArgs,
  parseShard,
  PRESETS,
  resolveConfig,
  runGrid,
  runId,
  shardRuns,
  type StudyConfig,
  validateConfig,
} from "../../lib/study/config.ts";

const PAPER_INPUTS = ["--data", "/data/kaggle", "--weights", "resnet50=r50.onnx,inception_v3=i3.onnx"];

Deno.test("config: the demo preset is the default: RetinaMNIST and SqueezeNet 1.1 from vendor/", () => {
  const c = resolveConfig([]);
  assert.equal(c.preset, "demo");
  assert.deepEqual(c.data, { kind: "path", path: "vendor/retinamnist.npz", format: "medmnist" });
  assert.deepEqual(c.models, ["squeezenet1_1"]);
  assert.deepEqual(c.weights, { squeezenet1_1: "vendor/squeezenet1_1-imagenet.safetensors" });
  assert.deepEqual(c.inits, ["random", "transfer", "meanvar"]);
  assert.deepEqual(c.seeds, [0, 1, 2]);
  assert.equal(c.shard, null);
  assert.equal(c.source, null);
  // CBR-Small from random init beside the grid, at a small side (val: 28² and 32² alike, 32² cheaper)
  assert.deepEqual(runGrid(c).slice(-3).map((r) => r.id), [
    "cbr_small-random-s0",
    "cbr_small-random-s1",
    "cbr_small-random-s2",
  ]);
  assert.equal(runGrid(c).length, 12);
  assert.equal(c.baselineSize, 32);
});

Deno.test("config: the synthetic preset needs no inputs: its transfer comes from its own source task", () => {
  const c = resolveConfig(["--preset", "synthetic"]);
  assert.equal(c.data.kind, "synthetic");
  assert.deepEqual(c.inits, ["random", "transfer", "meanvar"]);
  assert.ok(c.source && c.models.includes(c.source.model));
  assert.deepEqual(c.baselines, []);
});

Deno.test("config: a baseline already in --models is not trained twice", () => {
  const c = resolveConfig(["--models", "cbr_small", "--inits", "random", "--seeds", "0"]);
  assert.deepEqual(runGrid(c).map((r) => r.id), ["cbr_small-random-s0"]);
  const none = resolveConfig(["--baselines", "none", "--baseline-size", "none"]);
  assert.deepEqual([none.baselines, none.baselineSize], [[], null]);
  assert.deepEqual(resolveConfig(configToArgs(none)), none);
});

Deno.test("config: every preset has the same fields and validates", () => {
  const keys = Object.keys(PRESETS.demo).sort();
  for (const [name, p] of Object.entries(PRESETS)) {
    assert.deepEqual(Object.keys(p).sort(), keys, name);
    assert.equal(p.preset, name);
    validateConfig(p, { requireInputs: false });
  }
  assert.equal(PRESETS["small-data"].trainSubset, 5000);
  assert.equal(PRESETS.paper.size, 587);
  assert.equal(PRESETS.paper.epochs, 50);
  assert.equal(PRESETS.paper.batch, 32);
  assert.equal(PRESETS.paper.lr, 1e-3);
  assert.equal(PRESETS.paper.testFraction, 0.1);
});

Deno.test("config: resolving does not change the preset tables", () => {
  const before = structuredClone(PRESETS.demo);
  resolveConfig(["--weights", "cbr_small=x.onnx", "--seeds", "5"]);
  assert.deepEqual(PRESETS.demo, before);
});

Deno.test("config: paper needs data and weights, and names them", () => {
  assert.throws(() => resolveConfig(["--preset", "paper"]), /paper preset needs --data PATH/);
  assert.throws(
    () => resolveConfig(["--preset", "paper", "--data", "/d", "--weights", "resnet50=a.onnx"]),
    /pretrained weights for inception_v3: pass --weights inception_v3=FILE/,
  );
  const c = resolveConfig(["--preset", "paper", ...PAPER_INPUTS, "--epochs", "1", "--limit", "200"]);
  assert.deepEqual(c.data, { kind: "path", path: "/data/kaggle", format: "kaggle" });
  assert.deepEqual(c.weights, { resnet50: "r50.onnx", inception_v3: "i3.onnx" });
  assert.equal(c.epochs, 1);
  assert.equal(c.limit, 200);
  // random-only studies need no weights; the report step can skip the input check
  assert.doesNotThrow(() => resolveConfig(["--preset", "paper", "--data", "/d", "--inits", "random"]));
  assert.doesNotThrow(() => resolveConfig(["--preset", "paper"], { requireInputs: false }));
});

Deno.test("config: every flag overrides its field", () => {
  const c = resolveConfig([
    "--preset",
    "small-data",
    "--data",
    "/x/aptos",
    "--format",
    "aptos",
    "--source",
    "count=50,model=cbr_tiny",
    "--weights",
    "resnet50=w.onnx",
    "--models",
    "resnet50,cbr_tiny",
    "--inits",
    "random,transfusion:2,transfer",
    "--seeds",
    "3,1",
    "--epochs",
    "2",
    "--batch",
    "8",
    "--size",
    "128",
    "--lr",
    "3e-4",
    "--threads",
    "1",
    "--limit",
    "none",
    "--train-subset",
    "100",
    "--test-fraction",
    "0.2",
    "--eval-every",
    "10",
    "--probe-count",
    "64",
    "--auc-target",
    "0.9",
    "--target-fraction",
    "0.8",
    "--device",
    "webgpu",
    "--out",
    "runs/a",
    "--shard",
    "1/3",
    "--allow-outside-paths",
    "--retrain",
  ]);
  const expected: StudyConfig = {
    preset: "small-data",
    data: { kind: "path", path: "/x/aptos", format: "aptos" },
    source: { count: 50, classes: 12, epochs: 2, model: "cbr_tiny" },
    models: ["resnet50", "cbr_tiny"],
    baselines: [],
    baselineSize: null,
    inits: ["random", "transfusion:2", "transfer"],
    seeds: [3, 1],
    epochs: 2,
    batch: 8,
    size: 128,
    limit: null,
    trainSubset: 100,
    testFraction: 0.2,
    lr: 3e-4,
    device: "webgpu",
    threads: 1,
    out: "runs/a",
    weights: { resnet50: "w.onnx" },
    evalEvery: 10,
    probeCount: 64,
    aucTarget: 0.9,
    targetFraction: 0.8,
    allowOutsidePaths: true,
    retrain: true,
    shard: { index: 1, count: 3 },
  };
  assert.deepEqual(c, expected);
});

Deno.test("config: synthetic data and source overrides", () => {
  assert.equal(resolveConfig(["--data", "synthetic:120"]).data.kind, "synthetic");
  assert.deepEqual(resolveConfig(["--preset", "synthetic", "--data", "synthetic:count=80,width=96"]).data, {
    kind: "synthetic",
    count: 80,
    seed: 2019,
    width: 96,
  });
  const none = resolveConfig(["--source", "none", "--inits", "random"]);
  assert.equal(none.source, null);
  assert.throws(
    () => resolveConfig(["--preset", "synthetic", "--source", "none"]),
    /needs pretrained weights for cbr_small/,
  );
  assert.throws(
    () => resolveConfig(["--preset", "synthetic", "--format", "kaggle"]),
    /--format applies only to --data PATH/,
  );
});

Deno.test("config: bad values give one-line errors naming the flag", () => {
  const cases: [string[], RegExp, ErrorConstructor][] = [
    [["--epochs", "two"], /^--epochs must be a whole number/, RangeError],
    [["--epochs", "0"], /^--epochs must be at least 1/, RangeError],
    [["--batch", "1.5"], /^--batch must be a whole number/, RangeError],
    // it used to fail in the train step as "too few training images (108)"
    [
      ["--batch", "1"],
      /^--batch must be at least 2, got 1: BatchNorm in training mode needs two images per batch$/,
      RangeError,
    ],
    [["--lr=-1"], /^--lr must lie in/, RangeError],
    [["--lr", "-1"], /^--lr must lie in \(0, 10\), got -1/, RangeError],
    [["--lr", "--epochs"], /^--lr needs a value; write --lr=VALUE/, TypeError],
    [["--lr", ""], /^--lr must be a number/, RangeError],
    [["--auc-target", "1.2"], /^--auc-target must lie in \(0, 1\]/, RangeError],
    [["--target-fraction", "0"], /^--target-fraction must lie in \(0, 1\]/, RangeError],
    [["--seeds", "0,,1"], /^--seeds has an empty item/, RangeError],
    [["--seeds", "1,1"], /^--seeds names "1" twice/, RangeError],
    [["--models", "vgg16"], /^--models: unknown model "vgg16"/, RangeError],
    [["--inits", "imagenet"], /^--inits: unknown init "imagenet"/, RangeError],
    [["--inits", "transfusion:0"], /^--inits: unknown init/, RangeError],
    [["--device", "tpu"], /^--device must be cpu, webgpu or cuda/, RangeError],
    [["--weights", "resnet50"], /^--weights expects MODEL=FILE/, RangeError],
    [["--weights", "vgg=x"], /^--weights: unknown model "vgg"/, RangeError],
    [["--shard", "3/3"], /^--shard 3\/3: the index counts from 0 to 2/, RangeError],
    [["--shard", "a"], /^--shard must look like I\/N/, RangeError],
    [["--preset", "huge"], /^--preset: unknown preset "huge"/, RangeError],
    [["--limit", "10", "--train-subset", "20"], /^--train-subset 20 exceeds --limit 10/, RangeError],
    [["--source", "size=3"], /^--source has unknown key "size"/, RangeError],
    [["--frobnicate"], /^Unknown option '--frobnicate'/, TypeError],
    [["stray"], /^Unexpected argument 'stray'/, TypeError],
    [["--epochs"], /--epochs/, TypeError],
  ];
  for (const [argv, re, cls] of cases) {
    assert.throws(() => resolveConfig(argv), (e: unknown) => {
      assert.ok(e instanceof cls, `${argv.join(" ")}: ${e}`);
      assert.match((e as Error).message, re);
      assert.ok(!(e as Error).message.includes("\n"), `one line: ${(e as Error).message}`);
      return true;
    });
  }
});

Deno.test("config: configToArgs round-trips through resolveConfig", () => {
  const configs = [
    resolveConfig([]),
    resolveConfig(["--data", "synthetic:count=90,seed=4,width=72", "--limit", "50", "--shard", "0/2"]),
    resolveConfig(["--preset", "paper", ...PAPER_INPUTS, "--inits", "random,transfusion:3"]),
    resolveConfig(["--preset", "small-data", "--data", "/d", "--format", "kaggle", "--inits", "random"]),
    resolveConfig(["--preset", "paper", "--data", "/d x/it's", "--inits", "random", "--lr", "0.0003"]),
  ];
  for (const c of configs) assert.deepEqual(resolveConfig(configToArgs(c)), c);
});

Deno.test("config: the grid is model, then seed, then init, with file-safe ids", () => {
  const c = resolveConfig(
    ["--models", "cbr_small,cbr_tiny", "--seeds", "0,1", "--inits", "random,transfusion:2"],
    { requireInputs: false },
  );
  assert.deepEqual(runGrid(c).map((r) => r.id), [
    "cbr_small-random-s0",
    "cbr_small-transfusion2-s0",
    "cbr_small-random-s1",
    "cbr_small-transfusion2-s1",
    "cbr_tiny-random-s0",
    "cbr_tiny-transfusion2-s0",
    "cbr_tiny-random-s1",
    "cbr_tiny-transfusion2-s1",
  ]);
  assert.equal(runGrid(c)[1].init, "transfusion:2");
  assert.equal(runId("resnet50", "meanvar", 7), "resnet50-meanvar-s7");
});

Deno.test("config: shards are disjoint, cover the grid, and are stable", () => {
  const runs = runGrid(
    resolveConfig(["--models", "cbr_small,cbr_tiny", "--seeds", "0,1,2,3"], { requireInputs: false }),
  );
  for (let n = 1; n <= 30; n++) {
    const parts = Array.from({ length: n }, (_, i) => shardRuns(runs, i, n));
    const ids = parts.flat().map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, `disjoint for n=${n}`);
    assert.deepEqual([...ids].sort(), runs.map((r) => r.id).sort(), `covering for n=${n}`);
    const sizes = parts.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced for n=${n}`);
    assert.deepEqual(parts, Array.from({ length: n }, (_, i) => shardRuns(runs, i, n)), `stable for n=${n}`);
  }
  assert.deepEqual(parseShard(" 2/5 "), { index: 2, count: 5 });
  assert.throws(() => parseShard("0/0"), /at least 1/);
  assert.throws(() => shardRuns(runs, 2, 2), RangeError);
});

Deno.test("config: a negative number after a flag is its value, refused with the flag's range", () => {
  for (const argv of [["--size", "-5"], ["--size=-5"]]) {
    assert.throws(() => resolveConfig(argv), {
      name: "RangeError",
      message: "--size must be at least 16, got -5",
    });
  }
  assert.throws(() => resolveConfig(["--epochs", "-1"]), /--epochs must be at least 1, got -1/);
  assert.throws(() => resolveConfig(["--lr", "-0.1"]), /--lr must lie in \(0, 10\), got -0.1/);
  assert.throws(() => resolveConfig(["--size", "--epochs"]), /--size needs a value/);
});

Deno.test("config: model names are accepted in any spelling and kept in one canonical form", () => {
  const c = resolveConfig([
    "--preset",
    "paper",
    "--data",
    "/data",
    "--models",
    "cbr-small,CBR-LargeT,cbr_tiny",
    "--inits",
    "random",
    "--source",
    "model=cbr-small",
    "--weights",
    "cbr-largeW=w.safetensors",
  ]);
  assert.deepEqual(c.models, ["cbr_small", "cbr_large_t", "cbr_tiny"]);
  assert.equal(c.source?.model, "cbr_small");
  assert.deepEqual(Object.keys(c.weights), ["cbr_large_w"]);
  assert.throws(() => resolveConfig(["--models", "cbr-huge"]), /unknown model "cbr-huge"/);
});

Deno.test("config: --allow-outside-paths is off by default, round-trips, and is a flag", () => {
  assert.equal(resolveConfig([]).allowOutsidePaths, false);
  const c = resolveConfig(["--allow-outside-paths"]);
  assert.equal(c.allowOutsidePaths, true);
  assert.equal(resolveConfig(configToArgs(c)).allowOutsidePaths, true);
  assert.equal(resolveConfig(configToArgs(resolveConfig([]))).allowOutsidePaths, false);
});

Deno.test("config: --tune-convs is no longer a study flag, and the refusal says what stands in for it", () => {
  assert.throws(
    () => resolveConfig(["--tune-convs"]),
    (e) =>
      e instanceof TypeError && /^--tune-convs is no longer a study flag: .*bench\/tune\.ts/.test(e.message),
  );
  assert.ok(!("tuneConvs" in resolveConfig([])));
});

Deno.test("config: --threads is capped at the cores present, with one line saying so", () => {
  // --threads 1000 started 2 006 threads, trained at 0.1 images/s and took 109 s to honour SIGTERM
  const cores = navigator.hardwareConcurrency;
  const lines: string[] = [];
  const c = resolveConfig(["--threads", "1000"], { log: (l) => lines.push(l) });
  assert.equal(c.threads, cores);
  assert.deepEqual(lines, [`--threads 1000: this machine has ${cores} cores; using ${cores}`]);
  // the steps reproduce starts get the capped value, and say nothing more
  const again = resolveConfig(configToArgs(c), { log: (l) => lines.push(l) });
  assert.equal(again.threads, cores);
  assert.equal(lines.length, 1);
  assert.equal(resolveConfig(["--threads", "0"], { log: (l) => lines.push(l) }).threads, 0);
  assert.equal(resolveConfig(["--threads", `${cores}`], { log: (l) => lines.push(l) }).threads, cores);
  assert.equal(lines.length, 1);
});

Deno.test("config: --device is typed as the session's Device, from the one table of devices", () => {
  // a type check first: the old config held a plain string, cast where the session was opened
  const d: Device = resolveConfig(["--device", "webgpu"]).device;
  assert.equal(d, "webgpu");
  for (const dev of DEVICES) assert.equal(resolveConfig(["--device", dev]).device, dev);
  assert.throws(
    () => resolveConfig(["--device", "gpu"]),
    /^RangeError: --device must be cpu, webgpu or cuda, got "gpu"$/,
  );
});
