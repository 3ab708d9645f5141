/**
 * The report's figures as Vega-Lite specs with their data inline (so each `.vl.json` beside its SVG
 * re-renders on its own, e.g. in the Vega editor), rendered to SVG offline with vega's headless view.
 * @module
 */
import * as vega from "npm:vega@6.4.0";
import * as vl from "npm:vega-lite@6.5.0";
import { writeFileAtomic } from "../util/fs.ts";
import { modelLabel } from "./published.ts";
import type { RunResult, SimilarityRow } from "../study/results.ts";

/** A Vega-Lite spec (top level), kept loose so specs stay plain JSON. */
export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
// Tableau 10, with random init always blue and the baselines grey, so colours mean the same in every figure.
const INIT_COLOURS: Record<string, string> = { random: "#4c78a8", transfer: "#f58518", meanvar: "#54a24b" };
const EXTRA_COLOURS = ["#e45756", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6"];

/** A colour per name: fixed for the three main inits, then a palette in order of first appearance. */
export function colourScale(names: readonly string[]): { domain: string[]; range: string[] } {
  let k = 0;
  const range = names.map((n) => {
    if (INIT_COLOURS[n]) return INIT_COLOURS[n];
    if (/^random-vs-random$/.test(n)) return "#888888";
    // "X-vs-random" takes X's colour; any other pair its own, so no two pairs share a colour
    const m = /^(.+)-vs-random$/.exec(n);
    if (m && INIT_COLOURS[m[1]]) return INIT_COLOURS[m[1]];
    return EXTRA_COLOURS[k++ % EXTRA_COLOURS.length];
  });
  return { domain: [...names], range };
}

const CONFIG = {
  font: "DejaVu Sans, Helvetica, Arial, sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: "#eee" },
  legend: {
    labelFontSize: 11,
    titleFontSize: 12,
    orient: "bottom",
    direction: "horizontal",
    symbolOpacity: 1,
    labelLimit: 260,
  },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, subtitleFontSize: 11, anchor: "start", subtitleColor: "#555" },
};

/**
 * AUC per epoch for one model (Zingo et al.'s Figures 1-2): one panel per AUC (referable, macro), a thin
 * line per seed and a thick mean line per init, one colour per init.
 */
export function aucCurveSpec(
  model: string,
  runs: readonly RunResult[],
  inits: readonly string[],
): VegaLiteSpec {
  const values = runs.filter((r) => r.model === model).flatMap((r) =>
    r.rows.flatMap((row) => [
      {
        init: r.init,
        seed: r.seed,
        epoch: row.epoch,
        step: row.step,
        metric: "Referable DR (grade ≥ 2)",
        auc: row.testAucReferable,
      },
      {
        init: r.init,
        seed: r.seed,
        epoch: row.epoch,
        step: row.step,
        metric: "Macro, 5 grades (one-vs-rest)",
        auc: row.testAucMacro,
      },
    ])
  );
  const present = inits.filter((i) => values.some((v) => v.init === i));
  const colour = {
    field: "init",
    type: "nominal",
    title: "init",
    scale: colourScale(present),
    sort: present,
  };
  const x = { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } };
  return {
    $schema: SCHEMA,
    title: {
      text: `${modelLabel(model)}: held-out AUC per epoch`,
      subtitle: "thin lines: single seeds; thick lines: mean over seeds",
    },
    data: { values },
    facet: { column: { field: "metric", type: "nominal", title: null, sort: "descending" } },
    spec: {
      width: 300,
      height: 220,
      layer: [
        {
          mark: { type: "line", strokeWidth: 1, opacity: 0.45, interpolate: "linear" },
          encoding: {
            x,
            y: { field: "auc", type: "quantitative", title: "AUC", scale: { zero: false } },
            color: colour,
            detail: { field: "seed", type: "nominal" },
          },
        },
        {
          mark: { type: "line", strokeWidth: 2.5, point: { size: 30 } },
          encoding: {
            x,
            y: { aggregate: "mean", field: "auc", type: "quantitative", title: "AUC" },
            color: colour,
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
    config: CONFIG,
  };
}

const MEASURES = [["svcca", "SVCCA"], ["pwcca", "PWCCA"], ["cka", "linear CKA"]] as const;

/**
 * Representation similarity per layer for one model (Raghu et al.'s Figures 3-4): one panel per measure,
 * mean ± sd over run pairs, one colour per pair, random-vs-random in grey as the baseline.
 */
export function similaritySpec(model: string, rows: readonly SimilarityRow[]): VegaLiteSpec {
  const mine = rows.filter((r) => r.model === model);
  const order = [...new Map(mine.map((r) => [r.layer, r.layerIndex])).entries()]
    .sort((a, b) => a[1] - b[1]).map(([layer]) => layer);
  const pairs = [...new Set(mine.map((r) => r.pair))].sort((a, b) =>
    // the baseline last, so its grey sits under the comparisons in the legend and the plot
    (a === "random-vs-random" ? 1 : 0) - (b === "random-vs-random" ? 1 : 0) || a.localeCompare(b)
  );
  // a measure that could not be computed (too few probe photos for CCA) is left out, not drawn at 0
  const values = mine.flatMap((r) =>
    MEASURES.filter(([key]) => Number.isFinite(r[key].mean)).map(([key, label]) => ({
      layer: r.layer,
      pair: r.pair,
      measure: label,
      mean: r[key].mean,
      // one pair has no sd: the bar collapses to the point
      lo: r[key].mean - (Number.isFinite(r[key].std) ? r[key].std : 0),
      hi: r[key].mean + (Number.isFinite(r[key].std) ? r[key].std : 0),
      sd: Number.isFinite(r[key].std) ? r[key].std : null,
      pairs: r[key].n,
    }))
  );
  const colour = {
    field: "pair",
    type: "nominal",
    title: "runs compared",
    scale: colourScale(pairs),
    sort: pairs,
  };
  const x = {
    field: "layer",
    type: "ordinal",
    title: "layer (input → output)",
    sort: order,
    axis: { labelAngle: -30 },
  };
  return {
    $schema: SCHEMA,
    title: {
      text: `${modelLabel(model)}: similarity of trained representations per layer`,
      subtitle: "mean ± sd over run pairs; grey = two random inits (the baseline)",
    },
    data: { values },
    facet: { column: { field: "measure", type: "nominal", title: null, sort: MEASURES.map((m) => m[1]) } },
    spec: {
      width: 220,
      height: 200,
      layer: [
        {
          mark: { type: "line", strokeWidth: 1, opacity: 0.5 },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative" },
            color: colour,
            xOffset: { field: "pair", sort: pairs },
          },
        },
        {
          mark: { type: "rule", strokeWidth: 1.5, opacity: 0.7 },
          encoding: {
            x,
            y: { field: "lo", type: "quantitative" },
            y2: { field: "hi" },
            color: colour,
            xOffset: { field: "pair", sort: pairs },
          },
        },
        {
          mark: { type: "point", filled: true, size: 45 },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative", title: "similarity", scale: { domain: [0, 1] } },
            color: colour,
            xOffset: { field: "pair", sort: pairs },
            tooltip: [{ field: "pair" }, { field: "layer" }, { field: "mean", format: ".3f" }, {
              field: "sd",
              format: ".3f",
            }],
          },
        },
      ],
    },
    config: CONFIG,
  };
}

/**
 * Renders a Vega-Lite spec to an SVG string, headless and offline.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./figures.ts";
 * const svg = await renderSvg({
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * if (!svg.startsWith("<svg")) throw new Error("not SVG");
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders an SVG to a PNG file (for the README, or to look at a figure) with sharp; `density` is the DPI
 * the SVG is rasterised at (72 = 1 px per SVG unit). sharp is loaded only here, so writing the report
 * itself needs no native code.
 */
export async function svgToPng(svg: string, path: string, density = 144): Promise<void> {
  const { default: sharp } = await import("npm:sharp@0.35.5");
  const png = await sharp(new TextEncoder().encode(svg), { density }).png().toBuffer();
  await writeFileAtomic(path, new Uint8Array(png));
}
