/**
 * The graph backend of the layer API (`lib/models/nn.ts`): a model definition run over a {@linkcode GraphNet}
 * emits its forward pass into a {@linkcode Graph} — training mode (batch statistics, running-stat updates,
 * dropout by fed masks) or evaluation mode (running statistics, dropout off) — with every state_dict tensor
 * as a graph input named by its key, or embedded as an initializer of that name when weights are given.
 * Autodiff then differentiates the loss the caller builds on top.
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import { batchNormTraining } from "../graph/batchnorm.ts";
import { forEachTap, windowOut } from "../graph/ops.ts";
import { forwardForm } from "../graph/conv_plan.ts";
import { reverseTaps } from "../graph/consts.ts";
import { fmtShape, type Value } from "../graph/types.ts";
import {
  batchNorm2dSpecs,
  type Conv2dOptions,
  conv2dSpecs,
  convWindow,
  type LinearOptions,
  linearSpecs,
  type Net,
  type ParamSpec,
  type PoolOptions,
  poolWindow,
  type StateDict,
} from "../models/nn.ts";

/** Options of {@linkcode GraphNet}. */
export interface GraphNetOptions {
  /** "train": batch-statistics BN with running-stat updates, dropout masks; "eval": running stats, no dropout. */
  mode: "train" | "eval";
  /**
   * The specs a spec-collecting pass produced (e.g. `paramSpecs(model).params`); when given, every tensor
   * the definition creates must appear there with the same shape, and in the same order.
   */
  specs?: readonly ParamSpec[];
  /**
   * Embeds these weights: every float tensor becomes an initializer named by its key instead of a graph
   * input (a standalone model). Each must be there with the spec's shape.
   */
  weights?: StateDict;
  /**
   * The backend's blocked-channel block (`EngineBackend.block`, lib/train/backend.ts); 0 (default): plain Convs.
   * With it, the conv plan (lib/graph/conv_plan.ts `forwardForm`) writes a conv whose input map has no more
   * pixels than its kernel has taps (CBR-Small's 7×7 on 4×4 at 28², ResNet's 3×3 on 2×2) as
   * {@linkcode swappedConv} or as one dense matrix product ({@linkcode denseConv}), so that the forward and
   * the backward do only the multiply-adds that meet pixels: the same function either way, to float rounding.
   */
  block?: number;
}

/**
 * Emits graph nodes for the layer API. Parameters and BN buffers are float32 graph inputs (or, with
 * `weights`, initializers) named by their state_dict keys; `num_batches_tracked` is recorded in
 * {@linkcode GraphNet.specs} only (the runtime keeps it).
 *
 * @example
 * ```ts
 * import { Graph } from "../graph/graph.ts";
 * import { GraphNet } from "./graph_net.ts";
 * const g = new Graph("tiny");
 * const net = new GraphNet(g, { mode: "train" });
 * let x = g.input("input", "float32", [2, 3, 16, 16]);
 * x = net.relu(net.batchNorm2d("bn1", net.conv2d("conv1", x, { out: 4, kernel: 3, padding: 1 })));
 * const logits = net.linear("fc", net.globalAvgPool(x), { out: 5 });
 * if (logits.shape.join() !== "2,5" || net.bufferUpdates.size !== 2) throw new Error("unexpected");
 * ```
 */
export class GraphNet implements Net<Value> {
  /** The graph the nodes go into. */
  readonly g: Graph;
  /** Training or evaluation mode. */
  readonly mode: "train" | "eval";
  /** Trainable tensors (graph inputs, or initializers with `weights`), by state_dict key. */
  readonly params: Map<string, Value> = new Map();
  /** BN running_mean / running_var inputs, by state_dict key. */
  readonly buffers: Map<string, Value> = new Map();
  /** Train mode: the new running statistics, by the buffer's key (for the caller to make graph outputs). */
  readonly bufferUpdates: Map<string, Value> = new Map();
  /** Train mode: dropout mask inputs (already scaled by 1/(1−p)), by input name, to fill from a seeded Rng. */
  readonly dropoutMasks: Map<string, Value> = new Map();
  /** Dropout probability of each mask input. */
  readonly dropoutP: Map<string, number> = new Map();
  /** Tapped activations, by tap name. */
  readonly taps: Map<string, Value> = new Map();
  /** Every state_dict tensor created, in creation order (the state_dict order). */
  readonly specs: ParamSpec[] = [];
  readonly #expected?: readonly ParamSpec[];
  readonly #weights?: StateDict;
  #dropouts = 0;
  #block: number;

  /** Emits into `g` in the given mode. */
  constructor(g: Graph, opts: GraphNetOptions) {
    if (opts.mode !== "train" && opts.mode !== "eval") {
      throw new RangeError(`GraphNet mode must be "train" or "eval", got '${opts.mode}'`);
    }
    this.g = g;
    this.mode = opts.mode;
    this.#expected = opts.specs;
    this.#weights = opts.weights;
    this.#block = opts.block ?? 0;
  }

  /** Records the specs of one layer; returns its float tensors (parameters, then buffers) as values. */
  #tensors(specs: readonly ParamSpec[]): Value[] {
    for (const s of specs) this.#spec(s);
    return specs.filter((s) => s.dtype === "float32").map((s) => {
      const v = this.#value(s);
      (s.trainable ? this.params : this.buffers).set(s.name, v);
      return v;
    });
  }

  #value({ name, shape }: ParamSpec): Value {
    if (!this.#weights) return this.g.input(name, "float32", shape);
    const t = this.#weights.get(name);
    if (!t) throw new RangeError(`State dict lacks '${name}', which the model needs`);
    if (!(t.data instanceof Float32Array) || t.shape.join() !== shape.join()) {
      throw new RangeError(
        `State dict tensor '${name}' must be float32 ${fmtShape(shape)}, got ${t.data.constructor.name} ${
          fmtShape(t.shape)
        }`,
      );
    }
    return this.g.initializer(name, "float32", shape, t.data);
  }

  #spec(spec: ParamSpec): void {
    const { name, shape } = spec;
    if (this.specs.some((s) => s.name === name)) throw new TypeError(`Parameter '${name}' is defined twice`);
    const exp = this.#expected;
    if (exp) {
      const want = exp[this.specs.length];
      if (!want || want.name !== name || want.shape.join() !== shape.join()) {
        throw new RangeError(
          `Parameter '${name}' ${fmtShape(shape)} does not match the given specs (expected ${
            want ? `'${want.name}' ${fmtShape(want.shape)}` : "no more tensors"
          })`,
        );
      }
    }
    this.specs.push(spec);
  }

  #image(x: Value, what: string): void {
    if (x.shape.length !== 4) {
      throw new RangeError(`${what} needs an N×C×H×W input, got '${x.name}' ${fmtShape(x.shape)}`);
    }
  }

  /** nn.Conv2d: parameters `<name>.weight` (and `<name>.bias`); symmetric padding. */
  conv2d(name: string, x: Value, o: Conv2dOptions): Value {
    this.#image(x, `conv2d '${name}'`);
    const [w, b] = this.#tensors(conv2dSpecs(name, x.shape[1], o));
    const { stride: [sh, sw], padding: [ph, pw] } = convWindow(o);
    const form = forwardForm(x.shape, w.shape, [sh, sw], [ph, pw], this.#block);
    return this.g.scope(
      name,
      () =>
        form === "swapped"
          ? swappedConv(this.g, x, w, b)
          : form === "dense"
          ? denseConv(this.g, x, w, b, [sh, sw], [ph, pw])
          : this.g.op.Conv(x, w, b, { strides: [sh, sw], pads: [ph, pw, ph, pw] }),
    );
  }

  /** nn.BatchNorm2d: train mode normalises by batch statistics and records the running-stat updates. */
  batchNorm2d(name: string, x: Value, o: { eps?: number; momentum?: number } = {}): Value {
    const [weight, bias, rm, rv] = this.#tensors(batchNorm2dSpecs(name, x.shape[1]));
    const eps = o.eps ?? 1e-5;
    return this.g.scope(name, () => {
      if (this.mode === "eval") {
        return this.g.op.BatchNormalization(x, weight, bias, rm, rv, { epsilon: eps });
      }
      const r = batchNormTraining(this.g, x, weight, bias, rm, rv, {
        epsilon: eps,
        momentum: o.momentum ?? 0.1,
      });
      this.bufferUpdates.set(rm.name, r.runningMean);
      this.bufferUpdates.set(rv.name, r.runningVar);
      return r.y;
    });
  }

  /** ReLU. */
  relu(x: Value): Value {
    return this.g.op.Relu(x);
  }

  #pool(x: Value, o: PoolOptions) {
    this.#image(x, "pooling");
    const { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] } = poolWindow(o);
    return {
      kernel_shape: [kh, kw],
      strides: [sh, sw],
      pads: [ph, pw, ph, pw],
      ceil_mode: o.ceilMode ? 1 : 0,
    };
  }

  /** nn.MaxPool2d (stride defaults to the kernel). */
  maxPool2d(x: Value, o: PoolOptions): Value {
    return this.g.op.MaxPool(x, this.#pool(x, o));
  }

  /** nn.AvgPool2d (count_include_pad defaults to true, as torch). */
  avgPool2d(x: Value, o: PoolOptions): Value {
    return this.g.op.AveragePool(x, {
      ...this.#pool(x, o),
      count_include_pad: (o.countIncludePad ?? true) ? 1 : 0,
    });
  }

  /** AdaptiveAvgPool2d(1) and flatten: N×C×H×W → N×C. */
  globalAvgPool(x: Value): Value {
    this.#image(x, "globalAvgPool");
    return this.g.op.Flatten(this.g.op.GlobalAveragePool(x), { axis: 1 });
  }

  /** torch.cat. */
  concat(xs: Value[], axis: number): Value {
    return this.g.op.Concat(xs, { axis });
  }

  /** Elementwise sum (residual connections). */
  add(a: Value, b: Value): Value {
    return this.g.op.Add(a, b);
  }

  /** nn.Linear on N×F (bias defaults to true). */
  linear(name: string, x: Value, o: LinearOptions): Value {
    if (x.shape.length !== 2) {
      throw new RangeError(`linear '${name}' needs an N×F input, got '${x.name}' ${fmtShape(x.shape)}`);
    }
    const [w, b] = this.#tensors(linearSpecs(name, x.shape[1], o));
    return this.g.scope(name, () => this.g.op.Gemm(x, w, b, { transB: 1 }));
  }

  /** Train mode: multiplies by a fed mask input `dropout.<k>` (see {@linkcode fillDropoutMask}); eval: identity. */
  dropout(x: Value, p: number): Value {
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout probability must be in [0, 1), got ${p}`);
    if (this.mode === "eval" || p === 0) return x;
    const name = `dropout.${this.#dropouts++}`;
    const mask = this.g.input(name, x.dtype, x.shape);
    this.dropoutMasks.set(name, mask);
    this.dropoutP.set(name, p);
    return this.g.op.Mul(x, mask);
  }

  /** y[:, c] = x[:, c]·scale[c] + shift[c]. */
  channelAffine(x: Value, scale: number[], shift: number[]): Value {
    const c = x.shape[1];
    if (scale.length !== c || shift.length !== c) {
      throw new RangeError(`channelAffine needs ${c} scales and shifts for '${x.name}' ${fmtShape(x.shape)}`);
    }
    const shape = [1, c, ...x.shape.slice(2).map(() => 1)];
    const s = this.g.constant(scale, x.dtype, shape), t = this.g.constant(shift, x.dtype, shape);
    return this.g.op.Add(this.g.op.Mul(x, s), t);
  }

  /** Records `x` under `name` in {@linkcode GraphNet.taps}. */
  tap(name: string, x: Value): Value {
    if (this.taps.has(name)) throw new TypeError(`Tap '${name}' is defined twice`);
    this.taps.set(name, x);
    return x;
  }
}

/**
 * Fills a dropout mask in place: each element is 1/(1−p) with probability 1−p, else 0 (torch's inverted
 * dropout), drawn from `rng` so that a seeded run repeats bit for bit.
 *
 * @example
 * ```ts
 * import { fillDropoutMask } from "./graph_net.ts";
 * import { Rng } from "../util/random.ts";
 * const m = fillDropoutMask(new Float32Array(8), 0.5, new Rng(1));
 * if (!m.every((v) => v === 0 || v === 2)) throw new Error("bad mask");
 * ```
 */
export function fillDropoutMask(mask: Float32Array, p: number, rng: { float(): number }): Float32Array {
  const keep = 1 - p, scale = 1 / keep;
  for (let i = 0; i < mask.length; i++) mask[i] = rng.float() < keep ? scale : 0;
  return mask;
}

/**
 * A 2-D conv as one dense matrix product: Y[n, (m, p)] = Σ_(q, c) X[n, (q, c)] · T[(m, p), (q, c)] with
 * T[m, p, q, c] = W[m, c, t] where tap t of output pixel p reads input pixel q (0 where none does). T is
 * built by a MatMul of the constant one-hot E[(p, q), t] with W's taps, so the MatMul rule takes the weight
 * gradient back through E. Where the input map has no more pixels than the kernel has taps, the dense
 * product does no more multiply-adds than the direct conv, and only those that meet pixels (a 7×7 kernel
 * on a 4×4 map: 16 of 49 taps per output pixel, where a direct conv also multiplies the padding).
 */
export function denseConv(
  g: Graph,
  x: Value,
  w: Value,
  b: Value | undefined,
  s: readonly number[],
  p: readonly number[],
): Value {
  const [n, c, h, wd] = x.shape, [m, , kh, kw] = w.shape;
  const ho = windowOut(h, kh, s[0], p[0], p[0]), wo = windowOut(wd, kw, s[1], p[1], p[1]);
  const kk = kh * kw, pout = ho * wo, pin = h * wd;
  const e = new Float32Array(pout * pin * kk);
  forEachTap([h, wd], [ho, wo], [kh, kw], s, [p[0], p[1]], (t, y, q) => e[(y * pin + q) * kk + t] = 1);
  const taps = g.op.Transpose(g.op.Reshape(w, [m, c, kk]), { perm: [0, 2, 1] }); // [M, taps, C]
  const t = g.op.Reshape(g.op.MatMul(g.constant(e, "float32", [pout * pin, kk]), taps), [m * pout, pin * c]);
  const xq = g.op.Reshape(g.op.Transpose(g.op.Reshape(x, [n, c, pin]), { perm: [0, 2, 1] }), [n, pin * c]);
  const y = g.op.Reshape(g.op.Gemm(xq, t, undefined, { transB: 1 }), [n, m, ho, wo]);
  return b ? g.op.Add(y, g.op.Reshape(b, [1, m, 1, 1])) : y;
}

/**
 * A small-map conv with the roles swapped: the weight [M, C, kh, kw] is the Conv's input (M as the batch) and
 * the activation [N, C, H, W] its kernel, unpadded: out[m, n, a, b] = Σ W[m, c, a + i, b + j] · X[n, c, i, j],
 * which is Y[n, m, Ho − 1 − a, Wo − 1 − b] where padding is k − H (the conv plan's `swapApplies`). One blocked Conv
 * of only the multiply-adds that meet pixels, where {@linkcode denseConv} first builds its M·Ho·Wo × H·W·C
 * matrix by a one-hot product (and takes the weight gradient back through it): CBR-Small at 28², 64 a batch,
 * block4's forward 12 → 6.3 ms, forward and backward 35 → 31 ms. The output is turned by
 * `reverseTaps` (lib/graph/consts.ts: the anti-identity over its Ho·Wo pixels) and its first two axes swapped (a
 * [N, M, Ho, Wo] Transpose of a few pixels).
 */
export function swappedConv(g: Graph, x: Value, w: Value, b: Value | undefined): Value {
  const [n, , h, wd] = x.shape, [m, , kh, kw] = w.shape;
  const ho = kh - h + 1, wo = kw - wd + 1;
  const turned = reverseTaps(g, g.op.Conv(w, x, undefined, {}), x.dtype as "float32" | "float64");
  const y = g.op.Reshape(
    g.op.Transpose(g.op.Reshape(turned, [m, n, ho * wo]), { perm: [1, 0, 2] }),
    [n, m, ho, wo],
  );
  return b ? g.op.Add(y, g.op.Reshape(b, [1, m, 1, 1])) : y;
}
