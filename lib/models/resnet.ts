/**
 * ResNet-50 exactly as torchvision 0.14's `resnet50()`: Bottleneck v1.5 (stride on conv2), attribute
 * paths = state_dict keys, convs without bias, BN eps 1e-5, kaiming-normal fan_out for conv weights.
 * @module
 */
import { headClasses, type Init, type ModelOptions, type ModelOutput, type Net } from "./nn.ts";

const KAIMING: Init = { kind: "kaimingNormalFanOut" };

function convBn<T extends { readonly shape: readonly number[] }>(
  net: Net<T>,
  conv: string,
  bn: string,
  x: T,
  out: number,
  kernel: number,
  stride: number,
  padding: number,
): T {
  x = net.conv2d(conv, x, { out, kernel, stride, padding, bias: false, init: KAIMING });
  return net.batchNorm2d(bn, x, { eps: 1e-5 });
}

/** torchvision's `Bottleneck` (expansion 4); `downsample` when stride ≠ 1 or the width changes. */
function bottleneck<T extends { readonly shape: readonly number[] }>(
  net: Net<T>,
  name: string,
  x: T,
  planes: number,
  stride: number,
  downsample: boolean,
): T {
  const identity = x;
  let out = net.relu(convBn(net, `${name}.conv1`, `${name}.bn1`, x, planes, 1, 1, 0));
  out = net.relu(convBn(net, `${name}.conv2`, `${name}.bn2`, out, planes, 3, stride, 1));
  out = convBn(net, `${name}.conv3`, `${name}.bn3`, out, planes * 4, 1, 1, 0);
  const skip = downsample
    ? convBn(net, `${name}.downsample.0`, `${name}.downsample.1`, x, planes * 4, 1, stride, 0)
    : identity;
  return net.relu(net.add(out, skip));
}

/** torchvision's `ResNet._make_layer` for Bottleneck blocks. */
function makeLayer<T extends { readonly shape: readonly number[] }>(
  net: Net<T>,
  name: string,
  x: T,
  planes: number,
  blocks: number,
  stride: number,
): T {
  const inplanes = x.shape[1];
  x = bottleneck(net, `${name}.0`, x, planes, stride, stride !== 1 || inplanes !== planes * 4);
  for (let i = 1; i < blocks; i++) x = bottleneck(net, `${name}.${i}`, x, planes, 1, false);
  return x;
}

/**
 * ResNet-50 (torchvision `resnet50`). Taps: "conv1" (after conv1-bn1-relu), "layer1".."layer4", "pool"
 * (the 2048-d pooled features). Shape comments are for a 224×224 input; any size ≥ 32 works.
 *
 * @example
 * ```ts
 * import { resnet50 } from "./resnet.ts";
 * import { ShapeNet } from "./shape_net.ts";
 * const net = new ShapeNet();
 * const { logits } = resnet50(net, net.input([2, 3, 224, 224]), { classes: 5 });
 * if (logits.shape.join() !== "2,5") throw new Error("unexpected");
 * ```
 */
export function resnet50<T extends { readonly shape: readonly number[] }>(
  net: Net<T>,
  x: T,
  opts: ModelOptions = {},
): ModelOutput<T> {
  const classes = headClasses(opts);
  // N x 3 x 224 x 224
  x = net.relu(convBn(net, "conv1", "bn1", x, 64, 7, 2, 3));
  x = net.tap("conv1", x);
  // N x 64 x 112 x 112
  x = net.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
  // N x 64 x 56 x 56
  x = net.tap("layer1", makeLayer(net, "layer1", x, 64, 3, 1));
  // N x 256 x 56 x 56
  x = net.tap("layer2", makeLayer(net, "layer2", x, 128, 4, 2));
  // N x 512 x 28 x 28
  x = net.tap("layer3", makeLayer(net, "layer3", x, 256, 6, 2));
  // N x 1024 x 14 x 14
  x = net.tap("layer4", makeLayer(net, "layer4", x, 512, 3, 2));
  // N x 2048 x 7 x 7
  x = net.tap("pool", net.globalAvgPool(x));
  // N x 2048
  const logits = net.linear("fc", x, { out: classes, bias: true });
  // N x classes
  return { logits };
}
