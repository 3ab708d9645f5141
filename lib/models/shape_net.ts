/**
 * The shapes-only backend of the layer API: running a model definition over a {@linkcode ShapeNet}
 * computes every activation shape and collects the state_dict spec (names, shapes, initialisers, buffers)
 * in torch's registration order, without allocating any weights.
 * @module
 */
import { windowOut } from "../graph/ops.ts";
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
} from "./nn.ts";

/** A shape-only value: what a {@linkcode ShapeNet} passes between layers. */
export interface Shape {
  /** Shape (empty for a scalar). */
  readonly shape: readonly number[];
}

/** Output size along one axis with symmetric padding `p` (the graph builder's rule, torch's too). */
function symWindow(size: number, k: number, st: number, p: number, ceil = false): number {
  return windowOut(size, k, st, p, p, 1, ceil);
}

/**
 * Collects parameter specs and checks shapes. Layer names must be unique; a layer whose output would be
 * empty (input too small) throws a RangeError naming the layer.
 *
 * @example
 * ```ts
 * import { ShapeNet } from "./shape_net.ts";
 * const net = new ShapeNet();
 * const y = net.conv2d("conv1", net.input([1, 3, 32, 32]), { out: 8, kernel: 3, padding: 1 });
 * if (y.shape[1] !== 8 || net.specs[0].name !== "conv1.weight") throw new Error("unexpected");
 * ```
 */
export class ShapeNet implements Net<Shape> {
  /** The state_dict spec, in registration order. */
  readonly specs: ParamSpec[] = [];
  /** Tapped activations (name → shape), in call order. */
  readonly taps: Map<string, number[]> = new Map();
  #names = new Set<string>();

  /** An input value of the given NCHW (or N×F) shape. */
  input(shape: readonly number[]): Shape {
    return { shape: [...shape] };
  }

  #add(specs: ParamSpec[]): void {
    for (const s of specs) {
      if (this.#names.has(s.name)) throw new RangeError(`Parameter name ${s.name} is used twice`);
      this.#names.add(s.name);
      this.specs.push(s);
    }
  }

  #nchw(x: Shape, what: string): [number, number, number, number] {
    if (x.shape.length !== 4) throw new RangeError(`${what} expects an N×C×H×W input, got [${x.shape}]`);
    return x.shape as [number, number, number, number];
  }

  /** Conv2d, torch semantics. */
  conv2d(name: string, x: Shape, o: Conv2dOptions): Shape {
    const [n, c, h, w] = this.#nchw(x, `Conv ${name}`);
    const { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] } = convWindow(o);
    this.#add(conv2dSpecs(name, c, o));
    const ho = symWindow(h, kh, sh, ph), wo = symWindow(w, kw, sw, pw);
    if (ho < 1 || wo < 1) throw new RangeError(`Input of ${h}×${w} is too small for conv ${name}`);
    return { shape: [n, o.out, ho, wo] };
  }

  batchNorm2d(name: string, x: Shape): Shape {
    this.#add(batchNorm2dSpecs(name, this.#nchw(x, `BatchNorm ${name}`)[1]));
    return x;
  }

  /** ReLU. */
  relu(x: Shape): Shape {
    return x;
  }

  #pool(x: Shape, o: PoolOptions, what: string): Shape {
    const [n, c, h, w] = this.#nchw(x, what);
    const { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] } = poolWindow(o);
    const ho = symWindow(h, kh, sh, ph, o.ceilMode), wo = symWindow(w, kw, sw, pw, o.ceilMode);
    if (ho < 1 || wo < 1) throw new RangeError(`Input of ${h}×${w} is too small for a ${kh}×${kw} ${what}`);
    return { shape: [n, c, ho, wo] };
  }

  /** MaxPool2d. */
  maxPool2d(x: Shape, o: PoolOptions): Shape {
    return this.#pool(x, o, "max-pool");
  }

  /** AvgPool2d. */
  avgPool2d(x: Shape, o: PoolOptions): Shape {
    return this.#pool(x, o, "average pool");
  }

  globalAvgPool(x: Shape): Shape {
    const [n, c] = this.#nchw(x, "Global average pool");
    return { shape: [n, c] };
  }

  /** Concatenation along an axis. */
  concat(xs: Shape[], axis: number): Shape {
    if (xs.length === 0) throw new RangeError("Concat needs at least one input");
    const out = [...xs[0].shape];
    out[axis] = 0;
    for (const x of xs) {
      if (x.shape.length !== out.length || x.shape.some((d, i) => i !== axis && d !== out[i])) {
        throw new RangeError(`Concat inputs disagree: [${xs.map((v) => `[${v.shape}]`).join(", ")}]`);
      }
      out[axis] += x.shape[axis];
    }
    return { shape: out };
  }

  /** Elementwise sum. */
  add(a: Shape, b: Shape): Shape {
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw new RangeError(`Add inputs disagree: [${a.shape}] and [${b.shape}]`);
    }
    return a;
  }

  linear(name: string, x: Shape, o: LinearOptions): Shape {
    if (x.shape.length !== 2) throw new RangeError(`Linear ${name} expects an N×F input, got [${x.shape}]`);
    this.#add(linearSpecs(name, x.shape[1], o));
    return { shape: [x.shape[0], o.out] };
  }

  dropout(x: Shape): Shape {
    return x;
  }

  channelAffine(x: Shape, scale: number[], shift: number[]): Shape {
    const c = this.#nchw(x, "Channel affine")[1];
    if (scale.length !== c || shift.length !== c) {
      throw new RangeError(
        `Channel affine needs ${c} scales and shifts, got ${scale.length} and ${shift.length}`,
      );
    }
    return x;
  }

  tap(name: string, x: Shape): Shape {
    if (this.taps.has(name)) throw new RangeError(`Tap name ${name} is used twice`);
    this.taps.set(name, [...x.shape]);
    return x;
  }
}
