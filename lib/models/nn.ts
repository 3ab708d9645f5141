/**
 * The layer vocabulary that model definitions are written in. A model is a function over a {@linkcode Net};
 * each backend implements the same calls: one collects parameter specs (names = torchvision state_dict
 * keys, shapes, default initialisers), another emits ONNX graph nodes for training or evaluation.
 * Names passed to layers are the dotted attribute paths of torchvision, so the state_dict keys fall out.
 * @module
 */

/** How a parameter is initialised when a model starts from random weights (torchvision's defaults). */
export type Init =
  | { kind: "kaimingNormalFanOut" } // resnet convs: N(0, 2 / fan_out)
  | { kind: "truncNormal"; std: number } // inception: trunc_normal_(std, a=-2, b=2)
  | { kind: "kaimingUniformA5"; fanIn: number } // nn.Conv2d / nn.Linear weight default: U(±1/sqrt(fan_in))
  | { kind: "uniformFanIn"; fanIn: number } // nn.Linear / Conv2d bias default: U(±1/sqrt(fan_in))
  | { kind: "normal"; std: number } // CBR: N(0, std)
  | { kind: "const"; value: number }; // BN weight 1, bias 0, running_var 1, running_mean 0

/** One tensor of the state_dict: a trainable parameter or a buffer (BN running statistics). */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** false for buffers (running_mean, running_var, num_batches_tracked) */
  trainable: boolean;
  /** "int64" only for num_batches_tracked */
  dtype: "float32" | "int64";
}

export interface Conv2dOptions {
  out: number;
  kernel: number | [number, number];
  stride?: number | [number, number];
  /** symmetric padding per spatial axis, as torch's `padding` */
  padding?: number | [number, number];
  /** default false: torchvision's convs (all followed by BN) have none */
  bias?: boolean;
  init?: Init;
  biasInit?: Init;
}

export interface PoolOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  ceilMode?: boolean;
  /** avg pool only; torch's default is true */
  countIncludePad?: boolean;
}

/**
 * The backend-agnostic network API. `T` is the backend's value handle; every handle knows its shape
 * (NCHW, static batch size), so definitions can assert what torchvision's shape comments say.
 */
export interface Net<T extends { readonly shape: readonly number[] }> {
  conv2d(name: string, x: T, o: Conv2dOptions): T;
  /** BatchNorm2d: training mode uses batch statistics and updates the running ones (momentum 0.1). */
  batchNorm2d(name: string, x: T, o?: { eps?: number; momentum?: number }): T;
  relu(x: T): T;
  maxPool2d(x: T, o: PoolOptions): T;
  avgPool2d(x: T, o: PoolOptions): T;
  /** AdaptiveAvgPool2d((1, 1)) followed by flatten: N×C×H×W → N×C */
  globalAvgPool(x: T): T;
  concat(xs: T[], axis: number): T;
  add(a: T, b: T): T;
  /** nn.Linear on N×F; bias defaults to true as in torch. */
  linear(name: string, x: T, o: { out: number; bias?: boolean; init?: Init; biasInit?: Init }): T;
  /** Dropout in training mode (seeded by the backend), identity in evaluation. */
  dropout(x: T, p: number): T;
  /** y[:, c] = x[:, c] * scale[c] + shift[c] (Inception's transform_input). */
  channelAffine(x: T, scale: number[], shift: number[]): T;
  /** Marks an activation the analysis may read (CCA): the pooled stage outputs and the final hidden layer. */
  tap(name: string, x: T): T;
}
