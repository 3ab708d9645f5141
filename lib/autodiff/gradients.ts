/**
 * Reverse-mode differentiation over a {@linkcode Graph}: appends the backward nodes for d loss / d wrt.
 * @module
 */
import type { Graph } from "../graph/graph.ts";
import { fmtShape, type Node, type OpKind, type Value } from "../graph/types.ts";
import { GRAD_RULES } from "./registry.ts";
import { type GradContext, type GradOptions, type GradRule, NO_GRADIENT, sumAll } from "./rule.ts";

const isFloat = (v: Value | undefined): boolean => !!v && (v.dtype === "float32" || v.dtype === "float64");

/**
 * Builds the gradients of the scalar `loss` with respect to each value in `wrt` (graph inputs,
 * initializers or intermediate values) and returns them keyed by the wrt value's name. Only nodes on a path
 * from some wrt value to the loss are differentiated, and each rule builds only the input gradients that
 * such a path needs. Where a value feeds several consumers, their contributions are summed (Add, or one Sum
 * for three or more). A wrt value the loss does not depend on gets zeros.
 *
 * @example
 * ```ts
 * import { Graph } from "../graph/graph.ts";
 * import { gradients } from "./gradients.ts";
 * const g = new Graph();
 * const x = g.input("x", "float32", [2, 3]);
 * const w = g.input("w", "float32", [4, 3]);
 * const labels = g.input("labels", "int64", [2]);
 * const logits = g.op.Gemm(x, w, undefined, { transB: 1 });
 * const loss = g.op.SoftmaxCrossEntropyLoss(logits, labels, { reduction: "mean" });
 * const grads = gradients(g, loss, [w]);
 * g.output(loss, "loss");
 * g.output(grads.get("w")!, "grad.w");
 * ```
 */
export function gradients(
  g: Graph,
  loss: Value,
  wrt: readonly Value[],
  options: GradOptions = {},
): Map<string, Value> {
  if (!g.owns(loss)) throw new TypeError(`Loss '${loss.name}' does not belong to graph '${g.name}'`);
  if (loss.shape.reduce((a, b) => a * b, 1) !== 1) {
    throw new RangeError(`Loss '${loss.name}' must be a scalar, got shape ${fmtShape(loss.shape)}`);
  }
  if (!isFloat(loss)) throw new TypeError(`Loss '${loss.name}' must be float, got ${loss.dtype}`);
  for (const v of wrt) {
    if (!g.owns(v)) throw new TypeError(`Variable '${v.name}' does not belong to graph '${g.name}'`);
    if (!isFloat(v)) {
      throw new TypeError(`Variable '${v.name}' must be float to have a gradient, got ${v.dtype}`);
    }
  }
  const nodes = [...g.nodes];
  const lossIndex = indexOfProducer(g, nodes, loss);

  // Forward sweep: values that depend on some wrt value.
  const active = new Set<Value>(wrt);
  for (let i = 0; i <= lossIndex; i++) {
    const n = nodes[i];
    if (n.inputs.some((v) => v && active.has(v))) {
      for (const o of n.outputs) if (o && isFloat(o)) active.add(o);
    }
  }
  // Backward sweep: active values the loss depends on.
  const relevant = new Set<Value>(active.has(loss) ? [loss] : []);
  const todo: Node[] = [];
  for (let i = lossIndex; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => o && relevant.has(o))) continue;
    todo.push(n);
    for (const v of n.inputs) if (v && active.has(v)) relevant.add(v);
  }

  const contributions = new Map<Value, Value[]>();
  const add = (v: Value, d: Value, from: Node) => {
    if (d.shape.length !== v.shape.length || d.shape.some((s, i) => s !== v.shape[i])) {
      throw new RangeError(
        `Gradient rule of ${from.op} node '${from.name}' gave '${d.name}' ${
          fmtShape(d.shape)
        } for '${v.name}' ${fmtShape(v.shape)}`,
      );
    }
    const list = contributions.get(v);
    if (list) list.push(d);
    else contributions.set(v, [d]);
  };
  const total = (v: Value): Value | undefined => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const sum = g.scope(
      `grad/${v.name}`,
      () => sumAll(g, list, options),
    );
    contributions.set(v, [sum]);
    return sum;
  };
  if (active.has(loss)) {
    contributions.set(loss, [
      g.constant(new Float64Array(loss.shape.reduce((a, b) => a * b, 1)).fill(1), loss.dtype, loss.shape),
    ]);
  }

  for (const n of todo) {
    const dy = n.outputs.map((o) => (o && relevant.has(o) ? total(o) : undefined));
    if (dy.every((d) => !d)) continue;
    const needs = n.inputs.map((v) => !!v && relevant.has(v));
    const rule = GRAD_RULES[n.op] as GradRule<OpKind> | undefined;
    if (!rule) throw new TypeError(`${n.op} node '${n.name}': no gradient rule`);
    const ctx: GradContext<OpKind> = {
      g,
      node: n,
      attrs: n.attrs,
      x: n.inputs,
      y: n.outputs,
      dy,
      get dout(): Value {
        if (!dy[0]) throw new TypeError(`${n.op} node '${n.name}': its first output has no gradient`);
        return dy[0];
      },
      needs,
      options,
    };
    const grads = g.scope(`grad/${n.name}`, () => rule(ctx));
    n.inputs.forEach((v, i) => {
      if (!v || !needs[i]) return;
      const d = grads[i];
      if (d === NO_GRADIENT) return;
      if (d) add(v, d, n);
      else {
        throw new TypeError(
          `Gradient rule of ${n.op} node '${n.name}' gave no gradient for input ${i} ('${v.name}')`,
        );
      }
    });
  }

  const out = new Map<string, Value>();
  for (const v of wrt) {
    const d = total(v) ??
      g.scope(
        `grad/${v.name}`,
        () => g.op.ConstantOfShape(v.shape, { value: { dtype: v.dtype, data: [0] } }),
      );
    out.set(v.name, d);
  }
  return out;
}

function indexOfProducer(g: Graph, nodes: readonly Node[], v: Value): number {
  const o = g.origin(v);
  return o.kind === "node" ? nodes.indexOf(o.node) : -1;
}
