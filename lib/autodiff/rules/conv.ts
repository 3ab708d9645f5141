/**
 * Conv gradient (2-D, group 1, dilation 1), following the formulations measured in engine-facts.md:
 * - dX, 1×1 stride 1 unpadded: MatMul(Wᵀ, dY).
 * - dX, stride 1 with pads ≤ k−1: Conv of dY with the flipped, transposed kernel and pads k−1−p.
 * - dX, otherwise: ConvTranspose(dY, W) with output_padding = H − (s(Ho−1) + k − p_begin − p_end). The
 *   output-size formula is the ONNX ConvTranspose spec's (`output_shape[i] = stride[i] * (input_size[i] - 1) +
 *   output_padding[i] + ((kernel_shape[i] - 1) * dilations[i] + 1) - pads[start_i] - pads[end_i]`), the same
 *   relation torch documents for conv_transpose2d's output_padding; the extra rows/cols fall at the end,
 *   which are exactly the input rows a strided window never reached (their gradient is 0).
 * - dW: im2col by a grouped identity Conv (one-hot kernels, group = C), then Gemm(dY', cols', transB);
 *   1×1 unpadded: Gemm on (strided-sliced) X directly.
 * - dB: ReduceSum over N, H, W.
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { type GradRule, unsupported, window2d } from "../rule.ts";

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

/** [N, M, H, W] → [M, N·H·W] (a free reshape when N = 1). */
function channelsFirst(g: Graph, t: Value): Value {
  const [n, c, h, w] = t.shape;
  const moved = n === 1 ? t : g.op.Transpose(t, { perm: [1, 0, 2, 3] });
  return g.op.Reshape(moved, [c, n * h * w]);
}

export const convRule: GradRule<"Conv"> = ({ g, node, attrs, x: [x, w, b], dy: [dy], needs }) => {
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
    const dyT = channelsFirst(g, dy);
    let cols: Value;
    if (pointwise) {
      const strided = s[0] === 1 && s[1] === 1
        ? x!
        : g.op.Slice(x!, [0, 0], [(ho - 1) * s[0] + 1, (wo - 1) * s[1] + 1], [2, 3], s);
      cols = channelsFirst(g, strided);
    } else {
      const kern = im2colKernel(g, c, k[0], k[1], dt);
      cols = channelsFirst(g, g.op.Conv(x!, kern, undefined, { strides: s, pads: p, group: c }));
    }
    dw = g.op.Reshape(g.op.Gemm(dyT, cols, undefined, { transB: 1 }), w!.shape);
  }
  if (needs[2] && b) db = g.op.ReduceSum(dy, [0, 2, 3], { keepdims: 0 });
  return [dx, dw, db];
};
