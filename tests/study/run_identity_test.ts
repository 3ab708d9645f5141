// What a run folder's identity compares (issue 23, item 2): every setting a run's result follows from, read
// from new and old config.json files alike; not where or how fast it ran.
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../../lib/study/config.ts";
import { identityDiff, readRunIdentity, runIdentity } from "../../lib/study/run_identity.ts";

const RUN = { model: "cbr_small", init: "random", seed: 0 } as const;

Deno.test("run identity: other synthetic data, probe photos or lr differ; threads and device do not", () => {
  const base = resolveConfig(["--preset", "synthetic"]);
  const want = runIdentity(base, RUN, 64);
  const other = (argv: string[]) =>
    identityDiff(want, runIdentity(resolveConfig(["--preset", "synthetic", ...argv]), RUN, 64));
  assert.deepEqual(other(["--data", "synthetic:240"]), [
    "data synthetic:count=600,seed=2019,width=384 (now synthetic:count=240,seed=2019,width=384)",
  ]);
  assert.deepEqual(other(["--probe-count", "50"]), ["probeCount 200 (now 50)"]);
  assert.deepEqual(other(["--lr", "0.01", "--epochs", "4"]), [
    "epochs 3 (now 4)",
    "lr 0.001 (now 0.01)",
  ]);
  assert.deepEqual(other(["--threads", "1", "--device", "webgpu", "--out", "/elsewhere"]), []);
  // known only later: a side that does not know a field yet does not compare it
  assert.deepEqual(identityDiff({ ...want, cache: "a".repeat(64) }, want), []);
  assert.deepEqual(identityDiff({ ...want, cache: "a".repeat(64) }, { ...want, cache: "b".repeat(64) }), [
    `cache sha256 ${"a".repeat(12)}… (now sha256 ${"b".repeat(12)}…)`,
  ]);
});

Deno.test("run identity: a run folder written before identities were recorded is read from its config.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readRunIdentity(dir), null, "no config.json: nothing was started");
    const c = resolveConfig(["--preset", "synthetic", "--epochs", "2"]);
    await Deno.writeTextFile(
      join(dir, "config.json"),
      JSON.stringify({
        run: { ...RUN, id: "cbr_small-random-s0" },
        study: { ...c, out: ".." },
        model: "cbr_small",
        seed: 0,
        classes: 5,
        size: 64,
        manifestHash: "c".repeat(64),
      }),
    );
    const old = (await readRunIdentity(dir))!;
    const now = runIdentity(resolveConfig(["--preset", "synthetic", "--epochs", "3"]), RUN, 64);
    assert.deepEqual(identityDiff(old, now), ["epochs 2 (now 3)"]);
    assert.equal(old.cache, "c".repeat(64));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run identity: a run trained with tuned convs (--tune-convs, since removed) counts as other settings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = resolveConfig(["--preset", "synthetic"]);
    const now = runIdentity(c, RUN, 64);
    assert.equal(now.tuneConvs, false);
    const path = join(dir, "config.json");
    // a folder with a recorded identity
    await Deno.writeTextFile(path, JSON.stringify({ identity: { ...now, tuneConvs: true } }));
    assert.deepEqual(identityDiff((await readRunIdentity(dir))!, now), ["tuneConvs true (now false)"]);
    // one written before identities were recorded: the study's flags, tuneConvs among them
    await Deno.writeTextFile(path, JSON.stringify({ run: RUN, study: { ...c, tuneConvs: true }, size: 64 }));
    assert.deepEqual(identityDiff((await readRunIdentity(dir))!, now), ["tuneConvs true (now false)"]);
    await Deno.writeTextFile(path, JSON.stringify({ run: RUN, study: { ...c, tuneConvs: false }, size: 64 }));
    assert.deepEqual(identityDiff((await readRunIdentity(dir))!, now), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
