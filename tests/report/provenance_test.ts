import { sha256File } from "../../lib/util/fs.ts";
import assert from "node:assert/strict";
import {
  collectProvenance,
  gitCommit,
  PINNED_VERSIONS,
  rerunCommand,
  shellQuote,
} from "../../lib/study/provenance.ts";
import { resolveConfig } from "../../lib/study/config.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";

Deno.test("provenance: git commit from loose refs, packed refs, detached HEAD and worktrees", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await gitCommit(dir), { commit: "unknown", branch: null });
    await Deno.mkdir(`${dir}/.git/refs/heads`, { recursive: true });
    await Deno.writeTextFile(`${dir}/.git/HEAD`, "ref: refs/heads/main\n");
    assert.deepEqual(await gitCommit(dir), { commit: "unknown", branch: "main" }, "no commit yet");
    await Deno.writeTextFile(`${dir}/.git/packed-refs`, `# pack-refs with: peeled\n${SHA} refs/heads/main\n`);
    assert.deepEqual(await gitCommit(dir), { commit: SHA, branch: "main" });
    const other = SHA.replace("0", "f");
    await Deno.writeTextFile(`${dir}/.git/refs/heads/main`, `${other}\n`);
    assert.deepEqual(await gitCommit(dir), { commit: other, branch: "main" }, "loose ref wins");
    await Deno.writeTextFile(`${dir}/.git/HEAD`, `${SHA}\n`);
    assert.deepEqual(await gitCommit(dir), { commit: SHA, branch: null });
    // a linked worktree: .git is a file; HEAD in its folder, refs in the common one
    await Deno.mkdir(`${dir}/.git/worktrees/wt`, { recursive: true });
    await Deno.writeTextFile(`${dir}/.git/worktrees/wt/HEAD`, "ref: refs/heads/main\n");
    await Deno.writeTextFile(`${dir}/.git/worktrees/wt/commondir`, "../..\n");
    await Deno.mkdir(`${dir}/wt`);
    await Deno.writeTextFile(`${dir}/wt/.git`, `gitdir: ${dir}/.git/worktrees/wt\n`);
    assert.deepEqual(await gitCommit(`${dir}/wt`), { commit: other, branch: "main" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("provenance: sha256 of files, and unreadable files do not stop it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/abc`, "abc");
    assert.equal(
      await sha256File(`${dir}/abc`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    await assert.rejects(sha256File(`${dir}/nope`), /Cannot read .*nope/);
    await Deno.writeTextFile(`${dir}/deno.lock`, "{}");
    const config = resolveConfig([
      "--preset",
      "synthetic",
      "--weights",
      `cbr_small=${dir}/abc,cbr_tiny=${dir}/missing.onnx`,
    ]);
    const p = await collectProvenance({
      config,
      root: dir,
      argv: ["--x"],
      dataManifest: `${dir}/abc`,
      gpu: null,
    });
    assert.equal(p.gitCommit, "unknown");
    assert.equal(p.denoLock?.sha256, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    assert.equal(p.dataManifest?.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.deepEqual(p.weights.map((w) => [w.model, w.sha256 === null]), [["cbr_small", false], [
      "cbr_tiny",
      true,
    ]]);
    assert.deepEqual(p.argv, ["--x"]);
    assert.equal(p.versions.deno, Deno.version.deno);
    assert.equal(p.versions["onnxruntime-node"], PINNED_VERSIONS.onnxruntime);
    assert.ok(p.machine.cores >= 1 && p.machine.memoryGiB > 0 && p.machine.cpu.length > 0);
    assert.equal(p.machine.gpu, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("provenance: pinned versions match deno.json's imports", async () => {
  const deno = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(deno.imports["onnxruntime-node"], `npm:onnxruntime-node@${PINNED_VERSIONS.onnxruntime}`);
  assert.equal(deno.imports.sharp, `npm:sharp@${PINNED_VERSIONS.sharp}`);
  assert.equal(deno.imports.vega, `npm:vega@${PINNED_VERSIONS.vega}`);
  assert.equal(deno.imports["vega-lite"], `npm:vega-lite@${PINNED_VERSIONS.vegaLite}`);
  // and the specifiers the report's own code imports
  const figures = await Deno.readTextFile(new URL("../../lib/report/figures.ts", import.meta.url));
  for (const spec of [`npm:vega@${PINNED_VERSIONS.vega}`, `npm:vega-lite@${PINNED_VERSIONS.vegaLite}`]) {
    assert.ok(figures.includes(`"${spec}"`), spec);
  }
  assert.ok(figures.includes(`"npm:sharp@${PINNED_VERSIONS.sharp}"`));
});

Deno.test("provenance: the rerun command reproduces the configuration", () => {
  const config = resolveConfig([
    "--preset",
    "paper",
    "--data",
    "/data/my kaggle's",
    "--inits",
    "random",
    "--shard",
    "1/4",
  ]);
  const cmd = rerunCommand(config);
  assert.ok(cmd.startsWith(`npx -y deno@${Deno.version.deno} task reproduce --preset paper `), cmd);
  assert.ok(!cmd.includes("--shard"), "a reader reruns the whole grid");
  assert.ok(cmd.includes(`--data '/data/my kaggle'"'"'s'`), cmd);
  assert.equal(shellQuote("a=b,c/d.onnx"), "a=b,c/d.onnx");
  assert.equal(shellQuote("x y"), "'x y'");
  assert.equal(shellQuote(""), "''");
});
