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
import { oneHotWindows, windowSlice, windowSpan } from "./window.ts";

export const maxPoolRule: GradRule<"MaxPool"> = (
  { g, node, attrs, x: [x], y: [y], dout: dy, options },
) => {
  const win = window2d(node, x!, attrs.kernel_shape, attrs);
  if (attrs.storage_order) throw unsupported(node, "gradient does not support attribute 'storage_order' = 1");
  if (options.maxPool === "windows") {
    return [
      inBatchChunks(
        g,
        [x!, y!, dy],
        options.windowChunkBytes ?? WINDOW_CHUNK_BYTES,
        win.k,
        (xs, ys, dys) => maxPoolWindows(g, xs, ys, dys, win),
      ),
    ];
  }
  const idx = g.materializeOutput(node, 1, "int64", y!.shape);
  const zeros = g.op.ConstantOfShape([numel(x!.shape)], { value: { dtype: x!.dtype, data: [0] } });
  const flat = g.op.ScatterElements(zeros, g.op.Reshape(idx, [-1]), g.op.Reshape(dy, [-1]), {
    axis: 0,
    reduction: "add",
  });
  return [g.op.Reshape(flat, x!.shape)];
};

/**
 * Largest stack of window slices the "windows" MaxPool backward builds at once (GradOptions.windowChunkBytes):
 * WebGPU adapters commonly cap one buffer at 2 GiB (lavapipe crashed on a 2.1 GB tensor), and CBR-Small at
 * 587² and batch 32 stacks 3 GB.
 */
const WINDOW_CHUNK_BYTES = 2 ** 30;

/**
 * Runs `f` on slices of the batch (axis 0 of every tensor in `ts`) small enough that the k² window stack
 * of one slice stays under `limit` bytes, and concatenates the results; one call where it fits.
 */
function inBatchChunks(
  g: Graph,
  ts: [Value, Value, Value],
  limit: number,
  k: readonly number[],
  f: (x: Value, y: Value, dy: Value) => Value,
): Value {
  const [x, y] = ts, n = x.shape[0];
  const bytes = x.dtype === "float64" ? 8 : 4;
  const perSample = (numel(y.shape) / n) * k[0] * k[1] * bytes;
  const chunk = Math.max(1, Math.min(n, Math.floor(limit / perSample)));
  if (chunk >= n) return f(...ts);
  const parts: Value[] = [];
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const [xs, ys, dys] = ts.map((t) => g.op.Slice(t, [i0], [Math.min(n, i0 + chunk)], [0]));
    parts.push(f(xs, ys, dys));
  }
  return g.op.Concat(parts, { axis: 0 });
}

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
  // padding takes no maximum: the lowest float32
  const xp = windowSpan(g, x, k, s, p, [ho, wo], -3.4028234663852886e38);
  const one = g.constant(1, x.dtype);
  let taken: Value | undefined;
  const parts: Value[] = [];
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      const xij = windowSlice(g, xp, i, j, s, [ho, wo]);
      let m = g.op.Cast(g.op.Equal(xij, y), { to: x.dtype });
      if (taken) m = g.op.Mul(m, g.op.Sub(one, taken));
      taken = taken ? g.op.Add(taken, m) : m;
      parts.push(g.op.Reshape(g.op.Mul(m, dy), [n, c, 1, ho, wo]));
    }
  }
  const stacked = g.op.Reshape(g.op.Concat(parts, { axis: 2 }), [n, c * kk, ho, wo]);
  // output size (ho−1)s + k − p_begin − p_end + output_padding must be the input's
  const extra = [span[0] - p[0] - h, span[1] - p[1] - w];
  const onehot = oneHotWindows(g, c, k[0], k[1], x.dtype as "float32" | "float64");
  return g.op.ConvTranspose(stacked, onehot, undefined, {
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
