// A copied study folder works where it is (issue 11, item 3): `cp -a B Bt; deno task report --out Bt` used to
// rewrite B/report.md and B/figures, because analysis.json stored the absolute --out.
import assert from "node:assert/strict";
import { join } from "node:path";
import { analyzeStudy } from "../../lib/study/analyze.ts";
import { loadAnalysis } from "../../lib/study/analysis_file.ts";
import { resolveConfig } from "../../lib/study/config.ts";
import { exists, writeJsonAtomic } from "../../lib/util/fs.ts";
import { main as reportMain } from "../../tasks/report.ts";
import { fakeResults } from "../report/fake_results.ts";

async function cpA(from: string, to: string): Promise<void> {
  const r = await new Deno.Command("cp", { args: ["-a", from, to] }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

Deno.test("copy: the report of a copied study folder is written into the copy only", async () => {
  const root = await Deno.makeTempDir();
  try {
    const B = join(root, "B"), Bt = join(root, "Bt");
    // an analysis as analyze writes it, here as earlier versions did: with the absolute --out inside
    const r = fakeResults();
    await writeJsonAtomic(join(B, "analysis.json"), {
      ...r,
      config: { ...r.config, out: B },
      provenance: { ...r.provenance, config: { ...r.provenance.config, out: B } },
      analysis: { version: 1, fingerprint: "x", createdAt: "", seconds: 0, bootstrapReps: 10, level: 0.95 },
    });
    await cpA(B, Bt);
    const before = [...Deno.readDirSync(B)].map((e) => e.name).sort();
    assert.equal(await reportMain(["--out", Bt]), 0);
    assert.ok(await exists(join(Bt, "report.md")), "no report in the copy");
    assert.ok(await exists(join(Bt, "figures")), "no figures in the copy");
    assert.deepEqual([...Deno.readDirSync(B)].map((e) => e.name).sort(), before, "the original was written");
    assert.ok(!(await exists(join(Bt, ".lock"))), "the report left its lock");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("copy: analysis.json stores the study folder as '.', read back as the folder it is in", async () => {
  const root = await Deno.makeTempDir();
  try {
    const B = join(root, "B"), Bt = join(root, "Bt");
    await Deno.mkdir(B);
    const config = resolveConfig(["--inits", "random,transfer", "--seeds", "0", "--out", B], {
      requireInputs: false,
    });
    await analyzeStudy(config, { bootstrapReps: 10 });
    const raw = JSON.parse(await Deno.readTextFile(join(B, "analysis.json")));
    assert.equal(raw.config.out, ".");
    assert.equal(raw.provenance.config.out, ".");
    assert.ok(!JSON.stringify(raw).includes(B), "analysis.json names the study folder's absolute path");
    await cpA(B, Bt);
    const back = await loadAnalysis(join(Bt, "analysis.json"));
    assert.equal(back.config.out, Bt);
    assert.equal(back.provenance.config.out, Bt);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
