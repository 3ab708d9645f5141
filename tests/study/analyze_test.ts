// The analysis step on fabricated run directories: 2 inits × 2 seeds finished, a third seed missing (one
// interrupted, one never started); then the report from the analysis, and the two task CLIs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { analysisPath, analyzeStudy, loadAnalysis } from "../../lib/study/analyze.ts";
import { ccaCap, layerSimilarity, pcaScores } from "../../lib/similarity/mod.ts";
import { resolveConfig, type StudyConfig } from "../../lib/study/config.ts";
import { evaluatePredictions } from "../../lib/stats/mod.ts";
import { linearCka, svcca } from "../../lib/similarity/mod.ts";
import { encodeSafetensors } from "../../lib/weights/safetensors.ts";
import { writeReport } from "../../lib/report/report.ts";
import type { Provenance } from "../../lib/study/provenance.ts";
import { Rng } from "../../lib/util/random.ts";
import { main as analyzeMain } from "../../tasks/analyze.ts";
import { main as reportMain } from "../../tasks/report.ts";

const TEST_N = 150, PROBES = 80, EPOCHS = 3;
const LAYERS: [string, number][] = [["block1", 16], ["block2", 32], ["pool", 64]];

function config(out: string): StudyConfig {
  return resolveConfig(
    [
      "--preset",
      "synthetic",
      "--inits",
      "random,transfer",
      "--seeds",
      "0,1,2",
      "--epochs",
      String(EPOCHS),
      "--probe-count",
      String(PROBES),
      "--auc-target",
      "0.75",
      "--out",
      out,
    ],
    { requireInputs: false },
  );
}

/** Datapoints × neurons: latent (probes × d) times a random mixing (d × neurons), plus noise. */
function mix(rng: Rng, parts: { z: Float64Array; d: number; w: number }[], neurons: number, noise: number) {
  const out = new Float32Array(PROBES * neurons);
  for (const { z, d, w } of parts) {
    const a = Float64Array.from({ length: d * neurons }, () => rng.normal());
    for (let i = 0; i < PROBES; i++) {
      for (let j = 0; j < neurons; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += z[i * d + k] * a[k * neurons + j];
        out[i * neurons + j] += w * s;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] += noise * rng.normal();
  return out;
}

function latent(rng: Rng, d: number) {
  return Float64Array.from({ length: PROBES * d }, () => rng.normal());
}

async function writeTaps(path: string, taps: Map<string, Float32Array>) {
  const dict = new Map([...taps].map(([k, v]) => [k, { shape: [PROBES, v.length / PROBES], data: v }]));
  await Deno.writeFile(path, encodeSafetensors(dict, { format: "transfusion-activations" }));
}

/**
 * Fabricates the run directories. Labels are shared; transfer's predictions carry more signal. Every
 * trained run shares a task component T of the probe photos; random runs add their own component, transfer
 * runs a "pretrained" component P shared by all transfer runs (and present at their initialisation), so
 * random-vs-random similarity exceeds transfer-vs-random and transfer stays closer to its own init.
 */
export async function fabricate(out: string) {
  const rng = new Rng("fabricate");
  const grades = [0, 0, 0, 0, 1, 2, 2, 3, 4];
  const labels = Int32Array.from({ length: TEST_N }, () => grades[rng.int(grades.length)]);
  const dims = 6;
  const T = latent(rng, dims), P = latent(rng, dims);
  for (const seed of [0, 1]) {
    for (const init of ["random", "transfer"]) {
      const dir = join(out, `cbr_small-${init}-s${seed}`);
      await Deno.mkdir(dir, { recursive: true });
      const r = rng.fork(`${init}-${seed}`);
      const signal = init === "transfer" ? 0.9 : 0.3;
      const probs = new Float32Array(TEST_N * 5);
      for (let i = 0; i < TEST_N; i++) {
        const logits = [0, 1, 2, 3, 4].map((c) => -signal * Math.abs(c - labels[i]) + 1.0 * r.normal());
        const mx = Math.max(...logits);
        const e = logits.map((v) => Math.exp(v - mx));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((v, c) => probs[i * 5 + c] = v / z);
      }
      const m = evaluatePredictions(probs, labels);
      const ceiling = m.aucReferable;
      const metrics = [1, 2, 3].map((epoch) => ({
        epoch,
        step: 10 * epoch,
        trainLoss: 1.5 / epoch,
        testAucReferable: 0.5 +
          (ceiling - 0.5) * (init === "transfer" ? [0.8, 0.95, 1][epoch - 1] : [0.3, 0.7, 1][epoch - 1]),
        testAucMacro: 0.5 + (m.aucMacroOvr - 0.5) * epoch / 3,
        testKappa: m.kappa * epoch / 3,
        imagesPerSec: 100,
        wallSec: 5 * epoch,
      }));
      const csv = ["index,label,p0,p1,p2,p3,p4"];
      for (let i = 0; i < TEST_N; i++) {
        csv.push(
          [i, labels[i], ...Array.from(probs.subarray(i * 5, i * 5 + 5), (p) => p.toPrecision(7))].join(","),
        );
      }
      await Deno.writeTextFile(join(dir, "predictions.csv"), csv.join("\n") + "\n");
      await Deno.writeTextFile(
        join(dir, "config.json"),
        JSON.stringify({ model: "cbr_small", init, seed, device: "cpu" }),
      );
      const own = latent(r, dims);
      const finals = new Map<string, Float32Array>(), inits = new Map<string, Float32Array>();
      for (const [layer, n] of LAYERS) {
        const lr = r.fork(layer);
        finals.set(
          layer,
          init === "transfer"
            ? mix(lr, [{ z: T, d: dims, w: 0.4 }, { z: P, d: dims, w: 1 }], n, 0.3)
            : mix(lr, [{ z: T, d: dims, w: 1 }, { z: own, d: dims, w: 0.3 }], n, 0.3),
        );
        inits.set(
          layer,
          init === "transfer" ? mix(lr, [{ z: P, d: dims, w: 1 }], n, 0.3) : mix(lr, [], n, 1),
        );
      }
      await writeTaps(join(dir, "activations.safetensors"), finals);
      await writeTaps(join(dir, "activations-init.safetensors"), inits);
      await Deno.writeTextFile(
        join(dir, "done.json"),
        JSON.stringify({
          dir,
          epochs: EPOCHS,
          steps: 30,
          metrics,
          final: { aucReferable: m.aucReferable, aucMacro: m.aucMacroOvr, kappa: m.kappa },
          wallSec: 15,
        }),
      );
    }
  }
  // seed 2: random interrupted after one epoch (its metrics.csv in the names before they named the split),
  // transfer never started
  const part = join(out, "cbr_small-random-s2");
  await Deno.mkdir(part, { recursive: true });
  await Deno.writeTextFile(
    join(part, "metrics.csv"),
    "epoch,step,train_loss,val_auc_referable,val_auc_macro,kappa,images_per_sec,wall_sec\n1,10,1.5,0.6,0.55,0.2,100,5\n",
  );
}

const PROVENANCE = (c: StudyConfig): Provenance => ({
  gitCommit: "unknown",
  gitBranch: null,
  command: "deno task reproduce",
  argv: [],
  config: c,
  versions: { deno: Deno.version.deno },
  denoLock: null,
  dataManifest: null,
  weights: [],
  machine: { cpu: "test", cores: 2, memoryGiB: 4, os: "linux", gpu: null, device: "cpu" },
  collectedAt: "2026-01-01T00:00:00.000Z",
});

Deno.test("analyzeStudy: metrics, comparisons, similarity, missing runs, cached rerun", async () => {
  const out = await Deno.makeTempDir();
  try {
    await fabricate(out);
    const c = config(out);
    const r = await analyzeStudy(c, { bootstrapReps: 500, provenance: PROVENANCE(c) });

    assert.equal(r.runs.length, 4);
    assert.deepEqual(r.missing.map((m) => [m.id, m.reason]), [
      ["cbr_small-random-s2", "interrupted after epoch 1 of 3"],
      ["cbr_small-transfer-s2", "not started"],
    ]);
    for (const run of r.runs) assert.equal(run.final.testCount, TEST_N);

    const g = (init: string) => r.summary!.find((s) => s.init === init)!;
    assert.deepEqual(g("random").seeds, [0, 1]);
    assert.equal(g("random").aucReferable.n, 2);
    assert.ok(g("transfer").aucReferable.mean > g("random").aucReferable.mean + 0.05);
    assert.ok(g("random").aucReferable.mean > 0.6, "the fabricated predictions carry signal");
    // the headline numbers: mean and n − 1 sd of the runs' finals, recomputed here with the textbook formula
    // (a sum of 2 numbers in [0, 1]: rounding error ~1e-16, so 1e-12 tells a wrong formula from rounding)
    for (const s of r.summary!) {
      const mine = r.runs.filter((x) => x.model === s.model && x.init === s.init);
      for (const k of ["aucReferable", "aucMacro", "kappa"] as const) {
        const v = mine.map((x) => x.final[k]), n = v.length;
        const mu = v.reduce((a, b) => a + b, 0) / n;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (n - 1));
        assert.equal(s[k].n, n);
        assert.ok(Math.abs(s[k].mean - mu) < 1e-12, `${s.init} ${k} mean ${s[k].mean} vs ${mu}`);
        assert.ok(Math.abs(s[k].std - sd) < 1e-12, `${s.init} ${k} sd ${s[k].std} vs ${sd}`);
        assert.ok(sd > 1e-6, `${s.init} ${k}: the seeds differ, so sd tells n − 1 from n`);
      }
    }
    assert.equal(g("transfer").curve.length, EPOCHS);
    // transfer's curve reaches 0.75 sooner than random's
    const tSteps = g("transfer").meanStepsToTarget, rSteps = g("random").meanStepsToTarget;
    assert.ok(tSteps !== null && rSteps !== null && tSteps < rSteps, `${tSteps} vs ${rSteps}`);
    assert.equal(
      r.runs.find((x) => x.id === "cbr_small-transfer-s0")!.stepsToTarget,
      g("transfer").stepsToTarget[0],
    );

    // per seed plus one pooled comparison, transfer − random, of the referable and (every grade is in the
    // test set) the macro AUC
    assert.deepEqual(r.comparisons.map((x) => [x.a, x.b, x.seed, x.metric]), [
      ["transfer", "random", 0, "referable"],
      ["transfer", "random", 0, "macro"],
      ["transfer", "random", 1, "referable"],
      ["transfer", "random", 1, "macro"],
      ["transfer", "random", null, "referable"],
      ["transfer", "random", null, "macro"],
    ]);
    const macro0 = r.comparisons[1];
    assert.ok(
      Math.abs(macro0.aucA - r.runs.find((x) => x.id === "cbr_small-transfer-s0")!.final.aucMacro) < 1e-5,
    );
    for (const x of r.comparisons) {
      const d = x.aucA - x.aucB;
      assert.ok(d > 0, "transfer is better");
      assert.ok(x.ciLow <= d && d <= x.ciHigh, `CI [${x.ciLow}, ${x.ciHigh}] holds ${d}`);
      assert.ok(x.p > 0 && x.p < 0.05, `p ${x.p}`);
      assert.equal(x.bootstrapReps, 500);
    }
    const seed0 = r.runs.find((x) => x.id === "cbr_small-transfer-s0")!;
    assert.ok(Math.abs(r.comparisons[0].aucA - seed0.final.aucReferable) < 1e-5, "same AUC as done.json");

    // similarity: every layer has both pairs; random-vs-random above transfer-vs-random
    assert.equal(r.similarity.length, LAYERS.length * 2);
    for (const [layer, _] of LAYERS) {
      const tr = r.similarity.find((s) => s.layer === layer && s.pair === "transfer-vs-random")!;
      const rr = r.similarity.find((s) => s.layer === layer && s.pair === "random-vs-random")!;
      assert.equal(tr.svcca.n, 2);
      assert.equal(rr.svcca.n, 1);
      assert.ok(Number.isNaN(rr.svcca.std), "one pair has no sd");
      for (const k of ["svcca", "pwcca", "cka"] as const) {
        assert.ok(tr[k].mean > 0 && tr[k].mean < 1 && rr[k].mean < 1, `${layer} ${k} in (0, 1)`);
        const margin = k === "svcca" ? 0.02 : 0.1; // SVCCA averages over every kept direction: less contrast
        assert.ok(rr[k].mean > tr[k].mean + margin, `${layer} ${k}: rr ${rr[k].mean} vs tr ${tr[k].mean}`);
      }
    }
    assert.deepEqual(
      [...new Set(r.similarity.map((s) => s.layer))],
      LAYERS.map(([l]) => l),
      "depth order kept",
    );
    // the 64-neuron layer is wider than a quarter of the 80 probes: reduced, and said so
    assert.match(
      r.similarity.find((s) => s.layer === "pool")!.note ?? "",
      /PWCCA on the top 20 PCA directions/,
    );
    const own = (init: string) => r.initSimilarity!.find((s) => s.layer === "pool" && s.pair === init)!;
    assert.ok(own("transfer").cka.mean > own("random").cka.mean + 0.1, "transfer stays near its init");

    // written, JSON-safe, NaN back from null; a rerun over unchanged runs returns it as stored
    const stored = await loadAnalysis(analysisPath(c));
    assert.equal(stored.analysis.fingerprint, r.analysis.fingerprint);
    assert.ok(Number.isNaN(stored.similarity.find((s) => s.pair === "random-vs-random")!.svcca.std));
    const t0 = performance.now();
    const again = await analyzeStudy(c, { bootstrapReps: 500, provenance: PROVENANCE(c) });
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(again.analysis.createdAt, r.analysis.createdAt);
    assert.deepEqual(again.comparisons, r.comparisons);

    // a run that changes (here: finishes) is noticed
    await Deno.writeTextFile(join(out, "cbr_small-random-s2", "metrics.csv"), "epoch\n1\n2\n");
    const third = await analyzeStudy(c, { bootstrapReps: 500, provenance: PROVENANCE(c) });
    assert.notEqual(third.analysis.fingerprint, r.analysis.fingerprint);
    assert.equal(third.missing[0].reason, "interrupted after epoch 2 of 3");

    // the report from the analysis names the missing runs and has every section
    const rep = await writeReport({ ...stored, provenance: PROVENANCE(c) }, out);
    const md = await Deno.readTextFile(rep.report);
    for (
      const s of [
        "## Significance between inits",
        "| pooled |",
        "Seed-averaged predictions",
        "### Similarity to the run's own initialisation",
        "cbr_small-transfer-s2",
        "not started",
        "interrupted after epoch 1 of 3",
      ]
    ) assert.ok(md.includes(s), `report has ${s}`);
    assert.ok(!md.includes("NaN"), "no NaN printed");
    assert.deepEqual(rep.figures.map((f) => f.name), ["auc-cbr_small", "cca-cbr_small"]);
    assert.match(await Deno.readTextFile(rep.figures[1].svg), /^<svg/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("layerSimilarity: too few probes for CCA gives reduced or missing values, never a made-up 1", async () => {
  const rng = new Rng(3);
  const m = 40, p = 64;
  const x = { data: Float64Array.from({ length: m * p }, () => rng.normal()), datapoints: m, neurons: p };
  const y = { data: Float64Array.from({ length: m * p }, () => rng.normal()), datapoints: m, neurons: p };
  // unrelated activations: plain CCA on 64 + 64 neurons over 40 datapoints would report 1.0
  const s = await layerSimilarity(x, y);
  assert.ok(s.svcca < 0.9 && s.pwcca < 0.9 && s.cka < 0.9, JSON.stringify(s));
  assert.match(s.note ?? "", /capped at 10/);
  const tiny = { data: [1, 2, 3, 5], datapoints: 2, neurons: 2 };
  const t = await layerSimilarity(tiny, tiny);
  assert.ok(Number.isNaN(t.svcca) && Number.isNaN(t.pwcca), JSON.stringify(t));
  assert.match(t.note ?? "", /SVCCA: /);
});

Deno.test("pcaScores: all directions keep the geometry (CKA 1 with the raw activations)", async () => {
  const rng = new Rng(5);
  for (const [m, p] of [[12, 5], [6, 9]]) {
    const x = { data: Float64Array.from({ length: m * p }, () => rng.normal()), datapoints: m, neurons: p };
    const z = await pcaScores(x, Math.min(m - 1, p));
    assert.ok(Math.abs((await linearCka(x, z)) - 1) < 1e-9, `${m}×${p}`);
  }
});

Deno.test("analyze and report tasks: write the files, one-line errors with exit 1", async () => {
  const out = await Deno.makeTempDir();
  const log = console.log, err = console.error;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await fabricate(out);
    const flags = [
      "--preset",
      "synthetic",
      "--inits",
      "random,transfer",
      "--seeds",
      "0,1,2",
      "--epochs",
      "3",
      "--out",
      out,
    ];
    assert.equal(await analyzeMain([...flags, "--bootstrap-reps", "100", "--quiet"]), 0);
    assert.match(
      lines.at(-1)!,
      /^analyze: 4 of 6 runs finished \(missing: cbr_small-random-s2, cbr_small-transfer-s2\)/,
    );
    assert.equal(await reportMain(["--out", out]), 0);
    assert.equal(lines.at(-1), join(out, "report.md"));
    assert.ok((await Deno.readTextFile(join(out, "report.md"))).includes("4 of 6 runs finished"));
    assert.equal(await analyzeMain(["--seeds", "x"]), 1);
    assert.match(lines.at(-1)!, /^analyze: --seeds must be a whole number/);
    assert.equal(await reportMain(["--out", join(out, "nowhere")]), 1);
    assert.match(lines.at(-1)!, /^report: No analysis at .*: run `deno task analyze` first$/);
  } finally {
    console.log = log;
    console.error = err;
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("layerSimilarity: SVCCA from cached PCA scores equals lib/similarity's svcca", async () => {
  const rng = new Rng(11);
  for (const [m, p, q] of [[60, 8, 12], [80, 30, 50], [40, 64, 64]]) {
    const z = Float64Array.from({ length: m * 4 }, () => rng.normal());
    const make = (n: number) => {
      const d = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) d[i * n + j] = z[i * 4 + (j % 4)] * (1 + j % 3) + 0.5 * rng.normal();
      }
      return { data: d, datapoints: m, neurons: n };
    };
    const x = make(p), y = make(q);
    const ours = await layerSimilarity(x, y);
    const ref = await svcca(x, y, { maxDims: ccaCap(m) });
    assert.ok(Math.abs(ours.svcca - ref.mean) < 1e-7, `${m}×${p}/${q}: ${ours.svcca} vs ${ref.mean}`);
  }
});
