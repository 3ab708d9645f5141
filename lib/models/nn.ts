/**
 * The layer vocabulary that model definitions are written in. A model is a function over a {@linkcode Net};
 * each backend implements the same calls: one collects parameter specs (names = torchvision state_dict
 * keys, shapes, default initialisers), another emits ONNX graph nodes for training or evaluation.
 * Names passed to layers are the dotted attribute paths of torchvision, so the state_dict keys fall out.
 * Each weighted layer's tensors are declared once, here ({@linkcode conv2dSpecs}, {@linkcode batchNorm2dSpecs},
 * {@linkcode linearSpecs}), and every backend registers those.
 * @module
 */

/** A value handle of any backend of the layer API: it knows its shape. */
export type Sized = { readonly shape: readonly number[] };

/** Options shared by every model definition. */
export interface ModelOptions {
  /** Size of the classifier (default 5; 1000 with `keepHead`). */
  classes?: number;
  /** Keep ImageNet's 1000-way head instead of a new `classes`-way one. */
  keepHead?: boolean;
  /** Inception-v3 only: build the AuxLogits head (default true). */
  aux?: boolean;
  /** Inception-v3 only: torchvision's `transform_input` (default true, as the ImageNet weights expect). */
  transformInput?: boolean;
}

/** What a model definition returns: the main logits and, for Inception-v3 with `aux`, the aux logits. */
export interface ModelOutput<T> {
  /** Main classifier logits. */
  logits: T;
  /** Whether the AuxLogits head is built. */
  aux?: T;
}

/** The head size from the options: `keepHead` means ImageNet's 1000 classes. */
export function headClasses(opts: ModelOptions = {}): number {
  if (opts.keepHead) {
    if (opts.classes !== undefined && opts.classes !== 1000) {
      throw new RangeError(
        `Options keepHead and classes=${opts.classes} conflict: the kept head has 1000 classes`,
      );
    }
    return 1000;
  }
  const c = opts.classes ?? 5;
  if (!Number.isInteger(c) || c < 1) {
    throw new RangeError(`Option classes must be a positive integer, got ${c}`);
  }
  return c;
}

/** How a parameter is initialised when a model starts from random weights (torchvision's defaults). */
export type Init =
  | { kind: "kaimingNormalFanOut" } // resnet convs: N(0, 2 / fan_out)
  | { kind: "truncNormal"; std: number } // inception: trunc_normal_(std, a=-2, b=2)
  | { kind: "kaimingUniformA5"; fanIn: number } // nn.Conv2d / nn.Linear weight default: U(±1/sqrt(fan_in))
  | { kind: "uniformFanIn"; fanIn: number } // nn.Linear / Conv2d bias default: U(±1/sqrt(fan_in))
  | { kind: "kaimingUniform"; fanIn: number } // kaiming_uniform_(a=0), SqueezeNet's convs: U(±sqrt(6/fan_in))
  | { kind: "normal"; std: number } // CBR: N(0, std)
  | { kind: "const"; value: number }; // BN weight 1, bias 0, running_var 1, running_mean 0

/** One tensor of the state_dict: a trainable parameter or a buffer (BN running statistics). */
export interface ParamSpec {
  /** state_dict key (torchvision's dotted attribute path), e.g. `layer1.0.conv1.weight` */
  name: string;
  /** tensor shape as torch stores it (conv weights out×in×kH×kW) */
  shape: number[];
  /** how the tensor is filled when the model starts from random weights */
  init: Init;
  /** false for buffers (running_mean, running_var, num_batches_tracked) */
  trainable: boolean;
  /** "int64" only for num_batches_tracked */
  dtype: "float32" | "int64";
}

/** One tensor: C-order data; int64 only for `num_batches_tracked`. */
export interface Tensor {
  /** Shape (empty for a scalar). */
  shape: number[];
  /** Values, C order. */
  data: Float32Array | BigInt64Array;
}

/** Name → tensor, in state_dict order (torch's `state_dict()` as a Map); the entries {@linkcode ParamSpec}s describe. */
export type StateDict = Map<string, Tensor>;

/** Options of {@linkcode Net.conv2d}, named after nn.Conv2d's arguments. */
export interface Conv2dOptions {
  /** output channels */
  out: number;
  /** kernel size, square or [height, width] */
  kernel: number | [number, number];
  /** default 1 */
  stride?: number | [number, number];
  /** symmetric padding per spatial axis, as torch's `padding` */
  padding?: number | [number, number];
  /** default false: torchvision's convs (all followed by BN) have none */
  bias?: boolean;
  /** weight initialiser; default nn.Conv2d's (kaimingUniformA5) */
  init?: Init;
  /** bias initialiser; default nn.Conv2d's (uniformFanIn) */
  biasInit?: Init;
}

/** Options of {@linkcode Net.maxPool2d} and {@linkcode Net.avgPool2d}, as torch's pooling layers. */
export interface PoolOptions {
  /** window size, square or [height, width] */
  kernel: number | [number, number];
  /** default: the kernel size, as in torch */
  stride?: number | [number, number];
  /** symmetric padding per spatial axis; default 0 */
  padding?: number | [number, number];
  /** round the output size up rather than down (torch's `ceil_mode`); default false */
  ceilMode?: boolean;
  /** avg pool only; torch's default is true */
  countIncludePad?: boolean;
}

/** Options of {@linkcode Net.linear}, named after nn.Linear's arguments. */
export interface LinearOptions {
  /** output features */
  out: number;
  /** default true, as in torch */
  bias?: boolean;
  /** weight initialiser; default nn.Linear's (kaimingUniformA5) */
  init?: Init;
  /** bias initialiser; default nn.Linear's (uniformFanIn) */
  biasInit?: Init;
}

/**
 * The backend-agnostic network API. `T` is the backend's value handle; every handle knows its shape
 * (NCHW, static batch size), so definitions can assert what torchvision's shape comments say.
 */
export interface Net<T extends { readonly shape: readonly number[] }> {
  /** nn.Conv2d: parameters `<name>.weight` and, with `bias`, `<name>.bias`. */
  conv2d(name: string, x: T, o: Conv2dOptions): T;
  /** BatchNorm2d: training mode uses batch statistics and updates the running ones (momentum 0.1). */
  batchNorm2d(name: string, x: T, o?: { eps?: number; momentum?: number }): T;
  /** Elementwise ReLU. */
  relu(x: T): T;
  /** nn.MaxPool2d. */
  maxPool2d(x: T, o: PoolOptions): T;
  /** nn.AvgPool2d. */
  avgPool2d(x: T, o: PoolOptions): T;
  /** AdaptiveAvgPool2d((1, 1)) followed by flatten: N×C×H×W → N×C */
  globalAvgPool(x: T): T;
  /** torch.cat of same-shaped handles along `axis` (1 = channels). */
  concat(xs: T[], axis: number): T;
  /** Elementwise sum (residual connections). */
  add(a: T, b: T): T;
  /** nn.Linear on N×F; bias defaults to true as in torch. */
  linear(name: string, x: T, o: LinearOptions): T;
  /** Dropout in training mode (seeded by the backend), identity in evaluation. */
  dropout(x: T, p: number): T;
  /** y[:, c] = x[:, c] * scale[c] + shift[c] (Inception's transform_input). */
  channelAffine(x: T, scale: number[], shift: number[]): T;
  /** Marks an activation the analysis may read (CCA): the pooled stage outputs and the final hidden layer. */
  tap(name: string, x: T): T;
}

/** torch's `_pair`: a square size as [height, width]; a pair as it is. */
export function pair(v: number | [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : v;
}

/** A sliding window's geometry per spatial axis, [height, width] each (symmetric padding). */
export interface Window {
  /** window size */
  kernel: [number, number];
  /** step between windows */
  stride: [number, number];
  /** padding added on both sides */
  padding: [number, number];
}

/** The window of a conv layer (nn.Conv2d's defaults: stride 1, padding 0). */
export function convWindow(o: Conv2dOptions): Window {
  return { kernel: pair(o.kernel), stride: pair(o.stride ?? 1), padding: pair(o.padding ?? 0) };
}

/** The window of a pooling layer (torch's defaults: stride = kernel, padding 0). */
export function poolWindow(o: PoolOptions): Window {
  return { kernel: pair(o.kernel), stride: pair(o.stride ?? o.kernel), padding: pair(o.padding ?? 0) };
}

function tensor(name: string, shape: number[], init: Init): ParamSpec {
  return { name, shape, init, trainable: true, dtype: "float32" };
}

/**
 * The state_dict tensors of an nn.Conv2d called `name` reading `inChannels` channels: `weight`
 * (out×in×kH×kW), then `bias` when `o.bias`. Every backend of {@linkcode Net} registers these.
 *
 * @example
 * ```ts
 * import { conv2dSpecs } from "./nn.ts";
 * const [w] = conv2dSpecs("conv1", 3, { out: 8, kernel: [3, 5] });
 * if (w.shape.join() !== "8,3,3,5" || w.init.kind !== "kaimingUniformA5") throw new Error("unexpected");
 * ```
 */
export function conv2dSpecs(name: string, inChannels: number, o: Conv2dOptions): ParamSpec[] {
  const [kh, kw] = pair(o.kernel), fanIn = inChannels * kh * kw;
  const specs = [
    tensor(`${name}.weight`, [o.out, inChannels, kh, kw], o.init ?? { kind: "kaimingUniformA5", fanIn }),
  ];
  if (o.bias) specs.push(tensor(`${name}.bias`, [o.out], o.biasInit ?? { kind: "uniformFanIn", fanIn }));
  return specs;
}

/**
 * The state_dict tensors of an nn.BatchNorm2d called `name` over `channels` channels: `weight` (1) and
 * `bias` (0), the buffers `running_mean` (0) and `running_var` (1), and the int64 scalar
 * `num_batches_tracked` (0).
 */
export function batchNorm2dSpecs(name: string, channels: number): ParamSpec[] {
  const c = [channels];
  const buffer = (key: string, value: number): ParamSpec => ({
    ...tensor(`${name}.${key}`, c, { kind: "const", value }),
    trainable: false,
  });
  return [
    tensor(`${name}.weight`, c, { kind: "const", value: 1 }),
    tensor(`${name}.bias`, c, { kind: "const", value: 0 }),
    buffer("running_mean", 0),
    buffer("running_var", 1),
    { ...buffer("num_batches_tracked", 0), shape: [], dtype: "int64" },
  ];
}

/** The state_dict tensors of an nn.Linear called `name` reading `inFeatures`: `weight` (out×in), `bias`. */
export function linearSpecs(name: string, inFeatures: number, o: LinearOptions): ParamSpec[] {
  const fanIn = inFeatures;
  const specs = [tensor(`${name}.weight`, [o.out, fanIn], o.init ?? { kind: "kaimingUniformA5", fanIn })];
  if (o.bias !== false) {
    specs.push(tensor(`${name}.bias`, [o.out], o.biasInit ?? { kind: "uniformFanIn", fanIn }));
  }
  return specs;
}
