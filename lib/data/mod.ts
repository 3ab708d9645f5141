/**
 * The data pipeline: dataset listings (Kaggle EyePACS, APTOS, generic CSV, MedMNIST), fundus cropping and
 * resizing with sharp, the sharded image cache, seeded patient-aware splits, the prefetching batch loader,
 * and synthetic fundus / natural-image data for the default run.
 * @module
 */
export {
  type Dataset,
  DATASET_FORMATS,
  type DatasetFormat,
  type DatasetItem,
  detectFormat,
  listDataset,
  type ListOptions,
} from "./formats.ts";
export {
  centerCropResize,
  CROP_MODES,
  cropCircle,
  type CropMode,
  findFundus,
  type FundusCircle,
  grahamNormalise,
  padSquare,
  parseCropMode,
  type PreprocessedImage,
  preprocessImage,
  type PreprocessImageOptions,
  resizeBilinear,
  resizeCenterCrop,
} from "./fundus.ts";
export {
  type Cache,
  type CacheSettings,
  type Manifest,
  type ManifestEntry,
  openCache,
  type SplitName,
} from "./cache.ts";
export { preprocessDataset, type PreprocessOptions, type PreprocessReport } from "./preprocess.ts";
export { splitDataset, type SplitOptions, stratifiedSubset } from "./split.ts";
export { type Batch, Loader, type LoaderOptions } from "./loader.ts";
export { type AugmentOptions, IMAGENET_MEAN, IMAGENET_STD } from "./batch.ts";
export {
  fundusSvg,
  type FundusSvgOptions,
  KAGGLE_GRADE_FREQ,
  NATURAL_CLASSES,
  naturalSvg,
  synthFundus,
  type SynthFundusOptions,
  synthNatural,
  type SynthNaturalOptions,
  type SynthReport,
} from "./synth.ts";
