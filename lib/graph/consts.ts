/**
 * Constants a graph builder makes once per graph (the one-hot and anti-identity matrices of the conv
 * formulations), and the kernel turn that GraphNet's swapped conv and the Conv gradient rule share.
 * @module
 */
import type { Graph } from "./graph.ts";
import type { Value } from "./types.ts";

const constants = new WeakMap<Graph, Map<string, Value>>();

/** A constant made once per graph and dtype (a rule runs once per node; its kernels repeat). */
export function cachedConst(
  g: Graph,
  key: string,
  dtype: "float32" | "float64",
  shape: readonly number[],
  fill: (data: Float32Array | Float64Array) => void,
): Value {
  let m = constants.get(g);
  if (!m) constants.set(g, m = new Map());
  const full = `${key}_${dtype}`;
  let v = m.get(full);
  if (!v) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
    fill(data);
    v = g.initializer(g.freshName(full), dtype, shape, data);
    m.set(full, v);
  }
  return v;
}

/**
 * W [A, B, kh, kw] with its kernel taps in reverse order (a 180° turn), by the kh·kw anti-identity (one per
 * graph and size): the dX conv's flipped kernel and the dW conv's turned output (lib/autodiff/rules/conv.ts),
 * and the swapped small-map conv's output (lib/train/graph_net.ts).
 */
export function reverseTaps(g: Graph, w: Value, dtype: "float32" | "float64"): Value {
  const [a, b, kh, kw] = w.shape, kk = kh * kw;
  if (kk === 1) return w;
  const j = cachedConst(g, `flip_${kk}`, dtype, [kk, kk], (data) => {
    for (let i = 0; i < kk; i++) data[i * kk + kk - 1 - i] = 1;
  });
  return g.op.Reshape(g.op.MatMul(g.op.Reshape(w, [a, b, kk]), j), [a, b, kh, kw]);
}
