// The user's own data, weights and --out, anywhere on disk (issue 23, items 1, 2 and 4): `reproduce` as
// deno.json runs it, from the user's own folder (relative paths), on a Kaggle-layout folder and weights file
// outside the checkout — this failed on a permission before; then a rerun with changed flags is refused
// naming each difference (it silently reused the old runs before), --retrain sets them aside and trains
// again, and folders that are links out of the study are refused. ~25 s on 2 cores.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { synthFundus } from "../../lib/data/synth.ts";
import { paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import { writeSafetensors } from "../../lib/weights/safetensors.ts";
import { exists, readJson } from "../../lib/util/fs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TASKS: Record<string, string> = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;

interface Ran {
  code: number;
  stderr: string;
}

/** `deno task <name> ...args` as deno.json defines it, typed in the folder `cwd` (deno task's INIT_CWD). */
async function task(name: string, args: string[], cwd: string): Promise<Ran> {
  const [, ...rest] = TASKS[name].split(/\s+/);
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...rest, ...args],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", INIT_CWD: cwd },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

const STUDY = [
  "--preset",
  "synthetic",
  "--source",
  "none",
  "--data",
  "photos",
  "--weights",
  "cbr_tiny=weights/tiny.safetensors",
  "--models",
  "cbr_tiny",
  "--inits",
  "random,transfer",
  "--seeds",
  "0",
  "--epochs",
  "1",
  "--batch",
  "8",
  "--size",
  "32",
  "--probe-count",
  "8",
  "--test-fraction",
  "0.3",
  "--threads",
  "1",
  "--out",
  "out",
];

/** `count` synthetic photos in Kaggle's layout, every grade alike (the held-out split needs referable ones). */
function fundusPhotos(out: string, count: number) {
  return synthFundus({ out, count, seed: 3, width: 96, gradeWeights: [1, 1, 1, 1, 1] });
}

/** `args` without `flag` and its value. */
function without(args: string[], flag: string): string[] {
  const i = args.indexOf(flag);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
}

function flags(over: Record<string, string>): string[] {
  const a = [...STUDY];
  for (const [k, v] of Object.entries(over)) {
    const i = a.indexOf(k);
    if (i >= 0) a[i + 1] = v;
    else a.push(k, ...(v === "" ? [] : [v]));
  }
  return a;
}

Deno.test("reproduce: the user's own data and weights outside the checkout; changed flags are refused", async () => {
  const home = await Deno.makeTempDir({ prefix: "user-home-" });
  try {
    await fundusPhotos(join(home, "kaggle"), 40);
    // the data folder named through a link, as a mounted or linked Kaggle folder is
    await Deno.symlink(join(home, "kaggle"), join(home, "photos"));
    const spec = paramSpecs("cbr_tiny", { classes: 1000, inputSize: 32 });
    await Deno.mkdir(join(home, "weights"));
    await writeSafetensors(join(home, "weights", "tiny.safetensors"), randomInit(spec, "imagenet-stand-in"));
    // a manifest.json of the user's own beside the data is none of ours
    await Deno.writeTextFile(join(home, "manifest.json"), "my own notes, not JSON");

    const first = await task("reproduce", STUDY, home);
    assert.equal(first.code, 0, first.stderr.slice(-3000));
    const out = join(home, "out");
    assert.ok(await exists(join(out, "report.md")), "the report is in the user's --out");
    const analysed = await readJson<{ runs: unknown[]; missing: unknown[] }>(join(out, "analysis.json"));
    assert.deepEqual(
      [analysed.runs.length, analysed.missing],
      [2, []],
      "the analysis takes both runs as this study's",
    );
    const run = join(out, "cbr_tiny-transfer-s0");
    const done = await Deno.readTextFile(join(run, "done.json"));
    const cfg = await readJson<{ identity: Record<string, unknown> }>(join(run, "config.json"));
    assert.equal(cfg.identity.epochs, 1);
    assert.match(String(cfg.identity.weights), /^[0-9a-f]{64}$/, "the pretrained weights' hash is recorded");
    assert.match(String(cfg.identity.cache), /^[0-9a-f]{64}$/, "the cache's hash is recorded");

    // changed flags: refused before any work, one line naming each difference and the ways out
    for (
      const [over, want] of [
        [{ "--epochs": "2" }, /epochs 1 \(now 2\)/],
        [{ "--lr": "0.01" }, /lr 0\.001 \(now 0\.01\)/],
        [{ "--probe-count": "6" }, /probeCount 8 \(now 6\)/],
        [{ "--size": "40" }, /size 32 \(now 40\)/],
      ] as [Record<string, string>, RegExp][]
    ) {
      const r = await task("reproduce", flags(over), home);
      assert.equal(r.code, 1, `${JSON.stringify(over)} was not refused:\n${r.stderr}`);
      const line = r.stderr.split("\n").find((l) => l.startsWith("preflight:"))!;
      assert.ok(line, r.stderr);
      assert.match(line, want);
      assert.match(line, /2 run folder\(s\) .* were trained with other settings/);
      assert.match(line, /new --out, or pass --retrain/);
      assert.equal(
        await Deno.readTextFile(join(run, "done.json")),
        done,
        "the finished run was left as it was",
      );
    }

    // an analysis asked with other settings never mixes these runs in: they are named as missing, with why
    const an = await task("analyze", flags({ "--probe-count": "6" }), home);
    assert.equal(an.code, 0, an.stderr);
    const analysis = await readJson<{ runs: unknown[]; missing: { id: string; reason: string }[] }>(
      join(out, "analysis.json"),
    );
    assert.equal(analysis.runs.length, 0);
    assert.deepEqual(analysis.missing.map((m) => m.reason), [
      "trained with other settings: probeCount 8 (now 6)",
      "trained with other settings: probeCount 8 (now 6)",
    ]);

    // other data under the same flags (a photo more in the user's folder): the train step sees the cache
    await fundusPhotos(join(home, "kaggle"), 44);
    const more = await task("reproduce", STUDY, home);
    assert.equal(more.code, 1, more.stderr);
    assert.match(
      more.stderr,
      /train: 2 run folder\(s\) .* other settings \(cbr_tiny-random-s0: cache sha256 /,
    );

    // an interrupted run resumed with another --lr is refused too (it continued silently before)
    await Deno.remove(join(run, "done.json"));
    const resumed = await task("reproduce", flags({ "--lr": "0.01" }), home);
    assert.equal(resumed.code, 1, resumed.stderr);
    assert.match(resumed.stderr, /cbr_tiny-transfer-s0: lr 0\.001 \(now 0\.01\)/);

    // --retrain: the changed runs go to OUT/discarded/ and train again
    const again = await task("reproduce", flags({ "--epochs": "2", "--retrain": "" }), home);
    assert.equal(again.code, 0, again.stderr.slice(-3000));
    assert.match(
      again.stderr,
      /cbr_tiny-random-s0 was trained with other settings \(.*epochs 1 \(now 2\).*\): moved to /,
    );
    assert.equal((await readJson<{ epochs: number }>(join(run, "done.json"))).epochs, 2);
    const aside = [...Deno.readDirSync(join(out, "discarded"))].map((e) => e.name);
    assert.equal(aside.length, 2, aside.join());
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("reproduce: a run folder that is a link out of the study is refused, nothing written there", async () => {
  const home = await Deno.makeTempDir({ prefix: "user-home-" });
  try {
    await fundusPhotos(join(home, "kaggle"), 40);
    await Deno.symlink(join(home, "kaggle"), join(home, "photos"));
    await Deno.mkdir(join(home, "out"));
    await Deno.mkdir(join(home, "elsewhere"));
    await Deno.symlink(join(home, "elsewhere"), join(home, "out", "cbr_tiny-random-s0"));
    const r = await task("reproduce", without(flags({ "--inits": "random" }), "--weights"), home);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cbr_tiny-random-s0 leads to .*elsewhere, outside the study folder/);
    assert.deepEqual(
      [...Deno.readDirSync(join(home, "elsewhere"))],
      [],
      "nothing was written through the link",
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("reproduce: --data as a CSV listing outside the checkout reads the photos beside it", async () => {
  const home = await Deno.makeTempDir({ prefix: "user-home-" });
  try {
    const photos = join(home, "photos");
    await fundusPhotos(photos, 40);
    const rows = (await Deno.readTextFile(join(photos, "trainLabels.csv"))).trim().split("\n").slice(1)
      .map((l) => l.split(",")).map(([image, level]) => `${image}.jpeg,${level}`);
    await Deno.remove(join(photos, "trainLabels.csv"));
    await Deno.writeTextFile(join(photos, "list.csv"), ["path,label", ...rows].join("\n") + "\n");
    const args = without(flags({ "--data": "photos/list.csv", "--inits": "random" }), "--weights");
    const r = await task("reproduce", args, home);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    assert.ok(await exists(join(home, "out", "report.md")));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("tools: synth, preprocess and predict take paths relative to the user's folder, anywhere on disk", async () => {
  const home = await Deno.makeTempDir({ prefix: "user-home-" });
  try {
    // a step's help, run through the scoped launcher, still names its own flags beside the study's
    const help = await new Deno.Command(Deno.execPath(), {
      args: [...TASKS.report.split(/\s+/).slice(1), "--help"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.match(new TextDecoder().decode(help.stdout), /--dir DIR[\s\S]*--epochs N/);
    const ran = await task(
      "synth",
      ["--out", "photos", "--count", "3", "--seed", "1", "--width", "96"],
      home,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(await exists(join(home, "photos", "trainLabels.csv")), "synth wrote into the user's folder");
    const pre = await task("preprocess", ["--data", "photos", "--out", "cache", "--size", "16"], home);
    assert.equal(pre.code, 0, pre.stderr);
    assert.ok(await exists(join(home, "cache", "manifest.json")));
    const spec = paramSpecs("cbr_tiny", { classes: 5, inputSize: 32 });
    await writeSafetensors(join(home, "w.safetensors"), randomInit(spec, "w"));
    const p = await task(
      "predict",
      [
        "--model",
        "cbr_tiny",
        "--weights",
        "w.safetensors",
        "--input",
        "photos",
        "--size",
        "32",
        "--out",
        "l.csv",
      ],
      home,
    );
    assert.equal(p.code, 0, p.stderr);
    assert.equal((await Deno.readTextFile(join(home, "l.csv"))).trim().split("\n").length, 4);
    // with --allow-outside-paths, preprocess may read a listing's photos anywhere (its read is not scoped)
    const elsewhere = await Deno.makeTempDir({ prefix: "elsewhere-" });
    try {
      await Deno.copyFile(join(home, "photos", "1_left.jpeg"), join(elsewhere, "x.jpeg"));
      await Deno.writeTextFile(join(home, "list.csv"), `path,label\n${join(elsewhere, "x.jpeg")},0\n`);
      const out = await task(
        "preprocess",
        ["--data", "list.csv", "--out", "c2", "--size", "16", "--allow-outside-paths", "--strict"],
        home,
      );
      assert.equal(out.code, 0, `--allow-outside-paths reads anywhere:\n${out.stderr}`);
    } finally {
      await Deno.remove(elsewhere, { recursive: true });
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
