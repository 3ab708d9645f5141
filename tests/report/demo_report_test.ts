// One source for the findings (issue 26): the committed default report (docs/demo-report.md, its figures and
// its analysis.json, refreshed by scripts/demo_report.ts) is what the current code renders from that
// analysis, README's answer block is the report's, and every number of the block is the analysis's. No
// training here: a re-render of the committed analysis.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  committedAnalysis,
  MARKERS,
  renderCommitted,
  REPORT,
  REPORT_DIR,
  ROOT,
} from "../../scripts/demo_report.ts";
import { MEDMNIST_RETINA, MODEL_LABELS } from "../../lib/report/published.ts";

const REFRESH =
  "run `deno run -A scripts/demo_report.ts` (or `--no-run --out DIR` on a finished default study)";

/** The bullets of a Markdown block, each joined into one line (deno fmt wraps README's). */
function bullets(block: string): string[] {
  return block.split(/\n(?=- )/).map((b) => b.replace(/\s+/g, " ").trim()).filter((b) => b.startsWith("- "));
}

/** The report's answer block: the bullets under "## The answers". */
function reportAnswers(md: string): string[] {
  const from = md.indexOf("## The answers\n");
  assert.ok(from >= 0, `${REPORT} has no "## The answers" section`);
  const to = md.indexOf("\n## ", from + 1);
  return bullets(md.slice(from, to).split("\n").slice(1).join("\n"));
}

Deno.test("demo report: the committed report and figures are what the code renders from the committed analysis", async () => {
  const built = await renderCommitted();
  const md = await Deno.readTextFile(join(ROOT, REPORT));
  assert.ok(
    md === built.markdown,
    `${REPORT} is not what the code renders from its analysis.json: ${REFRESH}`,
  );
  const dir = join(ROOT, REPORT_DIR, "figures");
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(files, built.figures.flatMap((f) => [`${f.name}.svg`, `${f.name}.vl.json`]).sort());
  for (const f of built.figures) {
    const svg = await Deno.readTextFile(join(dir, `${f.name}.svg`));
    assert.ok(svg === f.svg, `${REPORT_DIR}/figures/${f.name}.svg differs: ${REFRESH}`);
    const spec = await Deno.readTextFile(join(dir, `${f.name}.vl.json`));
    assert.ok(spec === JSON.stringify(f.spec, null, 2) + "\n", `${f.name}.vl.json differs: ${REFRESH}`);
  }
  // the answers come first, before the dense detail
  assert.ok(md.indexOf("## The answers") < md.indexOf("## What this run shows"));
  assert.ok(md.indexOf("## The answers") < md.indexOf("## Setting"));
});

Deno.test("demo report: README's answer block is the committed report's", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const [a, b] = [readme.indexOf(MARKERS[0]), readme.indexOf(MARKERS[1])];
  assert.ok(a >= 0 && b > a, `README.md lacks the ${MARKERS.join(" … ")} markers`);
  const block = bullets(readme.slice(a + MARKERS[0].length, b));
  const md = await Deno.readTextFile(join(ROOT, REPORT));
  assert.deepEqual(block, reportAnswers(md), `README.md's answer block differs from ${REPORT}'s: ${REFRESH}`);
});

Deno.test("demo report: the answer block is at most six lines, answers the questions, and every number is the analysis's", async () => {
  const answers = reportAnswers(await Deno.readTextFile(join(ROOT, REPORT)));
  assert.ok(answers.length >= 4 && answers.length <= 6, `${answers.length} lines`);
  for (
    const q of [
      "**Does transfer beat random?**",
      "**How much faster?**",
      "**Where do the representations differ?**",
      "**Chosen on val:**",
    ]
  ) {
    assert.ok(answers.some((l) => l.startsWith(`- ${q}`)), `no line answers ${q}`);
  }
  const verdict = answers.find((l) => l.includes("**Does transfer beat random?**"))!;
  assert.match(
    verdict,
    /: (yes, significantly|no measurable difference|no: random is significantly better) on the seed-averaged predictions — .*; seed by seed (significant|inconclusive|no measurable difference) \(/,
  );

  // the numbers the block may print: the analysis's summaries (comparisons and each one's difference,
  // the per-init summaries without their curves, the convergence rules, each run's steps and counts), the
  // published rows it is set against, and the rules' constants; not the thousands of per-evaluation AUCs,
  // among which any made-up AUC would find its match
  const a = await committedAnalysis();
  const values: number[] = [0.05, 0.5];
  const walk = (v: unknown) => {
    if (typeof v === "number") values.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk([
    a.comparisons,
    a.summary!.map((g) => ({ ...g, curve: undefined })),
    a.convergence,
    a.runs.map((r) => r.stepsToTarget),
  ]);
  // and counts ("2 of 9 layers", "3 of 3 seeds"): whole numbers up to the layers or seeds there are
  const counts = Math.max(a.config.seeds.length, ...a.similarity.map((r) => r.layerIndex + 1));
  for (let k = 0; k <= counts; k++) values.push(k);
  for (const c of a.comparisons) values.push(c.aucA - c.aucB, 100 * (c.ciLevel ?? 0.95));
  for (const r of MEDMNIST_RETINA) values.push(r.auc);
  let checked = 0;
  for (const line of answers) {
    // layer names (`features.0`), model labels ("SqueezeNet 1.1"), sources and seeds ("s1") are names
    let text = line.replace(/`[^`]*`/g, "").replace(/\bs\d+\b/g, "").replaceAll("MedMNIST v2", "");
    for (const label of Object.values(MODEL_LABELS)) text = text.replaceAll(label, "");
    for (const m of text.matchAll(/([+−-]?)(\d+(?:\.\d+)?)/g)) {
      const digits = m[2].split(".")[1]?.length ?? 0;
      const v = (m[1] === "−" || m[1] === "-" ? -1 : 1) * Number(m[2]);
      const tol = 0.5 * 10 ** -digits + 1e-9;
      // an unsigned number may be a magnitude (a "p 0.002", a count): either sign matches
      const ok = values.some((x) => Math.abs(x - v) <= tol || (m[1] === "" && Math.abs(-x - v) <= tol));
      assert.ok(ok, `"${m[0]}" in "${line.slice(0, 60)}…" is no number of the analysis`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} numbers checked`);

  // and each headline number in its place, from the analysis field it states
  const line = (q: string) => answers.find((l) => l.includes(q))!;
  const f3 = (x: number) => x.toFixed(3), s3 = (x: number) => `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(3)}`;
  const pooled = a.comparisons.find((c) =>
    c.model === "squeezenet1_1" && c.a === "transfer" && c.b === "random" && c.metric === "macro" &&
    c.seed === null
  )!;
  assert.ok(
    line("**Does transfer beat random?**").includes(
      `transfer − random ${s3(pooled.aucA - pooled.aucB)} test macro AUC at the epochs chosen on val ` +
        `(95 % CI [${s3(pooled.ciLow)}, ${s3(pooled.ciHigh)}], p ${
          pooled.p < 0.01 ? pooled.p.toFixed(3) : pooled.p.toFixed(2)
        })`,
    ),
  );
  const rule = a.convergence!.find((r) => r.model === "squeezenet1_1")!;
  const speed = a.summary!.find((g) => g.model === "squeezenet1_1" && g.init === "transfer")!.speed!;
  assert.ok(
    line("**How much faster?**").includes(
      `steps to val macro AUC ${
        f3(rule.target)
      } (${rule.fraction} of the way from 0.5 to random init's best ` +
        `val AUC, ${f3(rule.randomBest!.mean)}): transfer ${speed.ratio.mean.toFixed(2)} ± ` +
        `${speed.ratio.std.toFixed(2)} times random's steps (${speed.ratio.n} of 3 seeds`,
    ),
  );
  const best = [...a.summary!].sort((x, y) => y.best!.valAucMacro.mean - x.best!.valAucMacro.mean)[0];
  assert.ok(
    line("**Chosen on val:**").includes(
      `(mean val macro AUC ${f3(best.best!.valAucMacro.mean)}) scores test macro AUC ` +
        `${f3(best.best!.testAucMacro.mean)} ± ${f3(best.best!.testAucMacro.std)}`,
    ),
  );
});
