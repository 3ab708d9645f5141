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
  linear(name: string, x: T, o: { out: number; bias?: boolean; init?: Init; biasInit?: Init }): T;
  /** Dropout in training mode (seeded by the backend), identity in evaluation. */
  dropout(x: T, p: number): T;
  /** y[:, c] = x[:, c] * scale[c] + shift[c] (Inception's transform_input). */
  channelAffine(x: T, scale: number[], shift: number[]): T;
  /** Marks an activation the analysis may read (CCA): the pooled stage outputs and the final hidden layer. */
  tap(name: string, x: T): T;
}
