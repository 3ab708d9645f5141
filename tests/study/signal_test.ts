// A SIGTERM to `reproduce` (issue 11, item 2) reaches the step under way, which releases its locks and exits
// with one line, keeping its last checkpoint; then reproduce exits too and no process is left behind.
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../lib/util/fs.ts";

const REPRODUCE = new URL("../../tasks/reproduce.ts", import.meta.url).pathname;

async function locksUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) found.push(...await locksUnder(p));
    else if (e.name === ".lock") found.push(p);
  }
  return found;
}

Deno.test("reproduce: SIGTERM during training stops every process, keeps the checkpoint, frees the locks", async () => {
  const out = await Deno.makeTempDir({ prefix: "sigterm-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      // the permissions of `deno task reproduce`
      args: [
        "run",
        "--allow-read",
        "--allow-run",
        "--allow-env",
        REPRODUCE,
        ...["--data", "synthetic:60", "--size", "32", "--epochs", "50", "--source", "none"],
        ...[
          "--baselines",
          "none",
          "--models",
          "cbr_small",
          "--inits",
          "random",
          "--seeds",
          "0",
          "--out",
          out,
        ],
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const ckpt = join(out, "cbr_small-random-s0", "checkpoint.safetensors");
    const t0 = Date.now();
    while (!(await exists(ckpt)) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await exists(ckpt), "no checkpoint within two minutes");
    child.kill("SIGTERM");
    const r = await child.output();
    const err = new TextDecoder().decode(r.stderr).trim().split("\n");
    assert.equal(r.code, 143, err.join("\n"));
    assert.ok(err.some((l) => /^train: stopped by SIGTERM; /.test(l)), err.join("\n"));
    assert.match(err.at(-1)!, /^reproduce: stopped by SIGTERM during step train; finished work is kept/);
    assert.ok(await exists(ckpt), "the checkpoint is gone");
    assert.ok(!(await exists(join(out, "cbr_small-random-s0", "done.json"))));
    assert.deepEqual(await locksUnder(out), [], "locks left behind");
    // no process of this study remains (the step's deno is a child of reproduce's)
    const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,args="] }).output();
    const left = new TextDecoder().decode(ps.stdout).split("\n").filter((l) => l.includes(out));
    assert.deepEqual(left, [], "processes left behind");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
