/**
 * SqueezeNet 1.1 exactly as torchvision 0.14's `squeezenet1_1()`: a 3×3/2 stem conv, Fire modules
 * (1×1 squeeze, then 1×1 and 3×3 expands concatenated), 3×3/2 max-pools with `ceil_mode=True`, and a
 * classifier of Dropout(0.5), a 1×1 conv to the classes, ReLU and adaptive average pooling. Attribute
 * paths = state_dict keys (`features.3.squeeze.weight`, `classifier.1.bias`); every conv has a bias.
 * Random init is torchvision's: `kaiming_uniform_` for the convs, N(0, 0.01) for the final conv, biases 0.
 * @module
 */
import { headClasses, type Init, type ModelOptions, type ModelOutput, type Net, type Sized } from "./nn.ts";

const ZERO: Init = { kind: "const", value: 0 };

/** Each Fire module of `features`: index, squeeze planes, expand planes (1×1 and 3×3 alike). */
export const SQUEEZENET_FIRES: readonly [index: number, squeeze: number, expand: number][] = [
  [3, 16, 64],
  [4, 16, 64],
  [6, 32, 128],
  [7, 32, 128],
  [9, 48, 192],
  [10, 48, 192],
  [11, 64, 256],
  [12, 64, 256],
];

function conv<T extends Sized>(net: Net<T>, name: string, x: T, out: number, kernel: number, o = {}): T {
  const fanIn = x.shape[1] * kernel * kernel;
  return net.conv2d(name, x, {
    out,
    kernel,
    bias: true,
    init: { kind: "kaimingUniform", fanIn },
    biasInit: ZERO,
    ...o,
  });
}

/** torchvision's `Fire`: squeeze → ReLU → cat(ReLU(expand1x1), ReLU(expand3x3)). */
function fire<T extends Sized>(net: Net<T>, name: string, x: T, squeeze: number, expand: number): T {
  const s = net.relu(conv(net, `${name}.squeeze`, x, squeeze, 1));
  const e1 = net.relu(conv(net, `${name}.expand1x1`, s, expand, 1));
  const e3 = net.relu(conv(net, `${name}.expand3x3`, s, expand, 3, { padding: 1 }));
  return net.concat([e1, e3], 1);
}

/**
 * SqueezeNet 1.1 (torchvision `squeezenet1_1`). Taps: "features.0" (stem conv + ReLU), "features.3" …
 * "features.12" (each Fire module's output; the analysis averages them over space, so the last is the
 * 512-d feature vector the classifier conv reads). Shape comments are for a 224×224 input.
 *
 * @example
 * ```ts
 * import { squeezenet1_1 } from "./squeezenet.ts";
 * import { ShapeNet } from "./shape_net.ts";
 * const net = new ShapeNet();
 * const { logits } = squeezenet1_1(net, net.input([2, 3, 224, 224]), { classes: 5 });
 * if (logits.shape.join() !== "2,5") throw new Error("unexpected");
 * ```
 */
export function squeezenet1_1<T extends Sized>(net: Net<T>, x: T, opts: ModelOptions = {}): ModelOutput<T> {
  const classes = headClasses(opts);
  const pool = (v: T) => net.maxPool2d(v, { kernel: 3, stride: 2, ceilMode: true });
  // N x 3 x 224 x 224
  x = net.tap("features.0", net.relu(conv(net, "features.0", x, 64, 3, { stride: 2 })));
  // N x 64 x 111 x 111
  x = pool(x);
  // N x 64 x 55 x 55
  for (const [i, squeeze, expand] of SQUEEZENET_FIRES) {
    x = net.tap(`features.${i}`, fire(net, `features.${i}`, x, squeeze, expand));
    // after features.4 and features.7: 27 x 27, then 13 x 13
    if (i === 4 || i === 7) x = pool(x);
  }
  // N x 512 x 13 x 13
  x = net.dropout(x, 0.5);
  // classifier.1, torchvision's `final_conv`
  x = net.relu(conv(net, "classifier.1", x, classes, 1, { init: { kind: "normal", std: 0.01 } }));
  // N x classes x 13 x 13
  return { logits: net.globalAvgPool(x) };
}
