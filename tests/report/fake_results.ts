// A small fabricated StudyResults (deterministic) for the report tests: one CBR model with three inits
// over three seeds, one run missing, init comparisons and per-layer similarities.
import { resolveConfig, runGrid } from "../../lib/study/config.ts";
import type { Provenance } from "../../lib/study/provenance.ts";
import type {
  InitComparison,
  MissingRun,
  RunResult,
  SimilarityRow,
  StudyResults,
} from "../../lib/study/results.ts";
import { Rng } from "../../lib/util/random.ts";

export function fakeResults(opts: { missing?: string[] } = {}): StudyResults {
  const config = resolveConfig(["--preset", "synthetic", "--epochs", "6"]);
  const rng = new Rng(7);
  const ceiling: Record<string, number> = { random: 0.84, transfer: 0.9, meanvar: 0.86 };
  const speed: Record<string, number> = { random: 0.45, transfer: 1.1, meanvar: 0.8 };
  const missingIds = new Set(opts.missing ?? ["cbr_small-meanvar-s2"]);
  const runs: RunResult[] = [];
  const missing: MissingRun[] = [];
  for (const spec of runGrid(config)) {
    if (missingIds.has(spec.id)) {
      missing.push({ ...spec, reason: "interrupted after epoch 3 of 6" });
      continue;
    }
    const rows = [];
    for (let e = 1; e <= config.epochs; e++) {
      const base = 0.5 + (ceiling[spec.init] - 0.5) * (1 - Math.exp(-speed[spec.init] * e));
      rows.push({
        epoch: e,
        step: 17 * e,
        trainLoss: 1.4 * Math.exp(-0.2 * e) + 0.05 * rng.float(),
        testAucReferable: base + 0.015 * rng.normal(),
        testAucMacro: base - 0.05 + 0.015 * rng.normal(),
        testKappa: 2 * (base - 0.5) + 0.03 * rng.normal(),
        imagesPerSec: 60 + 5 * rng.float(),
        wallSec: 9 * e,
      });
    }
    const last = rows[rows.length - 1];
    runs.push({
      ...spec,
      rows,
      final: {
        aucReferable: last.testAucReferable,
        aucMacro: last.testAucMacro,
        kappa: last.testKappa,
        testCount: 60,
      },
      wallSec: last.wallSec + 2,
      device: "cpu",
    });
  }
  const comparisons: InitComparison[] = [];
  for (const a of ["transfer", "meanvar"]) {
    for (const seed of config.seeds) {
      const ra = runs.find((r) => r.init === a && r.seed === seed);
      const rb = runs.find((r) => r.init === "random" && r.seed === seed);
      if (!ra || !rb) continue;
      const d = ra.final.aucReferable - rb.final.aucReferable;
      const se = a === "transfer" ? 0.02 : 0.04;
      comparisons.push({
        model: "cbr_small",
        a,
        b: "random",
        seed,
        aucA: ra.final.aucReferable,
        aucB: rb.final.aucReferable,
        z: d / se,
        p: Math.min(1, 2 * Math.exp(-0.5 * (d / se) ** 2) / 2),
        ciLow: d - 1.96 * se,
        ciHigh: d + 1.96 * se,
        ciLevel: 0.95,
        bootstrapReps: 2000,
      });
    }
  }
  const layers = ["block1", "block2", "block3", "block4", "pool"];
  const similarity: SimilarityRow[] = [];
  layers.forEach((layer, i) => {
    for (const pair of ["transfer-vs-random", "random-vs-random", "meanvar-vs-random"]) {
      const lvl = pair === "random-vs-random" ? 0.8 - 0.06 * i : 0.75 - 0.09 * i;
      const s = () => ({ mean: lvl + 0.01 * rng.normal(), std: 0.01 + 0.01 * rng.float(), n: 3 });
      similarity.push({
        model: "cbr_small",
        layer,
        layerIndex: i,
        pair,
        svcca: s(),
        pwcca: s(),
        cka: s(),
      });
    }
  });
  const provenance: Provenance = {
    gitCommit: "0123456789abcdef0123456789abcdef01234567",
    gitBranch: "main",
    command: "npx -y deno@2.9.6 task reproduce --preset synthetic --epochs 6",
    argv: ["--epochs", "6"],
    config,
    versions: { deno: "2.9.6", "onnxruntime-node": "1.30.0" },
    denoLock: { path: "deno.lock", sha256: "ab".repeat(32) },
    dataManifest: { path: "out/data/manifest.json", sha256: null },
    weights: [],
    machine: { cpu: "Test CPU", cores: 2, memoryGiB: 8, os: "linux", gpu: null, device: "cpu" },
    collectedAt: "2026-11-26T15:00:00.000Z",
  };
  return {
    config,
    runs,
    comparisons,
    similarity,
    missing,
    dataset: { name: "synthetic fundus photos", train: 540, test: 60, classCounts: [300, 80, 120, 60, 40] },
    provenance,
  };
}
