/**
 * The CBR family of Raghu et al. (appendix): blocks of conv → BN → ReLU, every conv stride 1 with "same"
 * padding (k // 2) and no bias (BN follows), a 3×3 stride-2 max-pool (padding 1) after the blocks marked
 * so, then global average pooling and a linear classifier. Parameter names: `block1.conv.weight`,
 * `block1.bn.running_mean`, …, `fc.weight`; random init is torch's default for a module defined this way
 * (scripts/golden_models.py holds the torch twin, `CBR`).
 * @module
 */
import { headClasses, type ModelOptions, type ModelOutput, type Net } from "./nn.ts";

/** The four variants of the appendix table. */
export type CbrVariant = "largeT" | "largeW" | "small" | "tiny";

/** Kernel size and blocks (output channels, max-pool after the block) of each variant. */
export const CBR_SPECS: Record<CbrVariant, { kernel: number; blocks: [number, boolean][] }> = {
  largeT: { kernel: 7, blocks: [[32, true], [64, true], [128, true], [256, true], [512, false]] },
  largeW: { kernel: 7, blocks: [[64, true], [128, true], [256, true], [512, true]] },
  small: { kernel: 7, blocks: [[32, true], [64, true], [128, true], [256, true]] },
  tiny: { kernel: 5, blocks: [[64, true], [128, true], [256, true], [512, true]] },
};

/**
 * A CBR network. Taps: "block1".."blockN" (after the block's pool, if any) and "pool".
 *
 * @example
 * ```ts
 * import { cbr } from "./cbr.ts";
 * import { ShapeNet } from "./shape_net.ts";
 * const net = new ShapeNet();
 * const { logits } = cbr(net, net.input([1, 3, 64, 64]), "small");
 * if (logits.shape.join() !== "1,5") throw new Error("unexpected");
 * ```
 */
export function cbr<T extends { readonly shape: readonly number[] }>(
  net: Net<T>,
  x: T,
  variant: CbrVariant,
  opts: ModelOptions = {},
): ModelOutput<T> {
  const spec = CBR_SPECS[variant];
  if (!spec) throw new RangeError(`CBR variant must be largeT, largeW, small or tiny, got ${variant}`);
  const classes = headClasses(opts);
  const k = spec.kernel;
  // N x 3 x H x W; each pooled block halves H and W (rounding up)
  spec.blocks.forEach(([out, pool], i) => {
    const name = `block${i + 1}`;
    x = net.conv2d(`${name}.conv`, x, { out, kernel: k, stride: 1, padding: k >> 1, bias: false });
    x = net.relu(net.batchNorm2d(`${name}.bn`, x, { eps: 1e-5 }));
    // N x out x H/2^(i) x W/2^(i)
    if (pool) x = net.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
    x = net.tap(name, x);
  });
  // N x C x h x w
  x = net.tap("pool", net.globalAvgPool(x));
  // N x C
  return { logits: net.linear("fc", x, { out: classes, bias: true }) };
}
