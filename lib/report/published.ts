/**
 * The published numbers this study is compared with (AUC %, mean ± spread over runs), as tabulated in
 * Raghu et al. 2019 (private RETINA data, moderate-DR AUC) and Zingo et al. (Kaggle EyePACS 2015), and
 * MedMNIST v2's RetinaMNIST benchmark (test macro AUC and accuracy at the epoch chosen on val).
 * @module
 */

/** One published row: a model's AUC under random init and ImageNet transfer. */
export interface PublishedRow {
  /** model registry name */
  model: string;
  /** which paper */
  source: "Raghu" | "Zingo";
  /** "RETINA" (Raghu, ~250k photos), "RETINA 5k" (Raghu's very-small-data setting) or "Kaggle" (Zingo) */
  data: string;
  /** AUC in percent */
  random: number;
  /** spread over runs as published, or null when not given */
  randomSpread: number | null;
  /** AUC in percent with ImageNet transfer */
  transfer: number;
  /** spread over runs as published, or null when not given */
  transferSpread: number | null;
}

/** Raghu's and Zingo's published AUCs (percent), from their papers' tables. */
export const PUBLISHED: readonly PublishedRow[] = [
  {
    model: "resnet50",
    source: "Raghu",
    data: "RETINA",
    random: 96.4,
    randomSpread: 0.05,
    transfer: 96.7,
    transferSpread: 0.04,
  },
  {
    model: "inception_v3",
    source: "Raghu",
    data: "RETINA",
    random: 96.6,
    randomSpread: 0.13,
    transfer: 96.7,
    transferSpread: 0.05,
  },
  {
    model: "cbr_large_t",
    source: "Raghu",
    data: "RETINA",
    random: 96.2,
    randomSpread: 0.04,
    transfer: 96.2,
    transferSpread: 0.04,
  },
  {
    model: "resnet50",
    source: "Zingo",
    data: "Kaggle",
    random: 81.25,
    randomSpread: 0.02,
    transfer: 86.89,
    transferSpread: 0.03,
  },
  {
    model: "inception_v3",
    source: "Zingo",
    data: "Kaggle",
    random: 86.57,
    randomSpread: 0.03,
    transfer: 93.1,
    transferSpread: 0.007,
  },
  {
    model: "resnet50",
    source: "Raghu",
    data: "RETINA 5k",
    random: 92.2,
    randomSpread: null,
    transfer: 94.6,
    transferSpread: null,
  },
  {
    model: "cbr_large_t",
    source: "Raghu",
    data: "RETINA 5k",
    random: 93.6,
    randomSpread: null,
    transfer: 93.9,
    transferSpread: null,
  },
  {
    model: "cbr_large_w",
    source: "Raghu",
    data: "RETINA 5k",
    random: 93.6,
    randomSpread: null,
    transfer: 93.7,
    transferSpread: null,
  },
];

/** One published RetinaMNIST result (MedMNIST v2, Yang et al. 2023, Table 2; 28×28 inputs). */
export interface MedmnistRow {
  /** the method as the table names it */
  method: string;
  /** test one-vs-rest macro AUC, 0..1 */
  auc: number;
  /** test accuracy, 0..1 */
  acc: number;
}

/** MedMNIST v2's published RetinaMNIST rows (test AUC / ACC; best epoch chosen on val). */
export const MEDMNIST_RETINA: readonly MedmnistRow[] = [
  { method: "ResNet-18 (28)", auc: 0.717, acc: 0.524 },
  { method: "ResNet-50 (28)", auc: 0.726, acc: 0.528 },
  { method: "auto-sklearn", auc: 0.69, acc: 0.515 },
  { method: "AutoKeras", auc: 0.719, acc: 0.503 },
  { method: "Google AutoML Vision", auc: 0.75, acc: 0.531 },
];

/** Display names of the registry's models. */
export const MODEL_LABELS: Readonly<Record<string, string>> = {
  resnet50: "ResNet-50",
  inception_v3: "Inception-v3",
  cbr_large_t: "CBR-LargeT",
  cbr_large_w: "CBR-LargeW",
  cbr_small: "CBR-Small",
  cbr_tiny: "CBR-Tiny",
  squeezenet1_1: "SqueezeNet 1.1",
};

/** A model's display name, or the registry name when it has none. */
export function modelLabel(model: string): string {
  return MODEL_LABELS[model] ?? model;
}
