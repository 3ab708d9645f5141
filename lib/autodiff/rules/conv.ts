/**
 * Conv gradient (2-D, group 1, dilation 1), following the formulations measured in docs/engine.md:
 * - dX, 1×1 stride 1 unpadded: MatMul(Wᵀ, dY).
 * - dX, stride 1 with pads ≤ k−1: Conv of dY with the flipped, transposed kernel and pads k−1−p.
 * - dX, otherwise: ConvTranspose(dY, W) with output_padding = H − (s(Ho−1) + k − p_begin − p_end). The
 *   output-size formula is the ONNX ConvTranspose spec's (`output_shape[i] = stride[i] * (input_size[i] - 1) +
 *   output_padding[i] + ((kernel_shape[i] - 1) * dilations[i] + 1) - pads[start_i] - pads[end_i]`), the same
 *   relation torch documents for conv_transpose2d's output_padding; the extra rows/cols fall at the end,
 *   which are exactly the input rows a strided window never reached (their gradient is 0).
 * - dW: im2col by a grouped identity Conv (one-hot kernels, group = C; 1×1 unpadded: the strided-sliced X
 *   itself), then, where M ≤ Ho·Wo, a batched MatMul(dY_n, cols_nᵀ) summed over the batch, in chunks of the
 *   batch (and, for large images, bands of output rows) that bound the im2col buffer; else (small late feature maps) one Gemm over transposed dY and cols.
 * - dW, alternatively ("conv"): a Conv of the batch-transposed X by the batch-transposed dY (kernel Ho×Wo,
 *   dilated by the stride); measured faster than im2col at small late feature maps.
 * - dB: ReduceSum over N, H, W.
 * Which formulation a conv gets is the conv plan's (lib/graph/conv_plan.ts: its defaults and thresholds);
 * where `GradOptions.convChoice` returns a choice for a conv's shape signature, it overrides the dX / dW
 * formulation picked there (all are equal within float rounding: tests/autodiff/formulations_test.ts).
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import { forEachTap } from "../../graph/ops.ts";
import type { Value } from "../../graph/types.ts";
import { type GradOptions, type GradRule, sumAll, unsupported, window2d } from "../rule.ts";
import {
  CONV_LIMITS,
  type ConvChoice,
  convForm,
  defaultDw,
  defaultDx,
  dwSwapped,
  dxForms,
} from "../../graph/conv_plan.ts";
import { cachedConst, reverseTaps } from "../../graph/consts.ts";
import { oneHotWindows, padAxis, windowSlice, windowSpan } from "./window.ts";

type Float = "float32" | "float64";

/**
 * W [M, C, kh, kw] → its spatially flipped transpose [C, M, kh, kw], the kernel of the stride-1 dX Conv. The
 * flip is a MatMul with the kh·kw anti-identity (exact: one product by 1 plus zeros) rather than a Slice with
 * negative steps, which onnxruntime's CPU kernel walks element by element: 13.1 → 4.6 ms for ResNet-50's
 * 512×512×3×3 kernel (bench/results/engine.md).
 */
function flippedTranspose(g: Graph, w: Value, dtype: Float): Value {
  const [m, c, kh, kw] = w.shape;
  const flat = g.op.Reshape(reverseTaps(g, w, dtype), [m, c, kh * kw]);
  return g.op.Reshape(g.op.Transpose(flat, { perm: [1, 0, 2] }), [c, m, kh, kw]);
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
  const span = windowSpan(g, x, k, s, p, [ho, wo]);
  const cols: Value[] = [];
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      cols.push(g.op.Reshape(windowSlice(g, span, i, j, s, [ho, wo]), [n, c, 1, ho * wo]));
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

/**
 * One conv as its backward sees it. Kernel taps that meet only padding, in every window, contribute nothing
 * (ResNet-50's 3×3 convs on its 1×1 maps at 28²: only the centre tap meets a pixel): the backward uses the
 * cropped kernel `w` and pads `p`, which keep Ho × Wo, and the cropped-off taps' weight gradient is 0.
 */
interface ConvGeometry {
  x: Value;
  /** the (cropped) weight */
  w: Value;
  dy: Value;
  /** kernel, strides, pads of the cropped conv */
  k: number[];
  s: number[];
  p: number[];
  /** the uncropped kernel, and the kept taps [lo, hi) per axis when cropped */
  k0: number[];
  crop?: { lo: number[]; hi: number[] };
  dtype: Float;
  /** 1×1 and unpadded */
  pointwise: boolean;
}

function convGeometry(
  { g, node, attrs, x: [x, w0], dout: dy, options }: Parameters<GradRule<"Conv">>[0],
): ConvGeometry {
  if ((attrs.group ?? 1) !== 1) {
    throw unsupported(node, `gradient does not support attribute 'group' = ${attrs.group}`);
  }
  const win = window2d(node, x!, w0!.shape.slice(2), attrs), s = win.s;
  const [, , h, wd] = x!.shape;
  const [, , ho, wo] = dy.shape;
  const lo = [0, 1].map((a) => Math.max(0, win.p[a] - s[a] * ((a ? wo : ho) - 1)));
  const hi = [0, 1].map((a) => Math.min(win.k[a], win.p[a] + (a ? wd : h)));
  const cropped = options.convCrop !== false &&
    (lo[0] > 0 || lo[1] > 0 || hi[0] < win.k[0] || hi[1] < win.k[1]) && hi[0] > lo[0] &&
    hi[1] > lo[1];
  const k = cropped ? [hi[0] - lo[0], hi[1] - lo[1]] : win.k;
  const p = cropped
    ? [win.p[0] - lo[0], win.p[1] - lo[1], win.p[2] - (win.k[0] - hi[0]), win.p[3] - (win.k[1] - hi[1])]
    : win.p;
  const { pointwise } = convForm(x!.shape, [...w0!.shape.slice(0, 2), ...k], s, p);
  return {
    x: x!,
    w: cropped ? g.op.Slice(w0!, lo, hi, [2, 3]) : w0!,
    dy,
    k,
    s,
    p,
    k0: win.k,
    crop: cropped ? { lo, hi } : undefined,
    dtype: x!.dtype as Float,
    pointwise,
  };
}

/** dX by the chosen formulation: 1×1 MatMul, the flipped-kernel Conv, ConvTranspose or the folded GEMM. */
function inputGradient(g: Graph, c: ConvGeometry, form: NonNullable<ConvChoice["dx"]>): Value {
  const { w, dy, k, s, p } = c;
  const [n, ch, h, wd] = c.x.shape, m = w.shape[0];
  const [, , ho, wo] = dy.shape;
  if (form === "fold") return foldedColumnsGradient(g, c);
  if (form === "matmul") {
    const wt = g.op.Transpose(g.op.Reshape(w, [m, ch]), { perm: [1, 0] });
    return g.op.Reshape(g.op.MatMul(wt, g.op.Reshape(dy, [n, m, ho * wo])), [n, ch, h, wd]);
  }
  if (form === "conv") {
    const dx = g.op.Conv(dy, flippedTranspose(g, w, c.dtype), undefined, {
      pads: [k[0] - 1 - p[0], k[1] - 1 - p[1], k[0] - 1 - p[2], k[1] - 1 - p[3]],
    });
    return dx;
  }
  const outPad = [h - (s[0] * (ho - 1) + k[0] - p[0] - p[2]), wd - (s[1] * (wo - 1) + k[1] - p[1] - p[3])];
  return g.op.ConvTranspose(dy, w, undefined, { strides: s, pads: p, output_padding: outPad });
}

/**
 * dX as one GEMM over the batch-flattened dY: the columns dcols[(c, t), (n, y)] = Σ_m W[m, c, t] dY[n, m, y],
 * then, unless the conv is 1×1 with unit stride (its columns are dX), col2im as a product with the constant
 * one-hot E[(t, y), pixel] (tap t of output y reads that pixel; none where it reads padding). onnxruntime
 * multiplies a Conv or ConvTranspose per sample, at a fraction of its rate when Ho·Wo is a few pixels
 * (ResNet-50's layer4 at 64²: a 1×1 dX 9 ms instead of 1.6; layer4.0.conv2, 3×3 stride 2 on 4×4 at batch 32,
 * 23 ms instead of 5).
 */
function foldedColumnsGradient(g: Graph, c: ConvGeometry): Value {
  const { w, dy, k, s, p } = c;
  const [n, ch, h, wd] = c.x.shape, m = w.shape[0];
  const [, , ho, wo] = dy.shape;
  const kk = k[0] * k[1], np = ho * wo, hw = h * wd;
  const wt = g.op.Transpose(g.op.Reshape(w, [m, ch * kk]), { perm: [1, 0] });
  const prod = g.op.MatMul(wt, channelsFirst(g, dy)); // [C·kk, N·Ho·Wo]
  const back = (t: Value) => g.op.Transpose(g.op.Reshape(t, [ch, n, h, wd]), { perm: [1, 0, 2, 3] });
  if (c.pointwise && s[0] === 1 && s[1] === 1) return back(prod);
  const cols = g.op.Transpose(g.op.Reshape(prod, [ch, kk, n, np]), { perm: [0, 2, 1, 3] });
  const e = cachedConst(g, `col2im_${[h, wd, ...k, ...s, ...p].join("_")}`, c.dtype, [kk * np, hw], (d) => {
    forEachTap([h, wd], [ho, wo], k, s, p, (t, y, q) => d[(t * np + y) * hw + q] = 1);
  });
  return back(g.op.MatMul(g.op.Reshape(cols, [ch * n, kk * np]), e));
}

/** im2col columns of `xs` for `rows` output rows with the given pads (a row band has its own). */
function columns(
  g: Graph,
  c: ConvGeometry,
  xs: Value,
  options: GradOptions,
  pads = c.p,
  rows?: number,
): Value {
  const { k, s } = c, wo = c.dy.shape[3], r = rows ?? c.dy.shape[2];
  if (!c.pointwise && options.im2col === "slices") return im2colSlices(g, xs, k, s, pads, r, wo);
  if (!c.pointwise) {
    return g.op.Conv(xs, oneHotWindows(g, c.x.shape[1], k[0], k[1], c.dtype), undefined, {
      strides: s,
      pads: [...pads],
      group: c.x.shape[1],
    });
  }
  return s[0] === 1 && s[1] === 1
    ? xs
    : g.op.Slice(xs, [0, 0], [(r - 1) * s[0] + 1, (wo - 1) * s[1] + 1], [2, 3], s);
}

/**
 * dW[m, c, i, j] = Σ_n Σ_yx Xpad[n, c, i + s·y, j + s·x] dY[n, m, y, x]: a Conv of X with the batch as
 * channels ([C, N, H, W]) by dY as the kernel ([M, N, Ho, Wo], dilated by the stride). No im2col tensor in
 * the graph; where the feature map is small the Conv's own im2col is too. `tile` (stride 1 only) splits the
 * output map into tiles of at most tile × tile: each tile's dY is the kernel of its own Conv over the input
 * rows and columns it reaches (its share of the padding as the Conv's pads), and the partial dW add up. The
 * blocked-channel Conv runs a kernel of up to 16×16 taps at 180–230 GFLOP/s and a 32×32 one at 37
 * (CBR-Small at 64², 2 threads), so large maps go by tiles.
 */
function weightGradientByConv(g: Graph, c: ConvGeometry, options: GradOptions, tile = 0): Value {
  const { k, s, p } = c;
  const [, , h, w] = c.x.shape, [, , ho, wo] = c.dy.shape;
  const xt = g.op.Transpose(c.x, { perm: [1, 0, 2, 3] });
  const dyt = g.op.Transpose(c.dy, { perm: [1, 0, 2, 3] });
  const whole = !tile || (ho <= tile && wo <= tile);
  if (whole && dwSwapped(c.x.shape, s, options.block ?? 0)) {
    // The roles swapped: dY is the input and X the kernel, so the Conv writes [M, C, kh, kw] — with the taps
    // reversed (out[kh−1−i, kw−1−j] = dW[i, j]) given pads k−1−p — and no [C, M] → [M, C] Transpose follows
    // (onnxruntime's is one thread: 2.4 ms for ResNet-50's 512×512×3×3); the taps turn back by a product with
    // the anti-identity, as in flippedTranspose.
    const out = g.op.Conv(dyt, xt, undefined, {
      pads: [k[0] - 1 - p[0], k[1] - 1 - p[1], k[0] - 1 - p[2], k[1] - 1 - p[3]],
    });
    return reverseTaps(g, out, c.dtype);
  }
  let out: Value;
  if (whole) {
    out = g.op.Conv(xt, dyt, undefined, { pads: [...p], dilations: [...s] });
  } else {
    if (s[0] !== 1 || s[1] !== 1) throw new RangeError(`Tiled conv weight gradient needs stride 1, got ${s}`);
    const parts: Value[] = [];
    for (let y0 = 0; y0 < ho; y0 += tile) {
      for (let x0 = 0; x0 < wo; x0 += tile) {
        const y1 = Math.min(ho, y0 + tile), x1 = Math.min(wo, x0 + tile);
        // input rows [r0, r1) and columns [c0, c1) the tile's windows cover, padding included
        const r0 = y0 - p[0], r1 = y1 - 1 - p[0] + k[0], c0 = x0 - p[1], c1 = x1 - 1 - p[1] + k[1];
        const lo = [Math.max(0, r0), Math.max(0, c0)], hi = [Math.min(h, r1), Math.min(w, c1)];
        if (lo[0] >= hi[0] || lo[1] >= hi[1]) continue; // windows of padding only: no contribution
        const whole = lo[0] === 0 && lo[1] === 0 && hi[0] === h && hi[1] === w;
        parts.push(g.op.Conv(
          whole ? xt : g.op.Slice(xt, lo, hi, [2, 3]),
          g.op.Slice(dyt, [y0, x0], [y1, x1], [2, 3]),
          undefined,
          { pads: [lo[0] - r0, lo[1] - c0, r1 - hi[0], c1 - hi[1]] },
        ));
      }
    }
    out = sumAll(g, parts, options);
  }
  // [C, M, kh', kw'], kh' ≥ kh: rows past kh are window offsets no output reached
  const [, , oh, ow] = out.shape;
  const cut = oh > k[0] || ow > k[1] ? g.op.Slice(out, [0, 0], [k[0], k[1]], [2, 3]) : out;
  return g.op.Transpose(cut, { perm: [1, 0, 2, 3] });
}

/**
 * Per-sample products dY_n·cols_nᵀ (no larger than cols when M ≤ Ho·Wo) summed over the batch: no transposed
 * copies of dY or cols (the Transpose folds into a FusedMatMul). The batch goes in chunks so that an im2col
 * buffer stays under the limit; where one sample's columns exceed it (large images: 542 MB for CBR-Small's
 * second conv at 587²), its output rows go in bands too.
 */
function weightGradientBatched(g: Graph, c: ConvGeometry, options: GradOptions): Value {
  const { x, dy, k, s, p, pointwise } = c;
  const [n, ch, h] = x.shape, m = c.w.shape[0];
  const [, , ho, wo] = dy.shape;
  const hw = ho * wo, kdim = pointwise ? ch : ch * k[0] * k[1];
  const limit = options.dwChunkBytes ?? CONV_LIMITS.dwChunkBytes, bytes = c.dtype === "float64" ? 8 : 4;
  const perSample = kdim * hw * bytes;
  const chunk = pointwise ? n : Math.max(1, Math.min(n, Math.floor(limit / perSample)));
  // Bands get 4× the chunk limit: CBR-LargeW at 587², batch 4 took 16.3-16.8 s with 256 MiB bands, 17.0-18.3 s
  // with 64 MiB ones and 16.0-16.4 s unbanded (peak RSS 4282 / 4288 / 5885 MiB; bench/results/engine_587.md).
  const bandLimit = 4 * limit;
  const band = pointwise || perSample <= bandLimit
    ? ho
    : Math.max(1, Math.floor(bandLimit / (kdim * wo * bytes)));
  const parts: Value[] = [];
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const nc = Math.min(chunk, n - i0);
    const part = (t: Value) => (nc === n ? t : g.op.Slice(t, [i0], [i0 + nc], [0]));
    for (let r0 = 0; r0 < ho; r0 += band) {
      const r1 = Math.min(ho, r0 + band), rows = r1 - r0;
      let xs = part(x), dys = part(dy), pads = p;
      if (rows < ho) {
        // input rows [top, bottom) feed output rows [r0, r1); what falls outside the image is padding
        const top = r0 * s[0] - p[0], bottom = (r1 - 1) * s[0] - p[0] + k[0];
        const lo = Math.max(0, top), hi = Math.min(h, bottom);
        if (hi <= lo) continue; // windows entirely in the padding contribute nothing
        xs = g.op.Slice(xs, [lo], [hi], [2]);
        dys = g.op.Slice(dys, [r0], [r1], [2]);
        pads = [lo - top, p[1], bottom - hi, p[3]];
      }
      const cols = g.op.Reshape(columns(g, c, xs, options, pads, rows), [nc, kdim, rows * wo]);
      const prod = g.op.MatMul(
        g.op.Reshape(dys, [nc, m, rows * wo]),
        g.op.Transpose(cols, { perm: [0, 2, 1] }),
      );
      parts.push(g.op.ReduceSum(prod, [0], { keepdims: 0 }));
    }
  }
  return g.op.Reshape(sumAll(g, parts, options), c.w.shape);
}

/** dW as one Gemm over the batch-flattened dY and columns (small late feature maps). */
function weightGradientGemm(g: Graph, c: ConvGeometry, options: GradOptions): Value {
  const cols = channelsFirst(g, columns(g, c, c.x, options));
  return g.op.Reshape(g.op.Gemm(channelsFirst(g, c.dy), cols, undefined, { transB: 1 }), c.w.shape);
}

export const convRule: GradRule<"Conv"> = (ctx) => {
  const { g, node, x: [, , b], needs, options } = ctx;
  const c = convGeometry(ctx);
  const { k, s, p } = c;
  const choice =
    options.convChoice?.({ x: c.x.shape, w: c.w.shape, s, p, dtype: c.dtype, needsDx: needs[0] }) ??
      {};
  const dxForm = choice.dx ?? defaultDx(c.x.shape, c.w.shape, s, p);
  if (!dxForms(c.x.shape, c.w.shape, s, p).includes(dxForm)) {
    throw unsupported(node, `dX formulation '${dxForm}' does not apply to kernel ${k} stride ${s} pads ${p}`);
  }
  const plan = defaultDw(c.x.shape, c.w.shape, s, c.dy.shape, options.block ?? 0, options.convWeight);
  const dwForm = choice.dw ?? plan.dw;
  const dx = needs[0] ? inputGradient(g, c, dxForm) : undefined;
  let dw: Value | undefined;
  if (needs[1]) {
    dw = dwForm === "conv"
      ? weightGradientByConv(g, c, options, plan.tile)
      : dwForm === "batched"
      ? weightGradientBatched(g, c, options)
      : weightGradientGemm(g, c, options);
    if (c.crop) {
      const { lo, hi } = c.crop;
      dw = padAxis(g, padAxis(g, dw, 2, lo[0], c.k0[0] - hi[0]), 3, lo[1], c.k0[1] - hi[1]);
    }
  }
  return [
    dx,
    dw,
    needs[2] && b ? g.op.ReduceSum(c.dy, [0, 2, 3], { keepdims: 0 }) : undefined,
  ];
};
