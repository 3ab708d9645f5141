/**
 * Model definitions (ResNet-50, Inception-v3, the CBR family) written once against the layer API of
 * `nn.ts`, the registry and state_dict specs, initialisations, and a standalone ONNX inference builder.
 * @module
 */
export type { Conv2dOptions, Init, Net, ParamSpec, PoolOptions } from "./nn.ts";
export { headClasses, type ModelOptions, type ModelOutput, resnet50, type Sized } from "./resnet.ts";
export type { Rng } from "../util/random.ts";
export { INCEPTION_AUX_MIN_SIZE, INCEPTION_MIN_SIZE, inceptionV3, TRANSFORM_INPUT } from "./inception.ts";
export { cbr, CBR_SPECS, type CbrVariant } from "./cbr.ts";
export { type Shape, ShapeNet } from "./shape_net.ts";
export {
  countParams,
  getModel,
  type ModelDef,
  MODELS,
  type ModelSpec,
  type ParamCounts,
  paramSpecs,
  type SpecOptions,
  type Stage,
} from "./registry.ts";
export { initTensor, meanVarInit, moments, randomInit, transferInit, transfusionInit } from "./init.ts";
export { inferenceModel, InferenceNet, type InferenceOptions, type OnnxValue } from "./inference.ts";
