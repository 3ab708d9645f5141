/**
 * Model definitions (ResNet-50, Inception-v3, SqueezeNet 1.1, the CBR family) written once against the layer API of
 * `nn.ts` (with each layer's state_dict tensors), the registry and state_dict specs, and initialisations.
 * @module
 */
export {
  batchNorm2dSpecs,
  type Conv2dOptions,
  conv2dSpecs,
  convWindow,
  headClasses,
  type Init,
  type LinearOptions,
  linearSpecs,
  type ModelOptions,
  type ModelOutput,
  type Net,
  pair,
  type ParamSpec,
  type PoolOptions,
  poolWindow,
  type Sized,
  type Window,
} from "./nn.ts";
export { resnet50 } from "./resnet.ts";
export type { Rng } from "../util/random.ts";
export { INCEPTION_AUX_MIN_SIZE, INCEPTION_MIN_SIZE, inceptionV3, TRANSFORM_INPUT } from "./inception.ts";
export { cbr, CBR_SPECS, type CbrVariant } from "./cbr.ts";
export { squeezenet1_1, SQUEEZENET_FIRES } from "./squeezenet.ts";
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
