/**
 * Conv gradient (2-D, group 1, dilation 1), following the formulations measured in engine-facts.md:
 * - dX, 1×1 stride 1 unpadded: MatMul(Wᵀ, dY).
 * - dX, stride 1 with pads ≤ k−1: Conv of dY with the flipped, transposed kernel and pads k−1−p.
 * - dX, otherwise: ConvTranspose(dY, W) with output_padding = H − (s(Ho−1) + k − p_begin − p_end). The
 *   output-size formula is the ONNX ConvTranspose spec's (`output_shape[i] = stride[i] * (input_size[i] - 1) +
 *   output_padding[i] + ((kernel_shape[i] - 1) * dilations[i] + 1) - pads[start_i] - pads[end_i]`), the same
 *   relation torch documents for conv_transpose2d's output_padding; the extra rows/cols fall at the end,
 *   which are exactly the input rows a strided window never reached (their gradient is 0).
 * - dW: im2col by a grouped identity Conv (one-hot kernels, group = C; 1×1 unpadded: the strided-sliced X
 *   itself), then, where M ≤ Ho·Wo, a batched MatMul(dY_n, cols_nᵀ) summed over the batch, in chunks of the
 *   batch that bound the im2col buffer; else (small late feature maps) one Gemm over transposed dY and cols.
 * - dB: ReduceSum over N, H, W.
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, unsupported, window2d } from "../rule.ts";

/** Largest im2col buffer the dW of one conv materialises at once (the batch is split to stay under it). */
const DW_CHUNK_BYTES = 64 * 2 ** 20;

const identityKernels = new WeakMap<Graph, Map<string, Value>>();

/** [C·kh·kw, 1, kh, kw] one-hot kernels: grouped Conv with them lays out each patch as im2col columns. */
function im2colKernel(g: Graph, c: number, kh: number, kw: number, dtype: "float32" | "float64"): Value {
  let m = identityKernels.get(g);
  if (!m) identityKernels.set(g, m = new Map());
  const key = `${c}x${kh}x${kw}:${dtype}`;
  let v = m.get(key);
  if (!v) {
    const kk = kh * kw;
    const data = dtype === "float64" ? new Float64Array(c * kk * kk) : new Float32Array(c * kk * kk);
    for (let ch = 0; ch < c; ch++) for (let j = 0; j < kk; j++) data[(ch * kk + j) * kk + j] = 1;
    v = g.initializer(g.freshName(`im2col_${key.replace(":", "_")}`), dtype, [c * kk, 1, kh, kw], data);
    m.set(key, v);
  }
  return v;
}

/**
 * im2col by copying: the kh·kw strided slices of the zero-padded input, stacked after the channel axis, give
 * the same [N, C·kh·kw, Ho, Wo] layout as the one-hot grouped Conv, without a grouped Conv (onnxruntime's
 * WebGPU grouped Conv with several outputs per group gave wrong columns).
 */
function im2colSlices(
  g: Graph,
  x: Value,
  k: readonly number[],
  s: readonly number[],
  p: readonly number[],
  ho: number,
  wo: number,
): Value {
  const [n, c] = x.shape;
  let xp = x;
  for (const ax of [2, 3] as const) {
    const i = ax - 2, before = p[i], span = (ax === 2 ? ho - 1 : wo - 1) * s[i] + k[i];
    const after = span - xp.shape[ax] - before;
    const zeros = (len: number) =>
      g.op.ConstantOfShape(xp.shape.map((d, a) => (a === ax ? len : d)), {
        value: { dtype: x.dtype, data: [0] },
      });
    const parts: Value[] = [];
    if (before > 0) parts.push(zeros(before));
    parts.push(after < 0 ? g.op.Slice(xp, [0], [xp.shape[ax] + after], [ax]) : xp);
    if (after > 0) parts.push(zeros(after));
    xp = parts.length > 1 ? g.op.Concat(parts, { axis: ax }) : parts[0];
  }
  const cols: Value[] = [];
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      const sl = g.op.Slice(xp, [i, j], [i + (ho - 1) * s[0] + 1, j + (wo - 1) * s[1] + 1], [2, 3], s);
      cols.push(g.op.Reshape(sl, [n, c, 1, ho * wo]));
    }
  }
  return g.op.Reshape(g.op.Concat(cols, { axis: 2 }), [n, c * k[0] * k[1], ho, wo]);
}

/** [N, M, H, W] → [M, N·H·W] (a free reshape when N = 1). */
function channelsFirst(g: Graph, t: Value): Value {
  const [n, c, h, w] = t.shape;
  const moved = n === 1 ? t : g.op.Transpose(t, { perm: [1, 0, 2, 3] });
  return g.op.Reshape(moved, [c, n * h * w]);
}

export const convRule: GradRule<"Conv"> = ({ g, node, attrs, x: [x, w, b], dy: [dy], needs, options }) => {
  if (!dy) return [];
  if ((attrs.group ?? 1) !== 1) {
    throw unsupported(node, `gradient does not support attribute 'group' = ${attrs.group}`);
  }
  const { k, s, p } = window2d(node, x!, w!.shape.slice(2), attrs);
  const [n, c, h, wd] = x!.shape, m = w!.shape[0];
  const [, , ho, wo] = dy.shape;
  const dt = x!.dtype as "float32" | "float64";
  const unpadded = p.every((v) => v === 0);
  const pointwise = k[0] === 1 && k[1] === 1 && unpadded;
  let dx: Value | undefined, dw: Value | undefined, db: Value | undefined;
  if (needs[0]) {
    if (pointwise && s[0] === 1 && s[1] === 1) {
      const wt = g.op.Transpose(g.op.Reshape(w!, [m, c]), { perm: [1, 0] });
      dx = g.op.Reshape(g.op.MatMul(wt, g.op.Reshape(dy, [n, m, ho * wo])), [n, c, h, wd]);
    } else if (s[0] === 1 && s[1] === 1 && p[0] < k[0] && p[2] < k[0] && p[1] < k[1] && p[3] < k[1]) {
      const big = -(2 ** 53 - 1);
      const flipped = g.op.Slice(w!, [-1, -1], [big, big], [2, 3], [-1, -1]);
      const wf = g.op.Transpose(flipped, { perm: [1, 0, 2, 3] });
      dx = g.op.Conv(dy, wf, undefined, {
        pads: [k[0] - 1 - p[0], k[1] - 1 - p[1], k[0] - 1 - p[2], k[1] - 1 - p[3]],
      });
    } else {
      const outPad = [
        h - (s[0] * (ho - 1) + k[0] - p[0] - p[2]),
        wd - (s[1] * (wo - 1) + k[1] - p[1] - p[3]),
      ];
      dx = g.op.ConvTranspose(dy, w!, undefined, { strides: s, pads: p, output_padding: outPad });
    }
  }
  if (needs[1]) {
    const hw = ho * wo, kdim = pointwise ? c : c * k[0] * k[1];
    const colsOf = (xs: Value): Value => {
      if (!pointwise && options.im2col === "slices") return im2colSlices(g, xs, k, s, p, ho, wo);
      if (!pointwise) {
        return g.op.Conv(xs, im2colKernel(g, c, k[0], k[1], dt), undefined, {
          strides: s,
          pads: p,
          group: c,
        });
      }
      return s[0] === 1 && s[1] === 1
        ? xs
        : g.op.Slice(xs, [0, 0], [(ho - 1) * s[0] + 1, (wo - 1) * s[1] + 1], [2, 3], s);
    };
    if (m <= hw && options.convWeight !== "gemm") {
      // Per-sample products dY_n·cols_nᵀ (no larger than cols when M ≤ Ho·Wo) summed over the batch: no
      // transposed copies of dY or cols (the Transpose folds into a FusedMatMul). The batch goes in chunks
      // so that an im2col buffer stays under DW_CHUNK_BYTES.
      const perSample = kdim * hw * (dt === "float64" ? 8 : 4);
      const chunk = pointwise ? n : Math.max(1, Math.min(n, Math.floor(DW_CHUNK_BYTES / perSample)));
      const parts: Value[] = [];
      for (let i0 = 0; i0 < n; i0 += chunk) {
        const nc = Math.min(chunk, n - i0);
        const part = (t: Value) => (nc === n ? t : g.op.Slice(t, [i0], [i0 + nc], [0]));
        const cols = g.op.Reshape(colsOf(part(x!)), [nc, kdim, hw]);
        const prod = g.op.MatMul(
          g.op.Reshape(part(dy), [nc, m, hw]),
          g.op.Transpose(cols, { perm: [0, 2, 1] }),
        );
        parts.push(g.op.ReduceSum(prod, [0], { keepdims: 0 }));
      }
      const sum = parts.length === 1 ? parts[0] : g.op.Sum(parts);
      dw = g.op.Reshape(sum, w!.shape);
    } else {
      const cols = channelsFirst(g, colsOf(x!));
      dw = g.op.Reshape(g.op.Gemm(channelsFirst(g, dy), cols, undefined, { transB: 1 }), w!.shape);
    }
  }
  if (needs[2] && b) db = g.op.ReduceSum(dy, [0, 2, 3], { keepdims: 0 });
  return [dx, dw, db];
};
