/**
 * Writes the study's Markdown report and its figures from a {@linkcode StudyResults}: the published table
 * beside this run's, significance between inits, kappa, convergence speed, AUC curves, representation
 * similarity, missing runs, a plain-words summary generated from the numbers, and provenance.
 * @module
 */
import { join } from "node:path";
import { baselineModels, runGrid } from "../study/config.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { aucCurveSpec, renderSvg, similaritySpec, type VegaLiteSpec } from "./figures.ts";
import { MEDMNIST_RETINA, modelLabel, PUBLISHED, type PublishedRow } from "./published.ts";
import { type MeanStd, meanStd } from "../stats/summary.ts";
import { ccaCap } from "../similarity/cap.ts";
import { speedRatio, stepsUnder } from "../study/convergence.ts";
import type {
  ConvergenceRule,
  InitComparison,
  RunResult,
  SimilarityRow,
  SpeedRatio,
  StudyResults,
} from "../study/results.ts";

/** One figure of the report: `figures/<name>.svg` with its spec in `figures/<name>.vl.json`. */
export interface ReportFigure {
  /** file name without extension, e.g. "auc-cbr_small" */
  name: string;
  /** a short caption */
  title: string;
  /** the Vega-Lite spec with its data inline */
  spec: VegaLiteSpec;
  /** the rendered SVG */
  svg: string;
}

/** Options of {@linkcode buildReport}. */
export interface BuildOptions {
  /** the folder the report's figure links point into, relative to the report (default "figures") */
  figures?: string;
}

/** The report's text and figures, before anything is written. */
export interface BuiltReport {
  /** the text of `report.md` */
  markdown: string;
  /** the first is the main figure (AUC per epoch of the first model) */
  figures: ReportFigure[];
}

const SIG = 0.05;

/** Mean and sample sd (lib/stats); NaN when there is no value or one is missing, which prints as "n/a". */
function summary(xs: readonly number[]): MeanStd {
  return xs.length && xs.every(Number.isFinite) ? meanStd(xs) : { mean: NaN, std: NaN, n: xs.length };
}

function mean(xs: readonly number[]): number {
  return summary(xs).mean;
}

function pct(x: number, digits = 2): string {
  return Number.isFinite(x) ? (100 * x).toFixed(digits) : "n/a";
}

function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

function meanSd(xs: readonly number[], scale = 100, digits = 2): string {
  if (xs.length === 0) return "—";
  const s = summary(xs);
  const m = fixed(s.mean * scale, digits);
  return xs.length < 2 ? `${m} (1 run)` : `${m} ± ${fixed(s.std * scale, digits)}`;
}

function pValue(p: number): string {
  if (!Number.isFinite(p)) return "n/a";
  if (p < 0.001) return "< 0.001";
  return p < 0.01 ? p.toFixed(3) : p.toFixed(2);
}

function signedPp(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(2)}` : "n/a";
}

function cell(s: string | number): string {
  return String(s).replaceAll("|", "\\|").replaceAll("\n", " ");
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]) => `| ${r.map(cell).join(" | ")} |`;
  return [line(head), `|${head.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

function duration(sec: number): string {
  if (!Number.isFinite(sec)) return "n/a";
  if (sec < 90) return `${sec.toFixed(1)} s`;
  if (sec < 5400) return `${(sec / 60).toFixed(1)} min`;
  return `${(sec / 3600).toFixed(2)} h`;
}

/**
 * Holm's step-down adjustment of p-values (family-wise error), in the input order.
 *
 * @example
 * ```ts
 * import { holm } from "./report.ts";
 * const adj = holm([0.01, 0.04, 0.03]); // [0.03, 0.06, 0.06]
 * ```
 */
export function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (ps.length - k) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Each model's convergence rule: the analysis's (lib/study/convergence.ts), else (an analysis from before
 * the rule, hand-made results) the study's fixed `aucTarget` on the test referable-AUC curves.
 */
function convergenceRules(results: StudyResults): Map<string, ConvergenceRule> {
  const rules = new Map((results.convergence ?? []).map((r) => [r.model, r]));
  for (const model of new Set(results.runs.map((r) => r.model))) {
    if (rules.has(model)) continue;
    const runs = results.runs.filter((r) => r.model === model);
    rules.set(model, {
      model,
      split: "test",
      metric: "referable",
      rule: "fixed",
      target: results.config.aucTarget,
      steps: Math.max(0, ...runs.flatMap((r) => r.rows.map((x) => x.step))),
      evaluations: Math.min(...runs.map((r) => new Set(r.rows.map((x) => x.step)).size)),
    });
  }
  return rules;
}

/** Steps to the target AUC: the run's own figure, else interpolated from its held-out curve. */
function stepsOf(run: RunResult, rule: ConvergenceRule): number | null {
  if (run.stepsToTarget !== undefined) return run.stepsToTarget;
  return stepsUnder(rule, run.rows);
}

/** An init's steps ÷ random's, seed by seed: the analysis's, else from the runs' steps; undefined for random. */
function speedOf(results: StudyResults, g: Group, rule: ConvergenceRule): SpeedRatio | undefined {
  if (g.init === "random") return undefined;
  const stored = results.summary?.find((s) => s.model === g.model && s.init === g.init)?.speed;
  if (stored) return stored;
  const random = results.runs.filter((r) => r.model === g.model && r.init === "random");
  if (random.length === 0) return undefined;
  return speedRatio(
    g.runs.map((r) => r.seed),
    g.runs.map((r) => stepsOf(r, rule)),
    new Map(random.map((r) => [r.seed, stepsOf(r, rule)])),
  );
}

/** "0.45 ± 0.10×" (or one seed's "0.45×"): a speed ratio over the seeds that have one. */
function ratioText(r: MeanStd): string {
  return r.n === 0 ? "—" : r.n === 1 ? `${fixed(r.mean, 2)}×` : `${fixed(r.mean, 2)} ± ${fixed(r.std, 2)}×`;
}

/** The convergence rule in words: which curve, which AUC, which target and how it was chosen. */
function ruleText(rule: ConvergenceRule): string {
  if (rule.rule === "random-best") {
    return `steps until the val macro AUC first reached ${
      fixed(rule.target, 3)
    }: ${rule.fraction} of the way ` +
      `from chance (0.5) to random init's best val macro AUC (${stat(rule.randomBest!)} over its ` +
      `${rule.randomBest!.n} seeds)`;
  }
  return `steps until the test ${rule.metric === "macro" ? "macro" : "referable-DR"} AUC first reached ` +
    `${pct(rule.target, 1)} % (the study's fixed \`aucTarget\`)`;
}

interface Group {
  model: string;
  init: string;
  runs: RunResult[];
}

/** The (model, init) groups of the grid (random-only baselines included) and of any other finished run. */
function groups(results: StudyResults): Group[] {
  const keys = [
    ...new Set([...runGrid(results.config), ...results.runs].map((r) => `${r.model}\u0000${r.init}`)),
  ];
  return keys.map((k) => {
    const [model, init] = k.split("\u0000");
    return {
      model,
      init,
      runs: results.runs.filter((r) => r.model === model && r.init === init).sort((a, b) => a.seed - b.seed),
    };
  });
}

function published(model: string, init: string, source: string, data: string): string {
  if (init !== "random" && init !== "transfer") return "—";
  const row: PublishedRow | undefined = PUBLISHED.find((p) =>
    p.model === model && p.source === source && p.data === data
  );
  if (!row) return "—";
  const [v, s] = init === "random" ? [row.random, row.randomSpread] : [row.transfer, row.transferSpread];
  return s === null ? `${v}` : `${v} ± ${s}`;
}

/** Whether the study ran on RetinaMNIST (MedMNIST's own splits, best epoch chosen on val). */
function isMedmnist(results: StudyResults): boolean {
  const d = results.config.data;
  return (d.kind === "path" && d.format === "medmnist") || results.runs.some((r) => r.best);
}

/** Whether the papers' photos could be what this run used: published rows appear only beside the same data. */
function paperData(results: StudyResults): boolean {
  return results.config.data.kind === "path" && !isMedmnist(results);
}

/** This run at the epoch chosen on val beside MedMNIST v2's published RetinaMNIST rows. */
function medmnistTables(results: StudyResults): string {
  const rows = groups(results).filter((g) => g.runs.length > 0).map((g) => {
    const best = g.runs.filter((r) => r.best).map((r) => r.best!);
    return [
      modelLabel(g.model),
      g.init,
      meanSd(best.map((b) => b.testAucMacro), 1, 3),
      meanSd(best.map((b) => b.testAucReferable), 1, 3),
      meanSd(best.map((b) => b.testKappa), 1, 3),
      meanSd(best.map((b) => b.epoch), 1, 1),
      meanSd(g.runs.map((r) => r.final.aucMacro), 1, 3),
      String(g.runs.length),
    ];
  });
  return [
    table(
      [
        "Model",
        "Init",
        "**This run**: test macro AUC at best-val epoch",
        "referable AUC",
        "kappa",
        "best epoch",
        "test macro AUC, final epoch",
        "runs",
      ],
      rows,
    ),
    "",
    "MedMNIST v2 (Yang et al. 2023, Table 2), RetinaMNIST at 28×28, test macro AUC and accuracy at the epoch " +
    "chosen on val:",
    "",
    table(
      ["Published method", "test AUC", "test ACC"],
      MEDMNIST_RETINA.map((r) => [r.method, fixed(r.auc, 3), fixed(r.acc, 3)]),
    ),
  ].join("\n");
}

function resultsTable(results: StudyResults): string {
  const smallData = results.config.trainSubset !== null;
  const paper = paperData(results);
  const head = ["Model", "Init"];
  if (paper) head.push("Raghu, RETINA");
  if (paper && smallData) head.push("Raghu, RETINA 5k");
  if (paper) head.push("Zingo, Kaggle");
  head.push("**This run**: referable AUC", "macro AUC", "kappa", "runs");
  const rows = groups(results).map((g) => {
    const r: string[] = [modelLabel(g.model), g.init];
    if (paper) r.push(published(g.model, g.init, "Raghu", "RETINA"));
    if (paper && smallData) r.push(published(g.model, g.init, "Raghu", "RETINA 5k"));
    if (paper) r.push(published(g.model, g.init, "Zingo", "Kaggle"));
    r.push(
      meanSd(g.runs.map((x) => x.final.aucReferable)),
      meanSd(g.runs.map((x) => x.final.aucMacro)),
      meanSd(g.runs.map((x) => x.final.kappa), 1, 3),
      String(g.runs.length),
    );
    return r;
  });
  return table(head, rows);
}

/** The results section: beside MedMNIST's rows, the papers' rows, or (synthetic data) no published rows. */
function resultsSection(results: StudyResults): string[] {
  const test = results.dataset ? ` (${results.dataset.test} test photos)` : "";
  if (isMedmnist(results)) {
    return [
      "## Published results beside this run",
      "",
      "RetinaMNIST keeps its own train / val / test split. Each run evaluates val and test after every epoch; " +
      "the epoch with the best val macro AUC is chosen (on val only) and its test numbers are reported, as " +
      "MedMNIST v2 does, beside the final epoch's. Macro AUC: one-vs-rest over the five grades; referable: " +
      `grade ≥ 2 vs 0-1; kappa quadratic weighted. Mean ± sample sd over seeds${test}.`,
      "",
      medmnistTables(results),
      "",
    ];
  }
  if (!paperData(results)) {
    return [
      "## Results",
      "",
      "Test-set AUC (%) of referable DR (grade ≥ 2 vs 0-1) and one-vs-rest macro AUC over the five grades, " +
      `mean ± sample sd over seeds${test}; kappa is quadratic weighted over grades 0-4. No published row ` +
      "is shown: the papers' numbers belong to their own photos, not to these.",
      "",
      resultsTable(results),
      "",
    ];
  }
  return [
    "## Published results beside this run",
    "",
    "AUC in %. Published: mean ± spread over runs as the papers report them (Raghu et al. 2019: moderate-DR " +
    "AUC on private RETINA data; Zingo et al.: Kaggle EyePACS 2015, 10 % held out). This run: test-set AUC " +
    `of referable DR (grade ≥ 2 vs 0-1) and one-vs-rest macro AUC over the five grades, mean ± sample sd over ` +
    `seeds${test}; kappa is quadratic weighted over ` +
    "grades 0-4. A dash: no published number for that model and init.",
    "",
    resultsTable(results),
    "",
  ];
}

function comparisonRows(results: StudyResults): { c: InitComparison; holm: number }[] {
  const cs = [...results.comparisons].sort((x, y) =>
    x.model.localeCompare(y.model) || x.a.localeCompare(y.a) || x.b.localeCompare(y.b) ||
    (x.metric ?? "referable").localeCompare(y.metric ?? "referable") || (x.seed ?? -1) - (y.seed ?? -1)
  );
  const adj = holm(cs.map((c) => c.p));
  return cs.map((c, i) => ({ c, holm: adj[i] }));
}

function significanceSection(results: StudyResults): string {
  if (results.comparisons.length === 0) {
    return "No init comparisons were computed (fewer than two inits finished).";
  }
  const level = results.comparisons[0].ciLevel ?? 0.95;
  const reps = results.comparisons[0].bootstrapReps;
  const rows = comparisonRows(results).map(({ c, holm }) => [
    modelLabel(c.model),
    `${c.a} − ${c.b}`,
    c.metric ?? "referable",
    c.seed === null ? "pooled" : String(c.seed),
    pct(c.aucA),
    pct(c.aucB),
    signedPp(c.aucA - c.aucB),
    `[${signedPp(c.ciLow)}, ${signedPp(c.ciHigh)}]`,
    fixed(c.z, 2),
    pValue(c.p),
    pValue(holm),
  ]);
  return [
    (results.comparisons.some((c) => c.predictions === "best")
      ? "Runs with a val split are compared on the test predictions of the epoch each chose on val. "
      : "") +
    `Each row compares two runs of one seed on the same test photos; a "pooled" row compares each init's ` +
    `seed-averaged predicted probabilities (an ensemble over the seeds). DeLong's test (fast algorithm of Sun & Xu 2014) ` +
    `gives z and the two-sided p; the interval is a paired, class-stratified bootstrap ` +
    `${Math.round(level * 100)} % CI of the AUC difference${reps ? ` (${reps} resamples)` : ""}. ` +
    (results.comparisons.some((c) => c.metric === "macro")
      ? "Macro rows (one-vs-rest macro AUC over the grades) resample each grade separately, and their z is " +
        "the difference over the bootstrap standard error (DeLong's test covers one binary AUC). "
      : "") +
    `The last column is Holm-adjusted over all ${results.comparisons.length} tests in this table. AUCs in %, Δ in points.`,
    "",
    table(
      ["Model", "Δ", "AUC", "seed", "AUC a", "AUC b", "Δ (pp)", "CI of Δ (pp)", "z", "p", "p (Holm)"],
      rows,
    ),
  ].join("\n");
}

function convergenceSection(results: StudyResults): string {
  const gs = groups(results).filter((g) => g.runs.length > 0);
  if (gs.length === 0) return "No finished runs.";
  const rules = convergenceRules(results);
  const models = [...new Set(gs.map((g) => g.model))];
  const rows = gs.map((g) => {
    const rule = rules.get(g.model)!;
    const steps = g.runs.map((r) => stepsOf(r, rule));
    const reached = steps.filter((s): s is number => s !== null);
    const speed = speedOf(results, g, rule);
    return [
      modelLabel(g.model),
      g.init,
      `${reached.length}/${steps.length}`,
      reached.length ? Math.round(mean(reached)).toString() : "never",
      steps.map((s, i) => `s${g.runs[i].seed}: ${s === null ? "—" : Math.round(s)}`).join(", "),
      speed ? ratioText(speed.ratio) : "—",
      speed
        ? speed.perSeed.map((x, i) => `s${g.runs[i].seed}: ${x === null ? "—" : fixed(x, 2)}`).join(", ")
        : "—",
    ];
  });
  const byVal = models.some((m) => rules.get(m)!.rule === "random-best");
  const never = models.map((m) => rules.get(m)!).filter((rule) =>
    gs.some((g) => g.model === rule.model && g.runs.some((r) => stepsOf(r, rule) === null))
  );
  return [
    `Raghu et al.'s convergence speed: training steps until the held-out AUC first reached a target ` +
    `(evaluations ${
      results.config.evalEvery > 0 ? `every ${results.config.evalEvery} steps and ` : ""
    }at each epoch end; steps between two evaluations are interpolated linearly). ` +
    (byVal
      ? "The target and its curve are chosen on val, never on test: a fraction of the way from chance to the " +
        "best val macro AUC that random init reaches, so that random init reaches it by construction and the " +
        "steps say how much sooner or later another init gets there. "
      : "") +
    `"× random" is each seed's steps over random init's steps of the same seed (same data order), mean ± sd ` +
    `over the seeds where both reached the target; below 1 is faster than random. A run already at the ` +
    `target at its first evaluation counts that evaluation's step, an upper bound.`,
    "",
    ...models.map((m) => `- ${modelLabel(m)}: ${ruleText(rules.get(m)!)}.`),
    ...never.map((rule) =>
      `- ${modelLabel(rule.model)}: a "—" never reached the target within its ${rule.steps} training steps.`
    ),
    "",
    table(["Model", "Init", "reached", "mean steps", "per seed", "× random", "× random per seed"], rows),
  ].join("\n");
}

function finalLayers(rows: readonly SimilarityRow[], model: string): SimilarityRow[] {
  const mine = rows.filter((r) => r.model === model);
  if (mine.length === 0) return [];
  const top = Math.max(...mine.map((r) => r.layerIndex));
  return mine.filter((r) => r.layerIndex === top);
}

function stat(s: MeanStd): string {
  return Number.isFinite(s.std) ? `${fixed(s.mean, 3)} ± ${fixed(s.std, 3)}` : fixed(s.mean, 3);
}

function similarityTable(rows: readonly SimilarityRow[], model: string): string {
  const last = finalLayers(rows, model);
  if (last.length === 0) return "";
  return [
    `Final hidden layer (\`${last[0].layer}\`):`,
    "",
    table(
      ["runs compared", "SVCCA", "PWCCA", "linear CKA", "run pairs"],
      last.map((r) => [r.pair, stat(r.svcca), stat(r.pwcca), stat(r.cka), r.svcca.n]),
    ),
  ].join("\n");
}

/** One layer's SVCCA gap to the random-vs-random baseline, and whether it exceeds the two spreads added. */
interface LayerGap {
  layer: string;
  /** the pair's mean SVCCA minus the baseline's */
  gap: number;
  /** "below"/"above" the baseline by more than both spreads, else "within" (no measurable difference) */
  side: "below" | "above" | "within";
}

/**
 * Per init pair and layer, input to output: how far the pair's SVCCA lies from the random-vs-random
 * baseline; empty without a baseline. The rule of every "beyond the baseline" in the report.
 */
function layerGapData(rows: readonly SimilarityRow[], model: string): { pair: string; layers: LayerGap[] }[] {
  const mine = rows.filter((r) => r.model === model);
  const layers = [...new Set(mine.map((r) => r.layerIndex))].sort((a, b) => a - b);
  const base = new Map(mine.filter((r) => r.pair === "random-vs-random").map((r) => [r.layerIndex, r]));
  if (base.size === 0) return [];
  const out: { pair: string; layers: LayerGap[] }[] = [];
  for (const pair of [...new Set(mine.map((r) => r.pair))].filter((p) => p !== "random-vs-random")) {
    const gaps: LayerGap[] = [];
    for (const li of layers) {
      const r = mine.find((x) => x.layerIndex === li && x.pair === pair), b = base.get(li);
      if (!r || !b || !Number.isFinite(r.svcca.mean) || !Number.isFinite(b.svcca.mean)) continue;
      const gap = r.svcca.mean - b.svcca.mean;
      const spread = (Number.isFinite(r.svcca.std) ? r.svcca.std : 0) +
        (Number.isFinite(b.svcca.std) ? b.svcca.std : 0);
      gaps.push({ layer: r.layer, gap, side: gap < -spread ? "below" : gap > spread ? "above" : "within" });
    }
    if (gaps.length) out.push({ pair, layers: gaps });
  }
  return out;
}

/**
 * Per layer, input to output: how far each init pair's SVCCA lies from the random-vs-random baseline, and in
 * how many layers the gap exceeds the two spreads added; null without a baseline.
 */
function layerGaps(rows: readonly SimilarityRow[], model: string): string | null {
  const parts = layerGapData(rows, model).map(({ pair, layers }) =>
    `${pair} minus random-vs-random SVCCA per layer (input → output): ${
      layers.map((l) => `${l.layer} ${l.gap >= 0 ? "+" : "−"}${Math.abs(l.gap).toFixed(3)}`).join(", ")
    }; below the baseline beyond both spreads in ${layers.filter((l) => l.side === "below").length} of ` +
    `${layers.length} layers, above it in ${layers.filter((l) => l.side === "above").length}`
  );
  return parts.length ? parts.join(". ") + "." : null;
}

/** How the tables read the per-seed tests of one pair of inits. */
type Verdict = "significant" | "inconclusive" | "no measurable difference";

/**
 * The reading of one pair's per-seed tests (one metric), the rule every verdict of the report follows:
 * significant (p < 0.05) in every seed's test set and in one direction, in none (no measurable difference),
 * or in some (inconclusive).
 */
function readSeeds(cs: readonly InitComparison[]): {
  verdict: Verdict;
  /** seeds' tests with p < 0.05 */
  sig: number;
  /** seeds' tests */
  n: number;
  /** whether the significant ones point the way of the mean difference */
  sameSign: boolean;
  /** seeds whose bootstrap CI excludes 0 */
  ciOut: number;
  /** seeds where a's AUC is above b's */
  higher: number;
  /** mean of aucA − aucB over the seeds */
  meanDiff: number;
} {
  const meanDiff = mean(cs.map((c) => c.aucA - c.aucB));
  const sig = cs.filter((c) => c.p < SIG);
  const sameSign = sig.every((c) => Math.sign(c.aucA - c.aucB) === Math.sign(meanDiff));
  const verdict: Verdict = sig.length === 0
    ? "no measurable difference"
    : sig.length === cs.length && sameSign
    ? "significant"
    : "inconclusive";
  return {
    verdict,
    sig: sig.length,
    n: cs.length,
    sameSign,
    ciOut: cs.filter((c) => c.ciLow > 0 || c.ciHigh < 0).length,
    higher: cs.filter((c) => c.aucA > c.aucB).length,
    meanDiff,
  };
}

/** One model's convergence in a sentence: the rule, each init's steps against random's, who never got there. */
function speedSentence(results: StudyResults, model: string): string {
  const rule = convergenceRules(results).get(model)!;
  const gs = groups(results).filter((g) => g.model === model && g.runs.length > 0);
  const random = gs.find((g) => g.init === "random");
  const nevers = (g: Group) => g.runs.filter((r) => stepsOf(r, rule) === null).map((r) => `s${r.seed}`);
  const parts = gs.filter((g) => g !== random).map((g) => {
    const sp = speedOf(results, g, rule);
    const never = nevers(g);
    const missed = never.length ? `; ${never.join(", ")} never within ${rule.steps} steps` : "";
    if (!sp || sp.ratio.n === 0) {
      const reached = g.runs.map((r) => stepsOf(r, rule)).filter((s): s is number => s !== null);
      return `${g.init} ${reached.length ? `${Math.round(mean(reached))} steps` : "never"}${
        missed ? ` (${missed.slice(2)})` : ""
      }`;
    }
    const r = sp.ratio;
    const word = r.n < 2
      ? "one seed, no spread"
      : Math.abs(r.mean - 1) <= r.std
      ? "no measurable difference"
      : r.mean < 1
      ? "faster"
      : "slower";
    const times = r.n === 1 ? fixed(r.mean, 2) : `${fixed(r.mean, 2)} ± ${fixed(r.std, 2)}`;
    return `${g.init} ${times} times random's steps (${r.n} of ${g.runs.length} seeds${missed}; ${word})`;
  });
  let tail = "";
  if (random) {
    const steps = random.runs.map((r) => stepsOf(r, rule));
    const reached = steps.filter((s): s is number => s !== null);
    tail = reached.length === 0
      ? "; random init never reached it, so no ratio is defined"
      : `; random init took ${Math.round(mean(reached))} steps on average${
        reached.length < steps.length ? ` (${nevers(random).join(", ")} never within ${rule.steps})` : ""
      }`;
  }
  const what = rule.rule === "random-best"
    ? `steps to val macro AUC ${fixed(rule.target, 3)} (${rule.fraction} of the way from 0.5 to random ` +
      `init's best val AUC, ${fixed(rule.randomBest!.mean, 3)})`
    : `steps to test ${rule.metric === "macro" ? "macro" : "referable"} AUC ${fixed(rule.target, 3)}`;
  return `${modelLabel(model)}, ${what}: ${parts.join(", ")}${tail}.`;
}

/** The best published RetinaMNIST row (MedMNIST v2's Table 2). */
function bestPublished() {
  return [...MEDMNIST_RETINA].sort((a, b) => b.auc - a.auc)[0];
}

/**
 * The headline setting, chosen on val like each run's epoch: the (model, init) with the highest mean val
 * macro AUC at the runs' best epochs, with that val AUC and the test macro AUC there (mean ± sd over seeds);
 * undefined when no group has a val split in every run.
 */
function chosenOnVal(results: StudyResults): { group: Group; val: MeanStd; test: MeanStd } | undefined {
  const gs = groups(results).filter((g) => g.runs.length > 0 && g.runs.every((r) => r.best));
  const scored = gs.map((group) => ({
    group,
    val: summary(group.runs.map((r) => r.best!.valAucMacro)),
    test: summary(group.runs.map((r) => r.best!.testAucMacro)),
  }));
  return scored.sort((a, b) => b.val.mean - a.val.mean)[0];
}

/** A difference of two AUCs as the tables print it: macro in AUC units (±0.000), referable in points. */
function diffText(x: number, metric: "macro" | "referable"): string {
  if (metric === "referable") return `${signedPp(x)} points`;
  return Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}` : "n/a";
}

/**
 * The report's first screen: at most six lines answering the paper's questions from the analysis — does
 * transfer beat random (by how much, how sure, how many seeds agree), how much faster, where the
 * representations differ beyond the random-vs-random baseline, and the setting chosen on val against the
 * best published row. Its verdicts follow the rules of the tables below.
 *
 * @example
 * ```ts ignore
 * import { answers } from "./report.ts";
 * for (const line of answers(results)) console.log(`- ${line}`);
 * ```
 */
export function answers(results: StudyResults): string[] {
  const out: string[] = [];
  const { config } = results;
  if (config.data.kind === "synthetic") {
    out.push(
      "**Synthetic photos** and a synthetic source task: these answers show the machinery working, not a " +
        "finding about retinas.",
    );
  }
  if (results.missing.length > 0) {
    out.push(
      `**${results.missing.length} of ${runGrid(config).length} runs are missing**: the answers cover the ` +
        `${results.runs.length} finished ones.`,
    );
  }
  const medmnist = isMedmnist(results);
  const metric = medmnist ? "macro" : "referable";
  const models = [...new Set(results.runs.map((r) => r.model))];
  const beat = models.flatMap((model) => {
    const both = results.comparisons.filter((c) =>
      c.model === model && (c.metric ?? "referable") === metric && c.a === "transfer" && c.b === "random"
    );
    const cs = both.filter((c) => c.seed !== null);
    if (cs.length === 0) return [];
    const r = readSeeds(cs);
    const pooled = both.find((c) => c.seed === null);
    const what = `test ${metric} AUC${cs[0].predictions === "best" ? " at the epochs chosen on val" : ""}`;
    const seeds =
      `transfer higher in ${r.higher} of ${r.n} seeds, p < ${SIG} in ${r.sig} of ${r.n} seeds' test sets`;
    if (!pooled) {
      return [
        `${modelLabel(model)}: ${r.verdict} seed by seed — transfer − random ${
          diffText(r.meanDiff, metric)
        } ${what} (mean over seeds); ${seeds}.`,
      ];
    }
    // the seed-averaged predictions are the study's strongest single test; the per-seed reading, the tables'
    // rule, says how far each seed alone agrees
    const d = pooled.aucA - pooled.aucB;
    const overall = pooled.p >= SIG
      ? "no measurable difference on the seed-averaged predictions"
      : d > 0
      ? "yes, significantly on the seed-averaged predictions"
      : "no: random is significantly better on the seed-averaged predictions";
    return [
      `${modelLabel(model)}: ${overall} — transfer − random ${diffText(d, metric)} ${what} ` +
      `(${Math.round((pooled.ciLevel ?? 0.95) * 100)} % CI [${diffText(pooled.ciLow, metric)}, ` +
      `${diffText(pooled.ciHigh, metric)}], p ${pValue(pooled.p)}); seed by seed ${r.verdict} (${seeds}).`,
    ];
  });
  out.push(
    `**Does transfer beat random?** ${
      beat.length ? beat.join(" ") : "This study has no transfer-vs-random comparison."
    }`,
  );
  const speed = models.filter((m) =>
    groups(results).filter((g) => g.model === m && g.runs.length).length > 1
  );
  out.push(
    `**How much faster?** ${
      speed.length
        ? speed.map((m) => speedSentence(results, m)).join(" ")
        : "Only one init trained per model."
    }`,
  );
  const where = models.flatMap((model) => {
    const tr = layerGapData(results.similarity, model).find((p) => p.pair === "transfer-vs-random");
    if (!tr) return [];
    const names = (side: LayerGap["side"]) =>
      tr.layers.filter((l) => l.side === side).map((l) => `\`${l.layer}\``);
    const below = names("below"), above = names("above");
    const last = tr.layers[tr.layers.length - 1];
    const n = tr.layers.length, rest = n - below.length - above.length;
    return [
      `${modelLabel(model)}, transfer vs random: ${
        below.length
          ? `they differ beyond the random-vs-random baseline (SVCCA below it by more than both spreads) in ` +
            `${below.join(", ")} (${below.length} of ${n} layers)`
          : `no layer differs beyond the random-vs-random baseline (${n} layers)`
      }${above.length ? `; more alike than two random inits in ${above.join(", ")}` : ""}` +
      (below.length + above.length === 0 || rest === 0
        ? "."
        : `; no measurable difference in the other ${rest}` +
          (last.side === "within" ? `, the final hidden layer \`${last.layer}\` among them.` : ".")),
    ];
  });
  out.push(
    `**Where do the representations differ?** ${
      where.length ? where.join(" ") : "No transfer-vs-random similarity with a random-vs-random baseline."
    }`,
  );
  const chosen = medmnist ? chosenOnVal(results) : undefined;
  if (chosen) {
    const top = bestPublished();
    out.push(
      `**Chosen on val:** ${modelLabel(chosen.group.model)} ${chosen.group.init} (mean val macro AUC ` +
        `${fixed(chosen.val.mean, 3)}) scores test macro AUC ${stat(chosen.test)} at its best-val epochs, ` +
        `${chosen.test.mean >= top.auc ? "at or above" : "below"} the best published RetinaMNIST row ` +
        `(${top.method}, ${fixed(top.auc, 3)}, MedMNIST v2).`,
    );
  } else if (paperData(results)) {
    out.push(
      "**Published rows:** without a val split nothing is chosen; the table below sets each model beside " +
        "the papers' rows.",
    );
  }
  return out;
}

/** The study's answer on RetinaMNIST, from the test numbers at the epochs chosen on val. */
function medmnistFindings(results: StudyResults): string[] {
  const out: string[] = [];
  const gs = groups(results).filter((g) => g.runs.length > 0 && g.runs.every((r) => r.best));
  if (gs.length === 0) return out;
  const at = (g: Group, f: (r: RunResult) => number) => summary(g.runs.map(f));
  for (const model of [...new Set(gs.map((g) => g.model))]) {
    const mine = gs.filter((g) => g.model === model);
    out.push(
      `**${modelLabel(model)}**, test macro AUC at the epoch chosen on val (mean ± sd over seeds): ` +
        mine.map((g) => `${g.init} ${meanSd(g.runs.map((r) => r.best!.testAucMacro), 1, 3)}`).join("; ") +
        `; at the final epoch: ` +
        mine.map((g) => `${g.init} ${meanSd(g.runs.map((r) => r.final.aucMacro), 1, 3)}`).join("; ") + ".",
    );
    // convergence in the metric the dataset is judged by: the mean test macro AUC after each epoch
    const curve = (g: Group) => {
      const epochs = [...new Set(g.runs.flatMap((r) => r.rows.map((x) => x.epoch)))]
        .filter((e) => Number.isInteger(e)).sort((a, b) => a - b);
      return epochs.map((e) => {
        const at = g.runs.map((r) => r.rows.findLast((x) => x.epoch === e)?.testAucMacro ?? NaN);
        return fixed(summary(at).mean, 3);
      }).join(" → ");
    };
    out.push(
      `${modelLabel(model)}, test macro AUC after epochs 1, 2, … (mean over seeds): ` +
        mine.map((g) => `${g.init} ${curve(g)}`).join("; ") + ".",
    );
    const random = mine.find((g) => g.init === "random");
    for (const g of mine.filter((x) => x !== random)) {
      if (!random) break;
      const bySeed = new Map(random.runs.map((r) => [r.seed, r]));
      const paired = g.runs.filter((r) => bySeed.has(r.seed));
      if (paired.length === 0) continue;
      const d = paired.map((r) => r.best!.testAucMacro - bySeed.get(r.seed)!.best!.testAucMacro);
      const ep = at(g, (r) => r.best!.epoch).mean, epR = at(random, (r) => r.best!.epoch).mean;
      const signed = (x: number) => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(3);
      // the macro comparisons of the analysis: grade-stratified bootstrap CI and p, per seed and pooled
      const macro = results.comparisons.filter((c) =>
        c.model === model && c.metric === "macro" && c.a === g.init && c.b === "random"
      );
      const perSeed = macro.filter((c) => c.seed !== null);
      const pooled = macro.find((c) => c.seed === null);
      const sig = perSeed.filter((c) => c.p < SIG).length;
      out.push(
        `${modelLabel(model)}, ${g.init} − random: ${d.map(signed).join(", ")} test macro AUC per seed ` +
          `(mean ${signed(summary(d).mean)})` +
          (perSeed.length
            ? `; bootstrap p < ${SIG} in ${sig} of ${perSeed.length} seeds' test sets (p ${
              perSeed.map((c) => pValue(c.p)).join(", ")
            }; 95 % CIs ${perSeed.map((c) => `[${signed(c.ciLow)}, ${signed(c.ciHigh)}]`).join(", ")})`
            : "") +
          (pooled
            ? `; seed-averaged predictions ${signed(pooled.aucA - pooled.aucB)}, p ${pValue(pooled.p)}, CI [${
              signed(pooled.ciLow)
            }, ${signed(pooled.ciHigh)}]`
            : "") +
          `; best val epoch ${fixed(ep, 1)} vs ${fixed(epR, 1)} for random.`,
      );
    }
  }
  const { group: chosen, val, test } = chosenOnVal(results)!;
  const auc = test.mean;
  const r18 = MEDMNIST_RETINA.find((r) => r.method.startsWith("ResNet-18"))!;
  const top = bestPublished();
  out.push(
    `Chosen on val (highest mean val macro AUC, ${fixed(val.mean, 3)}): ` +
      `${modelLabel(chosen.model)} ${chosen.init}, test macro AUC ${fixed(auc, 3)} — ` +
      `${auc >= r18.auc ? "at or above" : "below"} MedMNIST v2's ${r18.method} (${fixed(r18.auc, 3)}); ` +
      `the best published RetinaMNIST row is ${top.method} at ${fixed(top.auc, 3)}.`,
  );
  return out;
}

/** Plain-words findings generated from the numbers, careful to say when a difference is not significant. */
export function summarise(results: StudyResults): string[] {
  const out: string[] = [];
  const { config } = results;
  const total = runGrid(config).length;
  if (config.data.kind === "synthetic") {
    out.push(
      "The photos are **synthetic** (the demo's generator), and the pretrained weights come from a small " +
        "synthetic source task, not ImageNet. These numbers show the study's machinery working end to end; " +
        "they say nothing about retinal photos or about the papers' claims.",
    );
  }
  if (results.missing.length > 0) {
    out.push(
      `${results.missing.length} of ${total} runs ${
        results.missing.length === 1 ? "is" : "are"
      } missing (listed below); every number here covers only ` +
        `the ${results.runs.length} finished runs.`,
    );
  }
  const medmnist = isMedmnist(results);
  if (medmnist) out.push(...medmnistFindings(results));
  for (const model of [...new Set(results.runs.map((r) => r.model))]) {
    const name = modelLabel(model);
    const gs = groups(results).filter((g) => g.model === model && g.runs.length > 0);
    const ranked = gs.map((g) => ({ g, m: mean(g.runs.map((r) => r.final.aucReferable)) }))
      .sort((a, b) => b.m - a.m);
    if (!medmnist) {
      out.push(
        `**${name}**, test referable-DR AUC (mean ± sd over seeds, %): ` +
          ranked.map(({ g }) => `${g.init} ${meanSd(g.runs.map((r) => r.final.aucReferable))}`).join("; ") +
          ".",
      );
    }
    const pairs = new Map<string, InitComparison[]>();
    for (const c of results.comparisons) {
      if (c.model !== model || (c.metric ?? "referable") !== "referable") continue;
      const key = `${c.a}\u0000${c.b}`;
      pairs.set(key, [...(pairs.get(key) ?? []), c]);
    }
    for (const both of pairs.values()) {
      // the verdict counts the seeds' own test sets; the seed-averaged (pooled) test is reported beside it
      const pooled = both.find((c) => c.seed === null);
      const cs = both.filter((c) => c.seed !== null);
      if (cs.length === 0) continue;
      const { a, b } = cs[0];
      const r = readSeeds(cs);
      const d = r.meanDiff, n = r.n;
      const unit = n === 1 ? "test set" : "seeds' test sets";
      const all = n === 1 ? "the" : n === 2 ? "both" : `all ${n}`;
      let verdict: string;
      if (r.verdict === "no measurable difference") {
        verdict = `not significant (DeLong p ≥ ${SIG} in ${all} ${unit}): ` +
          `this run cannot tell ${a} from ${b}`;
      } else if (r.verdict === "significant") {
        verdict = `significant in ${all} ${unit} (DeLong p < ${SIG}; ` +
          `bootstrap CI excludes 0 in ${r.ciOut} of ${n})`;
      } else {
        verdict =
          `significant in only ${r.sig} of ${n} ${unit}${r.sameSign ? "" : " and not in one direction"}: ` +
          `inconclusive`;
      }
      const pool = pooled
        ? ` Seed-averaged predictions: ${signedPp(pooled.aucA - pooled.aucB)} points, DeLong p ${
          pValue(pooled.p)
        }, CI [${signedPp(pooled.ciLow)}, ${signedPp(pooled.ciHigh)}].`
        : "";
      const at = cs[0].predictions === "best" ? " (test predictions of the best-val epoch)" : "";
      out.push(
        `${name}, ${a} − ${b}: ${signedPp(d)} referable-AUC points on average${at}, ${verdict}.${pool}`,
      );
    }
    if (gs.length > 1) out.push(speedSentence(results, model));
    const perLayer = layerGaps(results.similarity, model);
    if (perLayer) out.push(`${name}, ${perLayer}`);
    const last = finalLayers(results.similarity, model);
    const base = last.find((r) => r.pair === "random-vs-random");
    for (const r of last.filter((x) => x.pair !== "random-vs-random")) {
      if (!base) break;
      const gap = r.svcca.mean - base.svcca.mean;
      const spread = (Number.isFinite(r.svcca.std) ? r.svcca.std : 0) +
        (Number.isFinite(base.svcca.std) ? base.svcca.std : 0);
      const how = Math.abs(gap) <= spread
        ? "within the spread of the random-vs-random baseline: no measurable difference"
        : gap < 0
        ? "below the random-vs-random baseline: these runs end in representations further from random-init ones than two random inits are from each other"
        : "above the random-vs-random baseline";
      out.push(
        `${name}, final hidden layer \`${r.layer}\`: SVCCA ${r.pair} ${stat(r.svcca)} vs random-vs-random ` +
          `${stat(base.svcca)}, ${how} (${r.svcca.n} vs ${base.svcca.n} run pairs).`,
      );
    }
  }
  if (results.runs.length > 0) {
    const seeds = config.seeds.length;
    out.push(
      `With ${seeds} seed${
        seeds === 1 ? "" : "s"
      } per setting the standard deviations are rough; the p-values are ` +
        `per test set and uncorrected except the Holm column. For reference, Raghu et al. report that ImageNet ` +
        `transfer barely changes final AUC on large data while speeding up convergence, and Zingo et al. found a ` +
        `larger transfer gain on Kaggle data.`,
    );
  } else {
    out.push("No run has finished yet, so there is nothing to compare.");
  }
  return out;
}

function settingSection(results: StudyResults): string {
  const c = results.config;
  const data = c.data.kind === "synthetic"
    ? `${c.data.count} synthetic fundus photos generated at ${c.data.width} px (generator seed ${c.data.seed})`
    : `${
      results.dataset?.name
        ? `${results.dataset.name} at `
        : isMedmnist(results)
        ? "RetinaMNIST (MedMNIST v2) at "
        : ""
    }\`${c.data.path}\`${c.data.format ? ` (${c.data.format})` : ""}`;
  const lines = [
    `- Data: ${data}` +
    (c.limit !== null ? `, limited to the first ${c.limit} photos` : "") +
    (results.dataset ? `; ${results.dataset.train} training and ${results.dataset.test} test photos` : "") +
    (results.dataset?.classCounts ? ` (grades 0-4: ${results.dataset.classCounts.join(" / ")})` : ""),
    isMedmnist(results)
      ? `- Split: the dataset's own train / val / test; val picks each run's best epoch (and the headline ` +
        `setting), test only reports${
          c.trainSubset !== null ? `; stratified training subset of ${c.trainSubset} photos` : ""
        }`
      : `- Split: patient-aware ${Math.round((1 - c.testFraction) * 100)}:${
        Math.round(c.testFraction * 100)
      } ` +
        `train/test${
          c.trainSubset !== null ? `, stratified training subset of ${c.trainSubset} photos` : ""
        }`,
    `- Models: ${c.models.map(modelLabel).join(", ")}; inits: ${c.inits.join(", ")}; seeds: ${
      c.seeds.join(", ")
    }` +
    (baselineModels(c).length
      ? `; random-init baselines: ${baselineModels(c).map(modelLabel).join(", ")}${
        c.baselineSize !== null && c.baselineSize !== c.size
          ? ` at ${c.baselineSize}×${c.baselineSize} px`
          : ""
      }`
      : ""),
    `- Training: Adam, lr ${c.lr}, batch ${c.batch}, ${c.epochs} epochs, ${c.size}×${c.size} px, device ${c.device}`,
  ];
  if (c.source) {
    lines.push(
      `- Pretraining (stand-in for ImageNet): ${
        modelLabel(c.source.model)
      } on a synthetic ${c.source.classes}-class ` +
        `source task of ${c.source.count} images, ${c.source.epochs} epochs`,
    );
  }
  const w = Object.entries(c.weights);
  if (w.length) {
    lines.push(`- Pretrained weights: ${w.map(([m, f]) => `${modelLabel(m)} \`${f}\``).join(", ")}`);
  }
  const probes = results.similarity.find((r) => r.probes !== undefined)?.probes;
  lines.push(
    `- CCA probe set: ${probes ?? c.probeCount} held-out photos` +
      (probes !== undefined && probes !== c.probeCount ? ` (${c.probeCount} asked for)` : ""),
  );
  return lines.join("\n");
}

function provenanceSection(results: StudyResults): string {
  const p = results.provenance;
  const hash = (h: { path: string; sha256: string | null } | null) =>
    h === null ? "—" : `\`${h.path}\`: ${h.sha256 ? `\`${h.sha256}\`` : "unreadable"}`;
  const order = new Map(runGrid(p.config).map((r, i) => [r.id, i]));
  const runs = [...results.runs].sort((a, b) =>
    (order.get(a.id) ?? Infinity) - (order.get(b.id) ?? Infinity) || a.id.localeCompare(b.id)
  );
  const lines = [
    `- Commit: \`${p.gitCommit}\`${p.gitBranch ? ` (${p.gitBranch})` : ""}`,
    `- Seeds: ${p.config.seeds.join(", ")}`,
    `- Versions: ${Object.entries(p.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `- deno.lock: ${hash(p.denoLock)}`,
    `- Data manifest: ${hash(p.dataManifest)}`,
    ...(p.weights.length
      ? [`- Weights: ${p.weights.map((w) => `${modelLabel(w.model)} ${hash(w)}`).join("; ")}`]
      : []),
    `- Machine: ${p.machine.cpu}, ${p.machine.cores} cores, ${p.machine.memoryGiB} GiB, ${p.machine.os}; ` +
    `GPU: ${p.machine.gpu ?? "none found"}; device asked: ${p.machine.device}`,
    `- Started as: \`${
      p.argv.length ? p.argv.join(" ") : "(no arguments)"
    }\`; provenance collected ${p.collectedAt}`,
    "",
    "Rerun the whole study (every field of the configuration spelled out):",
    "",
    "```sh",
    p.command,
    "```",
    "",
  ];
  if (runs.length) {
    const total = runs.reduce((a, r) => a + r.wallSec, 0);
    lines.push(
      `Wall time per run (total ${duration(total)}):`,
      "",
      table(
        ["Run", "device", "wall time", "steps", "images/s"],
        runs.map((r) => [
          r.id,
          r.device ?? p.machine.device,
          duration(r.wallSec),
          r.rows.length ? String(r.rows[r.rows.length - 1].step) : "—",
          fixed(mean(r.rows.map((x) => x.imagesPerSec)), 1),
        ]),
      ),
      "",
    );
  }
  lines.push(
    "<details><summary>Resolved configuration</summary>",
    "",
    "```json",
    JSON.stringify(p.config, null, 2),
    "```",
    "",
    "</details>",
  );
  return lines.join("\n");
}

/**
 * Builds the report's Markdown and renders its figures, writing nothing.
 *
 * @example
 * ```ts ignore
 * import { buildReport } from "./report.ts";
 * const { markdown, figures } = await buildReport(results);
 * ```
 */
export async function buildReport(results: StudyResults, options: BuildOptions = {}): Promise<BuiltReport> {
  const figDir = options.figures ?? "figures";
  const { config } = results;
  const models = [
    ...new Set([...config.models, ...(config.baselines ?? []), ...results.runs.map((r) => r.model)]),
  ];
  const inits = [...new Set([...config.inits, ...results.runs.map((r) => r.init)])];
  const figures: ReportFigure[] = [];
  const total = runGrid(config).length;
  const md: string[] = [
    `# Transfusion reproduction: \`${config.preset}\` preset`,
    "",
    `${results.runs.length} of ${total} runs finished` +
    (results.missing.length ? ` (${results.missing.length} missing)` : "") +
    ` · commit \`${results.provenance.gitCommit.slice(0, 12)}\` · ${
      results.provenance.collectedAt.slice(0, 10)
    }`,
    "",
    "## The answers",
    "",
    ...answers(results).map((s) => `- ${s}`),
    "",
    "## What this run shows",
    "",
    ...summarise(results).map((s) => `- ${s}`),
    "",
    "## Setting",
    "",
    settingSection(results),
    "",
    ...resultsSection(results),
    "## Significance between inits",
    "",
    significanceSection(results),
    "",
    "## Convergence speed",
    "",
    convergenceSection(results),
    "",
    ...await aucCurvesSection(results, models, inits, figures, figDir),
    ...await similaritySection(results, models, figures, figDir),
    ...initSimilaritySection(results, models, inits),
    ...(results.notes?.length ? ["### Analysis notes", "", ...results.notes.map((n) => `- ${n}`), ""] : []),
    ...missingSection(results, total),
    "## Provenance",
    "",
    provenanceSection(results),
    "",
  ];
  return { markdown: md.join("\n"), figures };
}

/** One AUC-per-epoch figure per model (added to `figures`), with its caption. */
async function aucCurvesSection(
  results: StudyResults,
  models: readonly string[],
  inits: readonly string[],
  figures: ReportFigure[],
  figDir: string,
): Promise<string[]> {
  const md = ["## AUC per epoch", ""];
  for (const model of models) {
    if (!results.runs.some((r) => r.model === model)) {
      md.push(`${modelLabel(model)}: no finished runs.`, "");
      continue;
    }
    const name = `auc-${model}`;
    const spec = aucCurveSpec(model, results.runs, [...inits]);
    figures.push({ name, title: `${modelLabel(model)}: AUC per epoch`, spec, svg: await renderSvg(spec) });
    md.push(
      `![${modelLabel(model)}: held-out AUC per epoch, one colour per init](${figDir}/${name}.svg)`,
      "",
      `*${modelLabel(model)}: held-out AUC after each evaluation (thin: one seed; thick: mean over seeds). ` +
        `Chart spec with data: [figures/${name}.vl.json](${figDir}/${name}.vl.json).*`,
      "",
    );
  }
  return md;
}

/** SVCCA, PWCCA and CKA per layer: how to read them, then one figure and table per model. */
async function similaritySection(
  results: StudyResults,
  models: readonly string[],
  figures: ReportFigure[],
  figDir: string,
): Promise<string[]> {
  const md = ["## Representation similarity (SVCCA, PWCCA, CKA)", ""];
  if (results.similarity.length === 0) {
    md.push(
      "No representation similarities were computed (no activations of two or more runs of a model).",
      "",
    );
    return md;
  }
  const probes = results.similarity.find((r) => r.probes !== undefined)?.probes ?? results.config.probeCount;
  md.push(
    "Similarity between the trained networks' activations on the same held-out probe photos (conv layers " +
      "averaged over space). A pair of different inits compares the two runs that share a seed (same " +
      "data order); random-vs-random compares random-init runs of different seeds. As in Raghu et al.'s " +
      "Figures 3-4, transfer-vs-random is read against random-vs-random: two random inits trained alike " +
      "give the baseline of how similar independently trained networks are anyway. CCA needs more probe " +
      `photos than dimensions, so with ${probes} probe photos each side keeps at most ` +
      `${ccaCap(probes)} directions (SVCCA's 99 %-variance directions are ` +
      "capped there; PWCCA runs on that many PCA directions of a wider layer); CKA uses all neurons.",
    "",
  );
  for (const model of models) {
    if (!results.similarity.some((r) => r.model === model)) continue;
    const name = `cca-${model}`;
    const spec = similaritySpec(model, results.similarity);
    figures.push({
      name,
      title: `${modelLabel(model)}: similarity per layer`,
      spec,
      svg: await renderSvg(spec),
    });
    md.push(
      `![${modelLabel(model)}: SVCCA, PWCCA and CKA per layer](${figDir}/${name}.svg)`,
      "",
      `*Spec with data: [figures/${name}.vl.json](${figDir}/${name}.vl.json).*`,
      "",
      similarityTable(results.similarity, model),
      "",
    );
  }
  return md;
}

/** Each run against its own initialisation, per layer: how far training moved it. */
function initSimilaritySection(
  results: StudyResults,
  models: readonly string[],
  inits: readonly string[],
): string[] {
  const own = results.initSimilarity ?? [];
  if (own.length === 0) return [];
  const md = [
    "### Similarity to the run's own initialisation",
    "",
    "Each run's activations after training against its activations at initialisation (same probe photos), " +
    "mean ± sd over seeds: how far training moved each layer. Raghu et al. find that large models move " +
    "little from their initialisation in the lower layers, whether it is random or pretrained.",
    "",
  ];
  for (const model of models) {
    const mine = own.filter((r) => r.model === model);
    if (mine.length === 0) continue;
    const layers = [...new Map(mine.map((r) => [r.layer, r.layerIndex])).entries()]
      .sort((a, b) => a[1] - b[1]).map(([l]) => l);
    const initsHere = inits.filter((i) => mine.some((r) => r.pair === i));
    md.push(
      `${modelLabel(model)}, SVCCA / linear CKA:`,
      "",
      table(
        ["layer", ...initsHere],
        layers.map((layer) => [
          `\`${layer}\``,
          ...initsHere.map((i) => {
            const r = mine.find((x) => x.layer === layer && x.pair === i);
            return r ? `${stat(r.svcca)} / ${stat(r.cka)}` : "—";
          }),
        ]),
      ),
      "",
    );
  }
  return md;
}

/** The grid's runs without a result, and why. */
function missingSection(results: StudyResults, total: number): string[] {
  if (results.missing.length === 0) {
    return ["## Missing runs", "", `None: all ${total} runs of the grid finished.`, ""];
  }
  return [
    "## Missing runs",
    "",
    `${results.missing.length} of ${total} runs have no result; rerun the same command (or the missing ` +
    "shards) to complete them.",
    "",
    table(["Run", "why"], results.missing.map((m) => [m.id, m.reason])),
    "",
  ];
}

/**
 * Writes `report.md` and `figures/<name>.svg` + `figures/<name>.vl.json` under `dir`, atomically.
 * Returns the paths written; the first figure is the report's main one.
 *
 * @example
 * ```ts ignore
 * import { writeReport } from "./report.ts";
 * const { report, figures } = await writeReport(results, "out");
 * ```
 */
export async function writeReport(
  results: StudyResults,
  dir: string,
): Promise<{ report: string; figures: { name: string; svg: string; spec: string }[] }> {
  const built = await buildReport(results);
  const figures = [];
  for (const f of built.figures) {
    const svg = join(dir, "figures", `${f.name}.svg`);
    const spec = join(dir, "figures", `${f.name}.vl.json`);
    await writeFileAtomic(spec, JSON.stringify(f.spec, null, 2) + "\n");
    await writeFileAtomic(svg, f.svg);
    figures.push({ name: f.name, svg, spec });
  }
  const report = join(dir, "report.md");
  await writeFileAtomic(report, built.markdown);
  return { report, figures };
}
