/**
 * The CPU lowering: the rewrite passes the serialiser applies for onnxruntime's CPU provider
 * ({@linkcode cpuPasses}; the engine backend, lib/train/backend.ts, hands them to `serializeGraph`).
 *
 * onnxruntime rewrites a Conv to its blocked-channel (`com.microsoft.nchwc`) kernels only when the weight is a
 * constant initializer (it reorders the filter once, at load). In a training step every weight is a graph
 * input or a computed tensor (the flipped kernel of dX, the batch-transposed dY of dW), so all of them ran on
 * the plain im2col + GEMM path: 1.3–3× slower at the small feature maps of 28²–128² images. This lowering
 * writes the blocked form itself, with the filter reorder inside the graph (cheap next to the activations):
 *
 *   ReorderInput(x) → nchwc.Conv(x̂, reorder(W), B) → ReorderOutput(channels = M)
 *
 * pads the input of wide kernels on narrow maps left and right itself (the conv plan's `padWidthFirst`), and
 * folds 1×1 convs onto a few pixels into one GEMM over the batch ({@linkcode foldConv}). Which conv takes
 * which path is the conv plan's (lib/graph/conv_plan.ts). The graph built by `Graph` stays standard ONNX
 * (gradients, WebGPU, export) and carries no hint for this lowering: a dX conv's flipped kernel is recognised
 * by its shape in the graph ({@linkcode flippedSource}). Only the bytes given to the CPU provider differ, and
 * only where the backend's probe found the kernels on this processor.
 * @module
 */
import type { GraphView, Node, Value } from "./types.ts";
import { CONV_LIMITS, foldsForward, lowersBlocked, padWidthFirst } from "./conv_plan.ts";
import type { LoweringPass, PassContext, ProtoNode } from "./serialize.ts";

/**
 * Revision of this lowering, raised whenever a change alters what a conv formulation costs under it (here: the
 * padded-width input, the dX filter from the forward kernel): conv timings cached under an older one
 * (bench/tune.ts) are measured again.
 */
export const LOWERING_REVISION = 2;

/** The onnxruntime operator domain of the blocked-channel kernels. */
export const NCHWC_DOMAIN = "com.microsoft.nchwc";

/**
 * The nodes that replace a 1×1 Conv of a batch onto a few output pixels (the plan's `foldsForward`): one GEMM
 * over the batch-flattened input. onnxruntime's Conv multiplies per sample, [M, C]·[C, Ho·Wo], at a quarter of
 * its GEMM rate when Ho·Wo is 1–4. Names and initializers as in {@linkcode lowerConv}.
 */
export function foldConv(node: Node, { fresh, shapes }: PassContext): ProtoNode[] {
  const [x, w, b] = node.inputs as (Value | undefined)[];
  const y = node.outputs[0]!;
  const [n, c] = x!.shape, [, m, ho, wo] = y.shape;
  const strides = (node.attrs as { strides?: number[] }).strides ?? [1, 1];
  const out: ProtoNode[] = [];
  const ints = (dims: number[]) => {
    const name = fresh(`${node.name}/fold_ints`);
    shapes.push({ name, dims });
    return name;
  };
  const add = (opType: string, input: string[], attrs: Record<string, unknown>[] = [], output?: string) => {
    const o = output ?? fresh(`${node.name}/fold_${opType}`);
    out.push({
      name: fresh(`${node.name}/fold_${opType}`),
      opType,
      domain: "",
      input,
      output: [o],
      attribute: attrs,
    });
    return o;
  };
  const perm = (p: number[]) => [{ name: "perm", type: 7, ints: p }];
  let xs = x!.name;
  if (strides.some((s) => s !== 1)) {
    // the pixels a strided 1×1 conv reads
    xs = add("Slice", [
      xs,
      ints([0, 0]),
      ints([ho * strides[0], wo * strides[1]]),
      ints([2, 3]),
      ints(strides),
    ]);
  }
  const cols = add("Reshape", [add("Transpose", [xs], perm([1, 0, 2, 3])), ints([c, n * ho * wo])]);
  let prod = add("MatMul", [add("Reshape", [w!.name, ints([m, c])]), cols]);
  if (b) prod = add("Add", [prod, add("Reshape", [b.name, ints([m, 1])])]);
  add("Transpose", [add("Reshape", [prod, ints([m, n, ho, wo])])], perm([1, 0, 2, 3]), y.name);
  return out;
}

/**
 * The nodes that replace an eligible Conv. `attribute` holds the Conv's own attributes as serialised;
 * `fresh` makes names unique in the model; `reordered` shares one ReorderInput per input tensor across the
 * convs that read it (ResNet's block input feeds both conv1 and the downsample).
 */
export function lowerConv(
  node: Node,
  block: number,
  { graph, attribute, fresh, reordered, shapes }: PassContext,
): ProtoNode[] {
  const [x, w, b] = node.inputs as (Value | undefined)[];
  const y = node.outputs[0]!;
  const [m, c, kh, kw] = w!.shape;
  const out: ProtoNode[] = [];
  const shape = (dims: number[]) => {
    const name = fresh(`${node.name}/nchwc_shape`);
    shapes.push({ name, dims });
    return name;
  };
  const add = (opType: string, domain: string, input: string[], attrs: Record<string, unknown>[] = []) => {
    const o = fresh(`${node.name}/nchwc_${opType}`);
    out.push({ name: o, opType, domain, input, output: [o], attribute: attrs });
    return o;
  };
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  // [b, r, k] → [b, k, r]. onnxruntime's Transpose runs on one thread at ~6 GB/s (2.4–3 ms for each of
  // ResNet-50's layer4 filters); a product with the identity of the smaller side, which onnxruntime fuses with
  // the Transpose into one FusedMatMul that packs the transposed operand on every thread, takes a third of
  // that (ResNet-50 at 128²: forward filter reorders 13.7 → 4.0 ms a step, dX filters 8.7 → 3.7). Exact: each
  // output is one product by 1 plus products by 0 (a −0 weight turns +0; a NaN weight spreads along its row).
  const swapLast = (t: string, r: number, k: number) => {
    const tr = add("Transpose", "", [t], [ints("perm", [0, 2, 1])]);
    const n = Math.min(r, k);
    if (n > CONV_LIMITS.identityMax) return tr;
    let eye = shapes.find((s) => s.name.startsWith("nchwc_identity") && s.dims[0] === n)?.name;
    if (!eye) {
      const float = new Float32Array(n * n);
      for (let i = 0; i < n; i++) float[i * n + i] = 1;
      shapes.push({ name: eye = fresh(`nchwc_identity${n}`), dims: [n, n], float });
    }
    return r <= k ? add("MatMul", "", [tr, eye]) : add("MatMul", "", [eye, tr]);
  };
  const int = (name: string, v: number) => ({ name, type: 2, i: v });
  // Filter: OIHW → [M/B, C/B, kh, kw, Bi, Bo] (input channels ≥ B) or [M/B, C, kh, kw, Bo] (fewer): the
  // layouts of MlasReorderFilterOIHWBiBo / OIHWBo (tests/graph/nchwc_test.ts checks them against
  // onnxruntime's own). First Bo moves innermost, a batched 2-D transpose (swapLast); that is already
  // OIHWBo. For OIHWBiBo, (Bi, k) rows of Bo values then swap by a Gather of whole rows: 2.5–3× faster
  // than one 5-D Transpose (onnxruntime's generic path: 9 ms for ResNet-50's 512×512×3×3).
  const kk = kh * kw;
  const blockedIn = c >= block;
  const flipOf = flippedSource(graph, w!);
  let wr: string;
  if (flipOf) {
    // W[o, i, t] = F[i, o, kk−1−t]: F's rows of B output channels after one batched transpose,
    // [c, kk, m] = rows (i, t, ob), gathered into the blocked order with the taps reversed
    const ft = swapLast(add("Reshape", "", [flipOf.name, shape([c, m, kk])]), m, kk);
    const mb = m / block, src = (i: number, t: number, ob: number) => (i * kk + t) * mb + ob;
    const order: number[] = [];
    for (let ob = 0; ob < mb; ob++) {
      if (blockedIn) {
        for (let ib = 0; ib < c / block; ib++) {
          for (let t = 0; t < kk; t++) {
            for (let bi = 0; bi < block; bi++) order.push(src(ib * block + bi, kk - 1 - t, ob));
          }
        }
      } else {
        for (let i = 0; i < c; i++) for (let t = 0; t < kk; t++) order.push(src(i, kk - 1 - t, ob));
      }
    }
    const rows = fresh(`${node.name}/nchwc_rows`);
    shapes.push({ name: rows, dims: order });
    wr = add("Gather", "", [add("Reshape", "", [ft, shape([c * kk * mb, block])]), rows], [int("axis", 0)]);
  } else {
    const wt = swapLast(add("Reshape", "", [w!.name, shape([m / block, block, c * kk])]), block, c * kk);
    wr = wt;
    if (blockedIn) {
      // row j of the output (k = j / B, bi = j % B) is row bi·K + k of the input
      const order = fresh(`${node.name}/nchwc_rows`);
      shapes.push({
        name: order,
        dims: Array.from({ length: block * kk }, (_, j) => (j % block) * kk + Math.floor(j / block)),
      });
      const rows = add("Reshape", "", [wt, shape([(m / block) * (c / block), block * kk, block])]);
      wr = add("Gather", "", [rows, order], [int("axis", 1)]);
    }
  }
  wr = add("Reshape", "", [wr, shape([m, c, kh, kw])]);
  let xin = x!.name;
  if (blockedIn) {
    const have = reordered.get(x!.name);
    xin = have ?? add("ReorderInput", NCHWC_DOMAIN, [x!.name]);
    reordered.set(x!.name, xin);
  }
  const pads = (node.attrs as { pads?: number[] }).pads ?? [0, 0, 0, 0];
  let attrs = attribute;
  // A blocked Conv pads implicitly by computing each output whose window meets the left or right padding on
  // its own, checking every tap; only interior outputs take its fast multi-output path, and a wide kernel on a
  // narrow map has almost no interior (7 wide with padding 3 on a 7-wide map: one output of 7). Padded rows at
  // the top and bottom cost nothing (the kernel skips them), so only W is padded. Measured per conv (2 threads,
  // batch 16–64): 7×7 on 7²–16² maps 20–25 % faster, a 14-wide dW kernel on 14² 38 %, 5×5 and 1×7 10–20 %,
  // 7×7 on 32²–64² ~10 %; 3×3 convs 0–8 % slower and 7×7 on 128² no different (the plan's thresholds).
  if (padWidthFirst(x!.shape[3], kw, pads)) {
    // onnxruntime calls a blocked tensor [N, C, H, W] but stores it [N, C/B, H, W, B]: pad that view's W
    // (the batch as 0, "as the input", so a symbolic batch axis stays symbolic)
    const [, , h, wd] = x!.shape;
    const key = `${xin}|padw ${pads[1]},${pads[3]}`;
    let have = reordered.get(key);
    if (!have) {
      if (blockedIn) {
        const v = add("Reshape", "", [xin, shape([0, c / block, h, wd, block])]);
        const padded = add("Pad", "", [v, shape([0, 0, 0, pads[1], 0, 0, 0, 0, pads[3], 0])]);
        have = add("Reshape", "", [padded, shape([0, c, h, wd + pads[1] + pads[3]])]);
      } else {
        have = add("Pad", "", [xin, shape([0, 0, 0, pads[1], 0, 0, 0, pads[3]])]);
      }
      reordered.set(key, have);
    }
    xin = have;
    attrs = attribute.map((a) => a.name === "pads" ? { ...a, ints: [pads[0], 0, pads[2], 0] } : a);
  }
  const conv = add("Conv", NCHWC_DOMAIN, [xin, wr, ...(b ? [b.name] : [])], attrs);
  out.push({
    name: fresh(`${node.name}/nchwc_ReorderOutput`),
    opType: "ReorderOutput",
    domain: NCHWC_DOMAIN,
    input: [conv],
    output: [y.name],
    attribute: [int("channels", m)],
  });
  return out;
}

/**
 * The kernel W [M, C, kh, kw] of which `v` is the flipped transpose [C, M, kh, kw] as the Conv gradient rule
 * writes it (Reshape ∘ Transpose [1, 0, 2] ∘ Reshape of W's taps times the anti-identity, lib/graph/consts.ts
 * `reverseTaps`), or undefined: the lowering then builds the blocked filter from W in one Transpose and one
 * Gather instead of four passes (the flip's nodes, left unread, are pruned).
 */
export function flippedSource(g: GraphView, v: Value): Value | undefined {
  const from = (t: Value | undefined, op: string) => {
    if (!t) return undefined;
    const o = g.origin(t);
    return o.kind === "node" && o.node.op === op ? o.node : undefined;
  };
  const [c, m, kh, kw] = v.shape, kk = kh * kw;
  const t = from(from(v, "Reshape")?.inputs[0], "Transpose");
  if (!t || (t.attrs as { perm?: number[] }).perm?.join() !== "1,0,2") return undefined;
  const mm = from(from(from(t.inputs[0], "Reshape")?.inputs[0], "Reshape")?.inputs[0], "MatMul");
  const j = mm?.inputs[1], src = from(mm?.inputs[0], "Reshape")?.inputs[0];
  const anti = j && g.constantData(j);
  if (!src || !anti || j.shape.join() !== `${kk},${kk}` || src.shape.join() !== `${m},${c},${kh},${kw}`) {
    return undefined;
  }
  for (let i = 0; i < kk * kk; i++) {
    if (anti[i] !== (i % kk === kk - 1 - Math.floor(i / kk) ? 1 : 0)) return undefined;
  }
  return src;
}

/**
 * The CPU provider's rewrite passes for channel block `block` (the backend's): every Conv the plan lowers on
 * the blocked-channel kernels, and 1×1 Convs onto a few pixels folded into one GEMM over the batch (not with
 * a symbolic batch axis: the fold writes the batch size into Reshape targets). None for block 0.
 */
export function cpuPasses(block: number): LoweringPass[] {
  if (block < 2) return [];
  return [
    {
      name: `nchwc${block}`,
      rewrite: (n, ctx) =>
        n.op === "Conv" && lowersBlocked(n.inputs[0]!, n.inputs[1]!.shape, (n as Node<"Conv">).attrs, block)
          ? lowerConv(n, block, ctx)
          : undefined,
    },
    {
      name: "fold",
      rewrite: (n, ctx) =>
        n.op === "Conv" && !ctx.dynamicBatch &&
          foldsForward(n.inputs[0]!, n.inputs[1]!.shape, n.outputs[0]!.shape, (n as Node<"Conv">).attrs)
          ? foldConv(n, ctx)
          : undefined,
    },
  ];
}
