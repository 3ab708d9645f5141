/**
 * The conv plan: the one place that answers "how is this convolution computed here": its forward form
 * (a Conv, a dense matrix product, the swapped small-map Conv), its input gradient (dX) and weight gradient
 * (dW) formulations, the dW tiles and chunks, and what the CPU lowering does with it (blocked channels,
 * pre-padded width, folded 1×1 convs). Every answer follows from the conv's shapes and the backend's
 * blocked-channel block (`EngineBackend.block`, lib/train/backend.ts; 0: no blocked kernels, plain ONNX), and
 * every threshold lives in {@linkcode CONV_LIMITS}. GraphNet (forward), the Conv gradient rule (dX, dW),
 * the CPU lowering pass (lib/graph/nchwc.ts) and the tuner (bench/tune.ts) ask it; nothing else decides.
 * docs/engine.md describes the formulations.
 * @module
 */
import { windowOut } from "./ops.ts";

/**
 * The thresholds of the plan, each measured on the machine and in the results file its comment names. Change
 * one only with a measurement beside it (bench/tune.ts times the formulations per conv; bench/train.ts a step).
 */
export const CONV_LIMITS = {
  /**
   * Largest output map (pixels) of a 1×1 forward Conv that the CPU lowering folds into one GEMM over the batch:
   * onnxruntime multiplies per sample at a quarter of its GEMM rate onto 1–4 pixels (ResNet-50's layer3 and
   * layer4 at 28²: 4.4 ms per sample, 1.6 folded; bench/results/history.md, issue 14).
   */
  foldPixels: 4,
  /**
   * Largest input map (pixels) of a strided or k×k conv whose dX goes by the folded GEMM (col2im by a
   * constant one-hot matrix, which grows with the map): ResNet-50's layer4.0.conv2 at 64², 23 → 5 ms
   * (bench/results/history.md, issue 14).
   */
  foldMap: 64,
  /**
   * 1×1 stride-1 dX: fold onto at most this many output pixels always, onto {@linkcode CONV_LIMITS.foldMap}
   * where the conv narrows the channels (C > M); a strided 1×1 one onto {@linkcode CONV_LIMITS.foldStrided}
   * by default (up to foldMap where the tuner picks it). Per-formulation timings: lib/autodiff/rules/conv.ts's
   * `defaultDx`.
   */
  foldPointwise: 4,
  /** Output map (pixels) onto which a strided 1×1 conv's dX folds by default. */
  foldStrided: 16,
  /**
   * Largest output tile (per axis) of one blocked dW Conv; a kernel of `dwConvTaps` taps or more goes by
   * tiles on larger maps: CBR-Small 188 → 182 ms a step at 28², 466 → 430 at 64², 850 → 800 at 128²
   * (bench/results/history.md, issue 14).
   */
  dwTile: 16,
  /** Kernel taps from which the blocked dW Conv is used on any map (in tiles of `dwTile`). */
  dwConvTaps: 25,
  /**
   * Largest im2col buffer the im2col dW materialises at once (bytes): the batch goes in chunks under it, and a
   * sample's output rows in bands under 4× it (CBR-LargeW at 587²: bench/results/engine_587.md).
   */
  dwChunkBytes: 64 * 2 ** 20,
  /** Largest per-channel window buffer of the "conv" dW for which it is a candidate (bytes). */
  dwConvBytes: 64 * 2 ** 20,
  /** Largest dense matrix (bytes) a small-map conv is written as ({@linkcode forwardForm} "dense"). */
  denseBytes: 2 ** 26,
  /**
   * Widest input map a blocked Conv of a kernel at least `padWidthKernel` wide reads pre-padded left and
   * right: 7×7 on 7²–16² maps 20–25 % faster, 7×7 on 128² no different (lib/graph/nchwc.ts).
   */
  padWidthMax: 64,
  /** Narrowest kernel whose blocked Conv reads a pre-padded input (3×3 convs measured 0–8 % slower). */
  padWidthKernel: 5,
  /**
   * Largest identity a filter transpose multiplies by, which onnxruntime fuses into one multi-threaded
   * FusedMatMul (measured at 9 and 16: a third of the single-threaded Transpose's time).
   */
  identityMax: 16,
} as const;

/** The shape of one 2-D Conv as its gradient rule sees it (the key of a measured formulation choice). */
export interface ConvSignature {
  /** input N, C, H, W */
  x: readonly number[];
  /** weight M, C, kh, kw */
  w: readonly number[];
  /** strides */
  s: readonly number[];
  /** pads (top, left, bottom, right) */
  p: readonly number[];
  /** element type */
  dtype: string;
  /** false where the conv's input needs no gradient (the first conv: dX is not built); not part of its key */
  needsDx?: boolean;
}

/**
 * Equivalent formulations of one Conv's backward. dx: "conv" (stride-1 Conv of dY with the flipped kernel;
 * only where the default rules would use it or a 1×1 MatMul), "transpose" (ConvTranspose), "matmul" (1×1
 * stride-1 unpadded only: per-sample MatMuls), "fold" (one GEMM over the batch-flattened dY: 1×1
 * unpadded convs of any stride, zeros between the strided pixels; other kernels on maps of at most 64
 * pixels, col2im as a product with a constant one-hot matrix). dw: "batched" (per-sample MatMuls summed),
 * "gemm" (one Gemm over the batch) or "conv" (a Conv of the batch-transposed input by the batch-transposed dY).
 */
export interface ConvChoice {
  /** input-gradient formulation */
  dx?: "conv" | "transpose" | "matmul" | "fold";
  /** weight-gradient formulation */
  dw?: "batched" | "gemm" | "conv";
}

/** onnxruntime's channel conditions for a blocked Conv: M a multiple of the block; C one too, or below it. */
export function blockedChannels(m: number, c: number, block: number): boolean {
  return block >= 2 && m % block === 0 && (c < block || c % block === 0);
}

/**
 * Whether the CPU lowering writes a Conv on the blocked-channel kernels: 2-D, ungrouped, undilated float32
 * with more than one kernel tap (a 1×1 conv is already one GEMM on the plain path: blocked, it measured no
 * faster and pays the reorders), and onnxruntime's channel conditions ({@linkcode blockedChannels}).
 */
export function lowersBlocked(
  x: { dtype: string; shape: readonly number[] },
  w: readonly number[],
  attrs: { group?: number; dilations?: readonly number[] },
  block: number,
): boolean {
  if (block < 2 || x.dtype !== "float32" || x.shape.length !== 4 || w.length !== 4) return false;
  if ((attrs.group ?? 1) !== 1 || (attrs.dilations ?? []).some((d) => d !== 1)) return false;
  const [m, c, kh, kw] = w;
  if (kh * kw === 1) return false;
  return blockedChannels(m, c, block);
}

/**
 * Whether the CPU lowering folds a forward Conv into one GEMM over the batch: 1×1, unpadded, ungrouped,
 * float32, a batch of more than one onto at most {@linkcode CONV_LIMITS.foldPixels} output pixels.
 */
export function foldsForward(
  x: { dtype: string; shape: readonly number[] },
  w: readonly number[],
  y: readonly number[],
  attrs: { group?: number; dilations?: readonly number[]; pads?: readonly number[] },
): boolean {
  if (x.dtype !== "float32" || x.shape.length !== 4 || w[2] !== 1 || w[3] !== 1) return false;
  if (
    (attrs.group ?? 1) !== 1 || (attrs.dilations ?? []).some((d) => d !== 1) ||
    (attrs.pads ?? []).some((p) => p !== 0)
  ) {
    return false;
  }
  return x.shape[0] > 1 && y[2] * y[3] <= CONV_LIMITS.foldPixels;
}

/**
 * Whether a blocked Conv reads a copy of its input padded left and right instead of padding implicitly
 * (lib/graph/nchwc.ts explains why).
 */
export function padWidthFirst(width: number, kw: number, pads: readonly number[]): boolean {
  return kw >= CONV_LIMITS.padWidthKernel && width <= CONV_LIMITS.padWidthMax && (pads[1] > 0 || pads[3] > 0);
}

/**
 * The forward form of a GraphNet conv on a backend of channel block `block` (0: plain ONNX, always "conv").
 * With blocked kernels, a conv whose input map has no more pixels than its kernel has taps (CBR-Small's 7×7
 * on 4×4 at 28², ResNet's 3×3 on 2×2) goes "swapped" where {@linkcode swapApplies}, else "dense" while its
 * matrix stays under {@linkcode CONV_LIMITS.denseBytes} (lib/train/graph_net.ts builds both).
 */
export function forwardForm(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
  block: number,
): "conv" | "dense" | "swapped" {
  if (block <= 0) return "conv";
  const [m, , kh, kw] = w, [, c, h, wd] = x;
  // the swapped Conv builds no matrix: no size bound
  if (swapApplies(x, w, s, p, block)) return "swapped";
  const pout = windowOut(h, kh, s[0], p[0], p[0]) * windowOut(wd, kw, s[1], p[1], p[1]);
  return h * wd <= kh * kw && m * pout * h * wd * c * 4 <= CONV_LIMITS.denseBytes ? "dense" : "conv";
}

/**
 * Whether the swapped small-map Conv applies (symmetric pads `p` = [ph, pw]): stride 1 and padding k − H (and
 * k − W), so that every output pixel sees the whole input map; the batch and the input channels blocked (the
 * swapped Conv's output and input channels) so that it runs on the blocked kernels.
 */
export function swapApplies(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
  block: number,
): boolean {
  const [n, c, h, wd] = x, [, , kh, kw] = w;
  return s[0] === 1 && s[1] === 1 && p[0] === kh - h && p[1] === kw - wd && p[0] >= 0 && p[1] >= 0 &&
    blockedChannels(n, c, block);
}

/** What a conv's shapes alone decide: its output map and which backward formulations can apply. */
export function convForm(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
): { ho: number; wo: number; unit: boolean; pointwise: boolean; flipOk: boolean } {
  const [, , h, wd] = x, [, , kh, kw] = w;
  const unit = s[0] === 1 && s[1] === 1;
  return {
    ho: windowOut(h, kh, s[0], p[0], p[2]),
    wo: windowOut(wd, kw, s[1], p[1], p[3]),
    unit,
    // 1×1 and unpadded
    pointwise: kh === 1 && kw === 1 && p.every((v) => v === 0),
    // stride 1 with pads ≤ k−1: the flipped-kernel Conv applies
    flipOk: unit && p[0] < kh && p[2] < kh && p[1] < kw && p[3] < kw,
  };
}

/** The dX formulations that apply to a conv of these shapes, in the tuner's order after the default. */
export function dxForms(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
): NonNullable<ConvChoice["dx"]>[] {
  const { unit, pointwise, flipOk } = convForm(x, w, s, p);
  return [
    ...(flipOk ? ["conv" as const] : []),
    ...(pointwise && unit ? ["matmul" as const] : []),
    "transpose",
    ...(foldApplies(x, w, s, p) ? ["fold" as const] : []),
  ];
}

/**
 * The dX and dW formulations that apply to a conv of this shape (the first of each: the default rule's,
 * without the blocked-channel lowering, which makes "conv" the default dW where it applies): what bench/tune.ts
 * times and the formulation tests check.
 */
export function convCandidates(sig: ConvSignature): { dx: ConvChoice["dx"][]; dw: ConvChoice["dw"][] } {
  const [n] = sig.x, [m, , kh, kw] = sig.w, { s, p } = sig;
  const { ho, wo } = convForm(sig.x, sig.w, s, p);
  // the Conv rule's default first
  const first = defaultDx(sig.x, sig.w, s, p);
  const dx = [first, ...dxForms(sig.x, sig.w, s, p).filter((f) => f !== first)];
  const dw: ConvChoice["dw"][] = m <= ho * wo ? ["batched", "gemm"] : ["gemm", "batched"];
  // the "conv" dW's Conv lays out one input channel's windows at a time (N·Ho·Wo·kh·kw values): offered
  // only where that stays under the 64 MiB the im2col dW is chunked to (small and mid-size feature maps)
  const bytes = sig.dtype === "float64" ? 8 : 4;
  if (n * ho * wo * kh * kw * bytes <= CONV_LIMITS.dwConvBytes) dw.push("conv");
  return { dx, dw };
}

/**
 * The default dX formulation. A 1×1 stride-1 conv: "fold" onto ≤ 4 pixels, or onto ≤ 64 where it narrows the
 * channels (C > M, ResNet's conv1s), else "conv" (a 1×1 Conv by the transposed weight); the per-sample
 * "matmul" measured slowest or near it in every case (onnxruntime fuses its weight Transpose into a
 * FusedMatMul that runs at half speed): ResNet-50 at 64² × 32, 2 threads, dX ms by matmul / conv / fold —
 * 256→64 on 16²: 9.3 / 6.8 / 8.2; 64→256 on 16²: 6.8 / 2.1 / 8.7; 512→128 on 8²: 7.8 / 8.1 / 3.1; 128→512 on
 * 8²: 2.3 / 1.7 / 6.6; 1024→256 on 4²: 7.6 / 3.3 / 2.1. Strided: "fold" on maps of ≤
 * {@linkcode CONV_LIMITS.foldMap} pixels (1×1: onto ≤ 16), else ConvTranspose. On the conv's (cropped)
 * shapes, as the rule sees them.
 */
export function defaultDx(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
): NonNullable<ConvChoice["dx"]> {
  const [n, ch, h, wd] = x, [m] = w;
  const { ho, wo, unit, pointwise, flipOk } = convForm(x, w, s, p);
  if (pointwise && unit) {
    return n > 1 && (ho * wo <= CONV_LIMITS.foldPointwise || (ch > m && ho * wo <= CONV_LIMITS.foldMap))
      ? "fold"
      : "conv";
  }
  if (flipOk) return "conv";
  const small = pointwise ? ho * wo <= CONV_LIMITS.foldStrided : h * wd <= CONV_LIMITS.foldMap;
  return n > 1 && small ? "fold" : "transpose";
}

/**
 * Whether "fold" applies: any 1×1 unpadded stride-1 conv; other convs while the col2im matrix stays small (an
 * input map of ≤ {@linkcode CONV_LIMITS.foldMap} pixels, or a strided 1×1 conv onto ≤ 64).
 */
export function foldApplies(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  p: readonly number[],
): boolean {
  const [, , h, wd] = x, { ho, wo, unit, pointwise } = convForm(x, w, s, p);
  if (pointwise && unit) return true;
  return pointwise ? ho * wo <= CONV_LIMITS.foldMap : h * wd <= CONV_LIMITS.foldMap;
}

/**
 * The default dW formulation and its tile (0: untiled) for a conv of (cropped) shapes `x`, `w`, output map
 * `ho` × `wo`. With blocked kernels, the batch-transposed Conv ("conv") where it is stride 1, has more than
 * one tap, and either an output map of at most {@linkcode CONV_LIMITS.dwTile}² or a kernel of
 * {@linkcode CONV_LIMITS.dwConvTaps} taps or more (then in tiles), and the lowering takes the dW Conv (input
 * channels = the batch, output channels = M): 3–6× faster than im2col on CBR-Small's maps at 28²; ResNet-50's
 * 3×3 convs on maps above 16² went 2–4 % slower tiled, so they keep im2col. Otherwise "batched" where
 * M ≤ Ho·Wo (no product larger than the columns) unless the backend asks for "gemm", else "gemm".
 */
export function defaultDw(
  x: readonly number[],
  w: readonly number[],
  s: readonly number[],
  dy: readonly number[],
  block: number,
  convWeight: "batched" | "gemm" = "batched",
): { dw: NonNullable<ConvChoice["dw"]>; tile: number } {
  const [n] = x, [m, , kh, kw] = w, [, , ho, wo] = dy;
  const unit = s[0] === 1 && s[1] === 1, taps = kh * kw;
  const blocked = block > 0 && unit && taps > 1 && ho * wo > 1 &&
    (ho * wo <= CONV_LIMITS.dwTile ** 2 || taps >= CONV_LIMITS.dwConvTaps) && blockedChannels(m, n, block);
  if (blocked) return { dw: "conv", tile: CONV_LIMITS.dwTile };
  return { dw: m <= ho * wo && convWeight !== "gemm" ? "batched" : "gemm", tile: 0 };
}

/**
 * Whether the untiled "conv" dW runs with the roles swapped (dY the input, X the kernel: no [C, M] → [M, C]
 * Transpose after it), which needs stride 1 and, with blocked kernels, the swapped Conv's channels (output C,
 * input N) to be ones the lowering takes.
 */
export function dwSwapped(x: readonly number[], s: readonly number[], block: number): boolean {
  return s[0] === 1 && s[1] === 1 && (!block || blockedChannels(x[1], x[0], block));
}
