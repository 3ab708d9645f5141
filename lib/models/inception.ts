/**
 * Inception-v3 exactly as torchvision 0.14's `inception_v3(init_weights=True)`: BasicConv2d = conv (no
 * bias) → BN (eps 1e-3) → ReLU, the same module names (`Mixed_6e.branch7x7dbl_3.conv.weight`), the
 * AuxLogits head registered between Mixed_6e and Mixed_7a, truncated-normal initialisation.
 * @module
 */
import { headClasses, type ModelOptions, type ModelOutput, type Net, type Sized } from "./nn.ts";
type K = number | [number, number];

/** torchvision's `BasicConv2d`; `stddev` is the trunc_normal_ std (0.1 unless the module overrides it). */
function basicConv<T extends Sized>(
  net: Net<T>,
  name: string,
  x: T,
  out: number,
  kernel: K,
  o: { stride?: number; padding?: K; stddev?: number } = {},
): T {
  x = net.conv2d(`${name}.conv`, x, {
    out,
    kernel,
    stride: o.stride ?? 1,
    padding: o.padding ?? 0,
    bias: false,
    init: { kind: "truncNormal", std: o.stddev ?? 0.1 },
  });
  return net.relu(net.batchNorm2d(`${name}.bn`, x, { eps: 1e-3 }));
}

const avg3 = { kernel: 3, stride: 1, padding: 1 } as const;

function inceptionA<T extends Sized>(net: Net<T>, n: string, x: T, poolFeatures: number): T {
  const b1 = basicConv(net, `${n}.branch1x1`, x, 64, 1);
  let b5 = basicConv(net, `${n}.branch5x5_1`, x, 48, 1);
  b5 = basicConv(net, `${n}.branch5x5_2`, b5, 64, 5, { padding: 2 });
  let b3 = basicConv(net, `${n}.branch3x3dbl_1`, x, 64, 1);
  b3 = basicConv(net, `${n}.branch3x3dbl_2`, b3, 96, 3, { padding: 1 });
  b3 = basicConv(net, `${n}.branch3x3dbl_3`, b3, 96, 3, { padding: 1 });
  const bp = basicConv(net, `${n}.branch_pool`, net.avgPool2d(x, avg3), poolFeatures, 1);
  return net.concat([b1, b5, b3, bp], 1);
}

function inceptionB<T extends Sized>(net: Net<T>, n: string, x: T): T {
  const b3 = basicConv(net, `${n}.branch3x3`, x, 384, 3, { stride: 2 });
  let bd = basicConv(net, `${n}.branch3x3dbl_1`, x, 64, 1);
  bd = basicConv(net, `${n}.branch3x3dbl_2`, bd, 96, 3, { padding: 1 });
  bd = basicConv(net, `${n}.branch3x3dbl_3`, bd, 96, 3, { stride: 2 });
  const bp = net.maxPool2d(x, { kernel: 3, stride: 2 });
  return net.concat([b3, bd, bp], 1);
}

function inceptionC<T extends Sized>(net: Net<T>, n: string, x: T, c7: number): T {
  const b1 = basicConv(net, `${n}.branch1x1`, x, 192, 1);
  let b7 = basicConv(net, `${n}.branch7x7_1`, x, c7, 1);
  b7 = basicConv(net, `${n}.branch7x7_2`, b7, c7, [1, 7], { padding: [0, 3] });
  b7 = basicConv(net, `${n}.branch7x7_3`, b7, 192, [7, 1], { padding: [3, 0] });
  let bd = basicConv(net, `${n}.branch7x7dbl_1`, x, c7, 1);
  bd = basicConv(net, `${n}.branch7x7dbl_2`, bd, c7, [7, 1], { padding: [3, 0] });
  bd = basicConv(net, `${n}.branch7x7dbl_3`, bd, c7, [1, 7], { padding: [0, 3] });
  bd = basicConv(net, `${n}.branch7x7dbl_4`, bd, c7, [7, 1], { padding: [3, 0] });
  bd = basicConv(net, `${n}.branch7x7dbl_5`, bd, 192, [1, 7], { padding: [0, 3] });
  const bp = basicConv(net, `${n}.branch_pool`, net.avgPool2d(x, avg3), 192, 1);
  return net.concat([b1, b7, bd, bp], 1);
}

function inceptionD<T extends Sized>(net: Net<T>, n: string, x: T): T {
  let b3 = basicConv(net, `${n}.branch3x3_1`, x, 192, 1);
  b3 = basicConv(net, `${n}.branch3x3_2`, b3, 320, 3, { stride: 2 });
  let b7 = basicConv(net, `${n}.branch7x7x3_1`, x, 192, 1);
  b7 = basicConv(net, `${n}.branch7x7x3_2`, b7, 192, [1, 7], { padding: [0, 3] });
  b7 = basicConv(net, `${n}.branch7x7x3_3`, b7, 192, [7, 1], { padding: [3, 0] });
  b7 = basicConv(net, `${n}.branch7x7x3_4`, b7, 192, 3, { stride: 2 });
  const bp = net.maxPool2d(x, { kernel: 3, stride: 2 });
  return net.concat([b3, b7, bp], 1);
}

function inceptionE<T extends Sized>(net: Net<T>, n: string, x: T): T {
  const b1 = basicConv(net, `${n}.branch1x1`, x, 320, 1);
  const b3 = basicConv(net, `${n}.branch3x3_1`, x, 384, 1);
  const b3x = net.concat([
    basicConv(net, `${n}.branch3x3_2a`, b3, 384, [1, 3], { padding: [0, 1] }),
    basicConv(net, `${n}.branch3x3_2b`, b3, 384, [3, 1], { padding: [1, 0] }),
  ], 1);
  let bd = basicConv(net, `${n}.branch3x3dbl_1`, x, 448, 1);
  bd = basicConv(net, `${n}.branch3x3dbl_2`, bd, 384, 3, { padding: 1 });
  const bdx = net.concat([
    basicConv(net, `${n}.branch3x3dbl_3a`, bd, 384, [1, 3], { padding: [0, 1] }),
    basicConv(net, `${n}.branch3x3dbl_3b`, bd, 384, [3, 1], { padding: [1, 0] }),
  ], 1);
  const bp = basicConv(net, `${n}.branch_pool`, net.avgPool2d(x, avg3), 192, 1);
  return net.concat([b1, b3x, bdx, bp], 1);
}

function inceptionAux<T extends Sized>(net: Net<T>, n: string, x: T, classes: number): T {
  // N x 768 x 17 x 17
  x = net.avgPool2d(x, { kernel: 5, stride: 3 });
  // N x 768 x 5 x 5
  x = basicConv(net, `${n}.conv0`, x, 128, 1);
  // N x 128 x 5 x 5
  x = basicConv(net, `${n}.conv1`, x, 768, 5, { stddev: 0.01 });
  // N x 768 x 1 x 1
  x = net.globalAvgPool(x);
  // N x 768
  return net.linear(`${n}.fc`, x, { out: classes, bias: true, init: { kind: "truncNormal", std: 0.001 } });
}

/** Inception's `transform_input`: re-normalises ImageNet-normalised input to the (x − 0.5)/0.5 range. */
export const TRANSFORM_INPUT = {
  scale: [0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5],
  shift: [(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5],
} as const;

/** The smallest input side the main path accepts (torchvision's `min_size`). */
export const INCEPTION_MIN_SIZE = 75;
/** The smallest input side for which the AuxLogits head's 5×5 conv fits (Mixed_6e maps ≥ 17×17). */
export const INCEPTION_AUX_MIN_SIZE = 299;

/**
 * Inception-v3 (torchvision `inception_v3`). `aux` (default true) builds the AuxLogits head, which
 * torchvision evaluates in training mode only; the training loss adds 0.4 × its cross-entropy.
 * `transformInput` defaults to true (the ImageNet weights expect it). Taps: each Mixed stage and "pool".
 * Shape comments are for 299×299; any side ≥ 75 works (≥ 299 with `aux`).
 *
 * @example
 * ```ts
 * import { inceptionV3 } from "./inception.ts";
 * import { ShapeNet } from "./shape_net.ts";
 * const net = new ShapeNet();
 * const { logits, aux } = inceptionV3(net, net.input([1, 3, 299, 299]), { classes: 5 });
 * if (logits.shape.join() !== "1,5" || aux?.shape.join() !== "1,5") throw new Error("unexpected");
 * ```
 */
export function inceptionV3<T extends Sized>(net: Net<T>, x: T, opts: ModelOptions = {}): ModelOutput<T> {
  const classes = headClasses(opts);
  const [h, w] = x.shape.slice(2);
  if (x.shape.length !== 4 || x.shape[1] !== 3) {
    throw new RangeError(`Inception-v3 expects an N×3×H×W input, got [${x.shape}]`);
  }
  if (h < INCEPTION_MIN_SIZE || w < INCEPTION_MIN_SIZE) {
    throw new RangeError(`Inception-v3 needs an input of at least 75×75, got ${h}×${w}`);
  }
  const aux = opts.aux ?? true;
  if (aux && (h < INCEPTION_AUX_MIN_SIZE || w < INCEPTION_AUX_MIN_SIZE)) {
    throw new RangeError(
      `Inception-v3's AuxLogits head needs an input of at least 299×299, got ${h}×${w}: turn aux off`,
    );
  }
  if (opts.transformInput ?? true) {
    x = net.channelAffine(x, [...TRANSFORM_INPUT.scale], [...TRANSFORM_INPUT.shift]);
  }
  // N x 3 x 299 x 299
  x = basicConv(net, "Conv2d_1a_3x3", x, 32, 3, { stride: 2 });
  // N x 32 x 149 x 149
  x = basicConv(net, "Conv2d_2a_3x3", x, 32, 3);
  // N x 32 x 147 x 147
  x = basicConv(net, "Conv2d_2b_3x3", x, 64, 3, { padding: 1 });
  // N x 64 x 147 x 147
  x = net.maxPool2d(x, { kernel: 3, stride: 2 });
  // N x 64 x 73 x 73
  x = basicConv(net, "Conv2d_3b_1x1", x, 80, 1);
  // N x 80 x 73 x 73
  x = basicConv(net, "Conv2d_4a_3x3", x, 192, 3);
  // N x 192 x 71 x 71
  x = net.maxPool2d(x, { kernel: 3, stride: 2 });
  // N x 192 x 35 x 35
  x = net.tap("Mixed_5b", inceptionA(net, "Mixed_5b", x, 32));
  // N x 256 x 35 x 35
  x = net.tap("Mixed_5c", inceptionA(net, "Mixed_5c", x, 64));
  // N x 288 x 35 x 35
  x = net.tap("Mixed_5d", inceptionA(net, "Mixed_5d", x, 64));
  // N x 288 x 35 x 35
  x = net.tap("Mixed_6a", inceptionB(net, "Mixed_6a", x));
  // N x 768 x 17 x 17
  x = net.tap("Mixed_6b", inceptionC(net, "Mixed_6b", x, 128));
  // N x 768 x 17 x 17
  x = net.tap("Mixed_6c", inceptionC(net, "Mixed_6c", x, 160));
  // N x 768 x 17 x 17
  x = net.tap("Mixed_6d", inceptionC(net, "Mixed_6d", x, 160));
  // N x 768 x 17 x 17
  x = net.tap("Mixed_6e", inceptionC(net, "Mixed_6e", x, 192));
  // N x 768 x 17 x 17
  const auxLogits = aux ? inceptionAux(net, "AuxLogits", x, classes) : undefined;
  x = net.tap("Mixed_7a", inceptionD(net, "Mixed_7a", x));
  // N x 1280 x 8 x 8
  x = net.tap("Mixed_7b", inceptionE(net, "Mixed_7b", x));
  // N x 2048 x 8 x 8
  x = net.tap("Mixed_7c", inceptionE(net, "Mixed_7c", x));
  // N x 2048 x 8 x 8
  x = net.tap("pool", net.globalAvgPool(x));
  // N x 2048
  x = net.dropout(x, 0.5);
  const logits = net.linear("fc", x, { out: classes, bias: true, init: { kind: "truncNormal", std: 0.1 } });
  // N x classes
  return auxLogits ? { logits, aux: auxLogits } : { logits };
}
