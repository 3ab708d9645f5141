import assert from "node:assert/strict";
import { answers, buildReport, holm, summarise, writeReport } from "../../lib/report/report.ts";
import { renderSvg, svgToPng } from "../../lib/report/figures.ts";
import { MEDMNIST_RETINA, PUBLISHED } from "../../lib/report/published.ts";
import { fakeResults } from "./fake_results.ts";

// A minimal XML well-formedness check: every tag closes in order, attributes are quoted.
function assertWellFormedSvg(svg: string): void {
  assert.ok(svg.startsWith("<svg"), "starts with <svg");
  assert.ok(svg.trimEnd().endsWith("</svg>"), "ends with </svg>");
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = tag.exec(svg))) {
    assert.ok(!/[<>]/.test(svg.slice(consumed, m.index)), `stray markup before offset ${m.index}`);
    consumed = m.index + m[0].length;
    if (m[1]) assert.equal(stack.pop(), m[2], `closing </${m[2]}>`);
    else if (!m[4]) stack.push(m[2]);
  }
  assert.deepEqual(stack, [], "all tags closed");
}

const SECTIONS = [
  "# Transfusion reproduction: `synthetic` preset",
  "## What this run shows",
  "## Setting",
  "## Results", // synthetic photos: no published row belongs beside them
  "## Significance between inits",
  "## Convergence speed",
  "## AUC per epoch",
  "## Representation similarity (SVCCA, PWCCA, CKA)",
  "## Missing runs",
  "## Provenance",
];

Deno.test("report: all sections, tables and figures from fabricated results", async () => {
  const { markdown, figures } = await buildReport(fakeResults());
  let at = -1;
  for (const s of SECTIONS) {
    const i = markdown.indexOf(s);
    assert.ok(i > at, `section in order: ${s}`);
    at = i;
  }
  assert.deepEqual(figures.map((f) => f.name), ["auc-cbr_small", "cca-cbr_small"]);
  for (const f of figures) {
    assertWellFormedSvg(f.svg);
    assert.ok(markdown.includes(`](figures/${f.name}.svg)`), `${f.name} embedded`);
    assert.ok(markdown.includes(`figures/${f.name}.vl.json`), `${f.name} spec linked`);
  }
  // synthetic photos: no published row beside them; missing run named with its reason
  assert.match(markdown, /\| CBR-Small \| transfer \| \d+\.\d\d ± \d+\.\d\d \|/);
  assert.ok(!markdown.includes("Raghu, RETINA |"), "no published column beside synthetic photos");
  assert.match(markdown, /\| cbr_small-meanvar-s2 \| interrupted after epoch 3 of 6 \|/);
  assert.match(markdown, /1 of 9 runs is missing/);
  // significance: Holm column and the not-significant phrasing
  assert.match(markdown, /meanvar − random: \+\d\.\d\d referable-AUC points on average, not significant/);
  assert.match(markdown, /\| p \(Holm\) \|/);
  // convergence and CCA final layer
  assert.match(markdown, /\| CBR-Small \| transfer \| 3\/3 \| \d+ \|/);
  assert.match(markdown, /Final hidden layer \(`pool`\)/);
  assert.match(markdown, /\| random-vs-random \| 0\.\d{3} ± 0\.\d{3} \|/);
  // provenance: rerun command and resolved config
  assert.ok(markdown.includes("npx -y deno@2.9.6 task reproduce"));
  assert.ok(markdown.includes('"probeCount": 200'));
  assert.ok(!/NaN|undefined|\[object/.test(markdown), "no unformatted values");
});

Deno.test("report: mean ± sd cells are the mean and the n − 1 sd of the seeds, exactly", async () => {
  const r = fakeResults();
  const finals: Record<number, [number, number, number]> = {
    0: [0.81, 0.70, 0.50],
    1: [0.84, 0.75, 0.62],
    2: [0.93, 0.86, 0.71],
  };
  r.runs = r.runs.map((x) => {
    if (x.init !== "transfer") return x;
    const [aucReferable, aucMacro, kappa] = finals[x.seed];
    return { ...x, final: { ...x.final, aucReferable, aucMacro, kappa } };
  });
  const { markdown } = await buildReport(r);
  // referable: mean 0.86, sd √(0.0039) = 0.06245 (n: 0.05099); macro: 0.77, √(0.0067) = 0.08185;
  // kappa: 0.61, √(0.0111) = 0.10536 — the first seed alone would print 81.00 / 70.00 / 0.500
  assert.match(
    markdown,
    /\| CBR-Small \| transfer \|(?: — \|)* 86\.00 ± 6\.24 \| 77\.00 ± 8\.19 \| 0\.610 ± 0\.105 \| 3 \|/,
  );
  // the plain-words summary ranks by the same mean
  assert.match(markdown, /transfer 86\.00 ± 6\.24/);
});

Deno.test("report: every published number, by value", async () => {
  // Raghu et al. 2019 (arXiv 1902.07208): RETINA, moderate-DR AUC % (mean ± spread), and its very-small-data
  // setting (5 000 RETINA photos, no spread given); Zingo et al. (NeurIPS 2019 Reproducibility Challenge):
  // Kaggle EyePACS 2015. As transcribed in the project's design notes (shared/design/study.md).
  const papers: [string, string, string, number, number | null, number, number | null][] = [
    ["resnet50", "Raghu", "RETINA", 96.4, 0.05, 96.7, 0.04],
    ["inception_v3", "Raghu", "RETINA", 96.6, 0.13, 96.7, 0.05],
    ["cbr_large_t", "Raghu", "RETINA", 96.2, 0.04, 96.2, 0.04],
    ["resnet50", "Zingo", "Kaggle", 81.25, 0.02, 86.89, 0.03],
    ["inception_v3", "Zingo", "Kaggle", 86.57, 0.03, 93.1, 0.007],
    ["resnet50", "Raghu", "RETINA 5k", 92.2, null, 94.6, null],
    ["cbr_large_t", "Raghu", "RETINA 5k", 93.6, null, 93.9, null],
    ["cbr_large_w", "Raghu", "RETINA 5k", 93.6, null, 93.7, null],
  ];
  assert.deepEqual(
    PUBLISHED.map((r) => [r.model, r.source, r.data, r.random, r.randomSpread, r.transfer, r.transferSpread]),
    papers,
  );
  // MedMNIST v2 (Yang et al. 2023, Scientific Data), the RetinaMNIST benchmark at 28×28: test AUC and ACC
  const medmnist: [string, number, number][] = [
    ["ResNet-18 (28)", 0.717, 0.524],
    ["ResNet-50 (28)", 0.726, 0.528],
    ["auto-sklearn", 0.69, 0.515],
    ["AutoKeras", 0.719, 0.503],
    ["Google AutoML Vision", 0.75, 0.531],
  ];
  assert.deepEqual(MEDMNIST_RETINA.map((r) => [r.method, r.auc, r.acc]), medmnist);
  // and the report prints each beside a study on RetinaMNIST
  const r = fakeResults();
  r.config = { ...r.config, data: { kind: "path", path: "vendor/retinamnist.npz", format: "medmnist" } };
  const { markdown } = await buildReport(r);
  for (const [method, auc, acc] of medmnist) {
    assert.ok(markdown.includes(`| ${method} | ${auc.toFixed(3)} | ${acc.toFixed(3)} |`), method);
  }
});

Deno.test("report: published columns follow the setting (small data adds Raghu's 5k numbers)", async () => {
  const r = fakeResults();
  r.config = {
    ...r.config,
    trainSubset: 5000,
    models: ["resnet50"],
    preset: "small-data",
    data: { kind: "path", path: "/data/kaggle", format: "kaggle" },
  };
  r.runs = r.runs.map((x) => ({ ...x, model: "resnet50" }));
  r.comparisons = r.comparisons.map((x) => ({ ...x, model: "resnet50" }));
  r.similarity = [];
  const { markdown } = await buildReport(r);
  assert.match(markdown, /\| Raghu, RETINA \| Raghu, RETINA 5k \| Zingo, Kaggle \|/);
  assert.match(markdown, /\| ResNet-50 \| random \| 96\.4 ± 0\.05 \| 92\.2 \| 81\.25 ± 0\.02 \|/);
  assert.match(markdown, /\| ResNet-50 \| transfer \| 96\.7 ± 0\.04 \| 94\.6 \| 86\.89 ± 0\.03 \|/);
  assert.match(markdown, /No representation similarities were computed/);
});

Deno.test("report: on RetinaMNIST, MedMNIST's published rows and the test AUC at the epoch chosen on val", async () => {
  const r = fakeResults();
  r.config = { ...r.config, data: { kind: "path", path: "vendor/retinamnist.npz", format: "medmnist" } };
  // the best-val epoch: the one with the highest (fabricated) val macro AUC
  r.runs = r.runs.map((x) => {
    const rows = x.rows.map((row) => ({
      ...row,
      valAucMacro: row.testAucMacro + 0.01 * Math.sin(row.epoch),
    }));
    const b = rows.reduce((a, row) => (row.valAucMacro > a.valAucMacro ? row : a));
    const best = {
      epoch: b.epoch,
      valAucMacro: b.valAucMacro,
      testAucReferable: b.testAucReferable,
      testAucMacro: b.testAucMacro,
      testKappa: b.testKappa,
    };
    return { ...x, rows, best };
  });
  r.comparisons = r.comparisons.map((c) => ({ ...c, predictions: "best" as const }));
  const { markdown } = await buildReport(r);
  assert.ok(!markdown.includes("Raghu, RETINA |"), "the papers' rows belong to their own photos");
  assert.match(markdown, /\| ResNet-18 \(28\) \| 0\.717 \| 0\.524 \|/);
  assert.match(markdown, /\| Google AutoML Vision \| 0\.750 \| 0\.531 \|/);
  // each cell by value: mean ± (n − 1) sd over the seeds of the test scores at each run's best-val epoch
  const stat = (xs: number[]) => {
    const m = xs.reduce((p, q) => p + q, 0) / xs.length;
    return { m, sd: Math.sqrt(xs.reduce((p, q) => p + (q - m) ** 2, 0) / (xs.length - 1)) };
  };
  const cell = (xs: number[]) => `${stat(xs).m.toFixed(3)} ± ${stat(xs).sd.toFixed(3)}`;
  const groups = ["random", "transfer", "meanvar"].map((init) => {
    const runs = r.runs.filter((x) => x.init === init);
    return { init, runs, val: stat(runs.map((x) => x.best!.valAucMacro)).m };
  });
  for (const { init, runs } of groups) {
    const b = runs.map((x) => x.best!);
    const row = `| CBR-Small | ${init} | ${cell(b.map((x) => x.testAucMacro))} | ` +
      `${cell(b.map((x) => x.testAucReferable))} | ${cell(b.map((x) => x.testKappa))} | ` +
      `${stat(b.map((x) => x.epoch)).m.toFixed(1)} ± ${stat(b.map((x) => x.epoch)).sd.toFixed(1)} | ` +
      `${cell(runs.map((x) => x.final.aucMacro))} | ${runs.length} |`;
    assert.ok(markdown.includes(row), row);
  }
  // the headline: the init with the highest mean val macro AUC, then its mean test macro AUC
  const top = groups.reduce((p, q) => (q.val > p.val ? q : p));
  const headline =
    `Chosen on val (highest mean val macro AUC, ${top.val.toFixed(3)}): CBR-Small ${top.init}, ` +
    `test macro AUC ${stat(top.runs.map((x) => x.best!.testAucMacro)).m.toFixed(3)} — `;
  assert.ok(markdown.includes(headline), headline);
  const bySeed = (init: string) => r.runs.filter((x) => x.init === init).sort((p, q) => p.seed - q.seed);
  const d = bySeed("transfer").map((x, i) => x.best!.testAucMacro - bySeed("random")[i].best!.testAucMacro);
  const signed = (x: number) => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(3);
  assert.ok(markdown.includes(`transfer − random: ${d.map(signed).join(", ")} test macro AUC per seed`));
  assert.match(markdown, /test predictions of the epoch each chose on val/);
  assert.match(markdown, /Split: the dataset's own train \/ val \/ test/);
});

Deno.test("report: an empty study still writes a report that names every missing run", async () => {
  const r = fakeResults({ missing: [] });
  r.missing = r.runs.map((x) => ({
    id: x.id,
    model: x.model,
    init: x.init,
    seed: x.seed,
    reason: "not started",
  }));
  r.runs = [];
  r.comparisons = [];
  r.similarity = [];
  const { markdown, figures } = await buildReport(r);
  assert.equal(figures.length, 0);
  assert.match(markdown, /0 of 9 runs finished \(9 missing\)/);
  assert.match(markdown, /No run has finished yet/);
  for (const x of r.missing) assert.ok(markdown.includes(`| ${x.id} | not started |`), x.id);
  assert.ok(!/NaN|undefined/.test(markdown));
});

Deno.test("report: summary never calls a non-significant difference a win", () => {
  const r = fakeResults({ missing: [] });
  r.comparisons = r.comparisons.map((c) => ({ ...c, p: 0.3, ciLow: -0.01, ciHigh: 0.02 }));
  const text = summarise(r).join("\n");
  assert.match(
    text,
    /transfer − random: \+\d\.\d\d referable-AUC points on average, not significant \(DeLong p ≥ 0\.05 in all 3/,
  );
  r.comparisons = r.comparisons.map((c, i) => ({ ...c, p: i % 3 === 0 ? 0.01 : 0.2 }));
  assert.match(summarise(r).join("\n"), /significant in only 1 of 3 seeds' test sets: inconclusive/);
});

Deno.test("report: writeReport writes report, SVGs and specs that re-render identically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await writeReport(fakeResults(), dir);
    assert.equal(out.report, `${dir}/report.md`);
    const md = await Deno.readTextFile(out.report);
    assert.ok(md.startsWith("# Transfusion reproduction"));
    for (const f of out.figures) {
      const spec = JSON.parse(await Deno.readTextFile(f.spec));
      assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v6.json");
      assert.ok(Array.isArray(spec.data.values) && spec.data.values.length > 0, "data inline");
      assert.equal(await renderSvg(spec), await Deno.readTextFile(f.svg));
    }
    const leftovers = [...Deno.readDirSync(`${dir}/figures`)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, []);
    // the README's picture: the main figure as PNG
    const png = `${dir}/main.png`;
    await svgToPng(await Deno.readTextFile(out.figures[0].svg), png);
    const bytes = await Deno.readFile(png);
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    const width = new DataView(bytes.buffer).getUint32(16);
    assert.ok(width > 1000, `PNG at 2× density, width ${width}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: Holm adjustment and steps to reach a target", () => {
  const adj = holm([0.01, 0.04, 0.03]);
  assert.deepEqual(adj.map((x) => Math.round(x * 1e6) / 1e6), [0.03, 0.06, 0.06]);
  assert.deepEqual(holm([0.5, 0.9]), [1, 1]);
  assert.deepEqual(holm([0.02, 0.9]), [0.04, 0.9]);
  assert.deepEqual(holm([]), []);
  // steps to target come from the held-out curve (interpolated) unless the run states them
  const r = fakeResults({ missing: [] });
  const row = { trainLoss: 1, testAucMacro: 0.5, testKappa: 0, imagesPerSec: 1, wallSec: 1 };
  r.runs[0].rows = [
    { ...row, epoch: 2, step: 20, testAucReferable: 0.9 },
    { ...row, epoch: 1, step: 10, testAucReferable: 0.7 },
    { ...row, epoch: 1, step: 10, testAucReferable: 0.7 },
  ];
  r.runs[1].stepsToTarget = null;
  return buildReport(r).then(({ markdown }) => {
    assert.match(markdown, /\| CBR-Small \| random \| 3\/3 \| \d+ \| s0: 15, s1: \d+, s2: \d+ \|/);
    assert.match(markdown, /\| CBR-Small \| transfer \| 2\/3 \| \d+ \| s0: —, s1: \d+, s2: \d+ \|/);
  });
});

Deno.test("report: the answer block comes first, in at most six lines, worded by the tables' rules", async () => {
  const r = fakeResults();
  const lines = answers(r);
  assert.ok(lines.length <= 6, `${lines.length} lines`);
  assert.match(lines[0], /^\*\*Synthetic photos\*\*/);
  assert.match(lines[1], /^\*\*1 of 9 runs are missing\*\*: the answers cover the 8 finished ones\.$/);
  const { markdown } = await buildReport(r);
  assert.ok(markdown.indexOf("## The answers") < markdown.indexOf("## What this run shows"));
  assert.ok(markdown.includes(lines.map((l) => `- ${l}`).join("\n")));

  // the verdict: on the seed-averaged predictions where there are some, then seed by seed (the tables' rule:
  // significant in every seed's test set and one direction, in none, or in some)
  const beat = (p: (seed: number) => number) => {
    const x = fakeResults({ missing: [] });
    x.comparisons = x.comparisons.map((c) => ({ ...c, p: p(c.seed!) }));
    return answers(x).find((l) => l.startsWith("**Does transfer beat random?**"))!;
  };
  assert.match(
    beat(() => 0.3),
    /CBR-Small: no measurable difference seed by seed — transfer − random [+−]\d\.\d\d points/,
  );
  assert.match(beat(() => 0.3), /p < 0\.05 in 0 of 3 seeds' test sets/);
  assert.match(beat(() => 0.001), /CBR-Small: significant seed by seed — /);
  assert.match(
    beat((s) => (s === 0 ? 0.001 : 0.3)),
    /CBR-Small: inconclusive seed by seed — .*p < 0\.05 in 1 of 3/,
  );
  // with seed-averaged predictions, their test comes first and the seeds' reading follows
  const pooled = (p: number, d: number) => {
    const x = fakeResults({ missing: [] });
    const c = x.comparisons.find((c) => c.a === "transfer" && c.b === "random")!;
    x.comparisons.push({ ...c, seed: null, p, aucA: c.aucB + d, ciLow: d - 0.01, ciHigh: d + 0.01 });
    return answers(x).find((l) => l.startsWith("**Does transfer beat random?**"))!;
  };
  assert.match(
    pooled(0.001, 0.05),
    /CBR-Small: yes, significantly on the seed-averaged predictions — .*; seed by seed /,
  );
  assert.match(
    pooled(0.001, -0.05),
    /CBR-Small: no: random is significantly better on the seed-averaged predictions/,
  );
  assert.match(pooled(0.4, 0.01), /CBR-Small: no measurable difference on the seed-averaged predictions — /);

  // speed: each init's steps over random's per seed, mean ± sd; a run that never got there is named
  const x = fakeResults({ missing: [] });
  const t1 = x.runs.find((q) => q.init === "transfer" && q.seed === 1)!;
  t1.rows = t1.rows.map((row) => ({ ...row, testAucReferable: 0.6 }));
  const speed = answers(x).find((l) => l.startsWith("**How much faster?**"))!;
  assert.match(speed, /steps to test referable AUC 0\.800: /);
  assert.match(
    speed,
    /transfer \d\.\d\d ± \d\.\d\d times random's steps \(2 of 3 seeds; s1 never within 102 steps; /,
  );
  // representations: the layers below the random-vs-random baseline beyond both spreads, by name
  assert.match(
    answers(x).find((l) => l.startsWith("**Where do the representations differ?**"))!,
    /CBR-Small, transfer vs random: they differ beyond the random-vs-random baseline .* in `block\d`/,
  );
});
