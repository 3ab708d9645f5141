/**
 * Pooling gradients.
 * - MaxPool: the forward node's Indices output (flattened over the whole tensor, N and C included, for
 *   storage_order 0) drives ScatterElements(reduction = add) into a flat zero tensor. MaxUnpool is not used:
 *   it overwrites instead of adding where 3×3/2 windows overlap.
 * - AveragePool: each output spreads dY/divisor over its window. The divisor follows torch (and onnxruntime):
 *   the window clipped to the padded input when count_include_pad, else to the input itself. Stride 1 with
 *   pads ≤ k−1 and no ceil overhang is an AveragePool of dY (count_include_pad, mirrored pads); anything else a
 *   depthwise ConvTranspose with a ones kernel.
 * - GlobalAveragePool: dY/(H·W) expanded.
 * @module
 */
import { windowOut } from "../../graph/ops.ts";
import { numel } from "../../graph/types.ts";
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, unsupported, window2d } from "../rule.ts";

export const maxPoolRule: GradRule<"MaxPool"> = (
  { g, node, attrs, x: [x], y: [y], dout: dy, options },
) => {
  const win = window2d(node, x!, attrs.kernel_shape, attrs);
  if (attrs.storage_order) throw unsupported(node, "gradient does not support attribute 'storage_order' = 1");
  if (options.maxPool === "windows") return [maxPoolWindows(g, x!, y!, dy, win)];
  const idx = g.materializeOutput(node, 1, "int64", y!.shape);
  const zeros = g.op.ConstantOfShape([numel(x!.shape)], { value: { dtype: x!.dtype, data: [0] } });
  const flat = g.op.ScatterElements(zeros, g.op.Reshape(idx, [-1]), g.op.Reshape(dy, [-1]), {
    axis: 0,
    reduction: "add",
  });
  return [g.op.Reshape(flat, x!.shape)];
};

/**
 * MaxPool backward without the Indices output. For each window offset (i, j), in the forward kernel's
 * row-major scan order, the strided slice of the (−∞-padded) input that offset sees is compared with Y;
 * the first offset equal to the maximum takes the gradient (the tie rule of torch's and onnxruntime's
 * arg-max). The k² masked copies of dY are stacked as channels c·k² + (i·kw + j) and a depthwise
 * ConvTranspose with one-hot kernels adds each back at its position — the col2im of the window slices,
 * which sums where 3×3/2 windows overlap.
 */
function maxPoolWindows(
  g: Graph,
  x: Value,
  y: Value,
  dy: Value,
  { k, s, p }: { k: number[]; s: number[]; p: number[] },
): Value {
  const [n, c, h, w] = x.shape;
  const [, , ho, wo] = y.shape;
  const kk = k[0] * k[1];
  // the input extent the windows read, from the top-left padding on
  const span = [(ho - 1) * s[0] + k[0], (wo - 1) * s[1] + k[1]];
  const negInf = (shape: number[]) =>
    g.op.ConstantOfShape(shape, { value: { dtype: x.dtype, data: [-3.4028234663852886e38] } });
  let xp = x;
  for (const ax of [2, 3] as const) {
    const i = ax - 2, size = xp.shape[ax], before = p[i], after = span[i] - size - before;
    const parts: Value[] = [];
    const block = (len: number) => negInf(xp.shape.map((d, a) => (a === ax ? len : d)));
    if (before > 0) parts.push(block(before));
    parts.push(after < 0 ? g.op.Slice(xp, [0], [size + after], [ax]) : xp);
    if (after > 0) parts.push(block(after));
    xp = parts.length > 1 ? g.op.Concat(parts, { axis: ax }) : parts[0];
  }
  const one = g.constant(1, x.dtype);
  let taken: Value | undefined;
  const parts: Value[] = [];
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      const xij = g.op.Slice(xp, [i, j], [i + (ho - 1) * s[0] + 1, j + (wo - 1) * s[1] + 1], [2, 3], s);
      let m = g.op.Cast(g.op.Equal(xij, y), { to: x.dtype });
      if (taken) m = g.op.Mul(m, g.op.Sub(one, taken));
      taken = taken ? g.op.Add(taken, m) : m;
      parts.push(g.op.Reshape(g.op.Mul(m, dy), [n, c, 1, ho, wo]));
    }
  }
  const stacked = g.op.Reshape(g.op.Concat(parts, { axis: 2 }), [n, c * kk, ho, wo]);
  const onehot = new Float32Array(c * kk * kk);
  for (let ch = 0; ch < c; ch++) for (let o = 0; o < kk; o++) onehot[(ch * kk + o) * kk + o] = 1;
  // output size (ho−1)s + k − p_begin − p_end + output_padding must be the input's
  const extra = [span[0] - p[0] - h, span[1] - p[1] - w];
  return g.op.ConvTranspose(stacked, g.constant(onehot, x.dtype, [c * kk, 1, k[0], k[1]]), undefined, {
    group: c,
    strides: s,
    pads: [p[0], p[1], Math.max(0, extra[0]), Math.max(0, extra[1])],
    output_padding: [Math.max(0, -extra[0]), Math.max(0, -extra[1])],
  });
}

/** Per-output divisor of an average pool along one axis, and whether any window overhangs the padding. */
function divisors(
  size: number,
  k: number,
  s: number,
  pb: number,
  pe: number,
  out: number,
  includePad: boolean,
) {
  const div: number[] = [];
  for (let o = 0; o < out; o++) {
    const start = o * s - pb;
    const endPadded = Math.min(start + k, size + pe);
    const lo = Math.max(start, 0), hi = Math.min(endPadded, size);
    div.push(includePad ? endPadded - start : hi - lo);
  }
  return div;
}

export const averagePoolRule: GradRule<"AveragePool"> = ({ g, node, attrs, x: [x], dout: dy }) => {
  const { k, s, p } = window2d(node, x!, attrs.kernel_shape, attrs);
  const [, c, h, w] = x!.shape;
  const [, , ho, wo] = dy.shape;
  const ceil = attrs.ceil_mode === 1, inc = attrs.count_include_pad === 1;
  if (windowOut(h, k[0], s[0], p[0], p[2], 1, ceil) !== ho) {
    throw unsupported(node, "output shape disagrees with the gradient");
  }
  const dh = divisors(h, k[0], s[0], p[0], p[2], ho, inc), dw = divisors(w, k[1], s[1], p[1], p[3], wo, inc);
  const kk = k[0] * k[1];
  const uniform = dh.every((d) => d === k[0]) && dw.every((d) => d === k[1]);
  // Fast path: the adjoint of a stride-1 box sum is a box sum with mirrored pads.
  const fullH = s[0] * (ho - 1) + k[0] - p[0] - p[2], fullW = s[1] * (wo - 1) + k[1] - p[1] - p[3];
  const stride1 = s[0] === 1 && s[1] === 1 && fullH === h && fullW === w &&
    p[0] < k[0] && p[2] < k[0] && p[1] < k[1] && p[3] < k[1];
  let scaled = dy;
  if (!uniform || !stride1) {
    const wmap = new Float64Array(ho * wo);
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) wmap[i * wo + j] = (stride1 ? kk : 1) / (dh[i] * dw[j]);
    }
    scaled = g.op.Mul(dy, g.constant(wmap, x!.dtype, [1, 1, ho, wo]));
  }
  if (stride1) {
    return [g.op.AveragePool(scaled, {
      kernel_shape: k,
      pads: [k[0] - 1 - p[0], k[1] - 1 - p[1], k[0] - 1 - p[2], k[1] - 1 - p[3]],
      count_include_pad: 1,
    })];
  }
  const ones = g.constant(new Float64Array(c * kk).fill(1), x!.dtype, [c, 1, k[0], k[1]]);
  // Crop a ceil-mode overhang with a larger end pad; extend a short output with output_padding.
  const extraH = fullH - h, extraW = fullW - w;
  return [g.op.ConvTranspose(scaled, ones, undefined, {
    strides: s,
    group: c,
    pads: [p[0], p[1], p[2] + Math.max(extraH, 0), p[3] + Math.max(extraW, 0)],
    output_padding: [Math.max(-extraH, 0), Math.max(-extraW, 0)],
  })];
};

export const globalAveragePoolRule: GradRule<"GlobalAveragePool"> = ({ g, x: [x], dout: dy }) => {
  const area = numel(x!.shape.slice(2));
  return [g.op.Expand(g.op.Mul(dy, g.constant(1 / area, x!.dtype)), x!.shape)];
};
