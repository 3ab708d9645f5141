/**
 * The study's report: `report.md` with the published table beside this run's, significance, kappa,
 * convergence speed, AUC curves, representation similarity, missing runs and provenance, plus
 * `figures/*.svg` rendered by Vega-Lite with each chart's spec beside it. It renders what lib/study's
 * analysis hands it (the results types and provenance live there), so the imports run report → study only.
 * @module
 */
export {
  answers,
  type BuildOptions,
  buildReport,
  type BuiltReport,
  holm,
  type ReportFigure,
  summarise,
  writeReport,
} from "./report.ts";
export {
  aucCurveSpec,
  colourScale,
  renderSvg,
  similaritySpec,
  svgToPng,
  type VegaLiteSpec,
} from "./figures.ts";
export {
  MEDMNIST_RETINA,
  type MedmnistRow,
  MODEL_LABELS,
  modelLabel,
  PUBLISHED,
  type PublishedRow,
} from "./published.ts";
// the similarity rows carry lib/stats' summary type; exported here too so this module documents on its own
export type { MeanStd } from "../stats/summary.ts";
