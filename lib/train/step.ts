/**
 * Assembles the two graphs a run needs from one model definition: the training step (forward in training
 * mode, loss, reverse-mode gradients of every parameter, new BN running statistics) and the evaluation
 * graph (BN in eval mode; softmax probabilities and the spatially pooled activations the CCA reads).
 * @module
 */
import { Graph, type Value } from "../graph/mod.ts";
import { gradients, type GradOptions } from "../autodiff/mod.ts";
import { GraphNet } from "./graph_net.ts";
import type { Net, ParamSpec } from "../models/nn.ts";

/** A model definition as lib/models writes them: layer calls over a {@linkcode Net}. */
export type ModelFn = (net: Net<Value>, x: Value) => { logits: Value; aux?: Value };

/** Input geometry of a graph: the batch size is static (one graph per batch size). */
export interface GraphShape {
  /** images per batch */
  batch: number;
  /** image height and width in pixels (square inputs) */
  size: number;
  /** input channels; default 3 */
  channels?: number;
}

/** The training-step graph and the names its runtime feeds and fetches. */
export interface TrainGraph {
  /** the serialised ONNX model */
  bytes: Uint8Array;
  /** every state_dict tensor the graph reads */
  specs: ParamSpec[];
  /** input names of the trainable parameters (their state_dict keys) */
  params: string[];
  /** input names of the buffers (BN running statistics) */
  buffers: string[];
  /** buffer name → output name of its updated value */
  bufferOut: Map<string, string>;
  /** parameter name → output name of its gradient */
  gradOut: Map<string, string>;
  /** dropout masks the runtime draws each step: input name, shape and drop probability */
  masks: { name: string; shape: number[]; p: number }[];
  /** input name of the N×C×H×W image batch */
  input: string;
  /** input name of the int64 grade labels */
  labels: string;
  /** output name of the scalar loss */
  loss: string;
  /** output name of the N×classes logits */
  logits: string;
}

/** The evaluation graph and its output names. */
export interface EvalGraph {
  /** the serialised ONNX model */
  bytes: Uint8Array;
  /** every state_dict tensor the graph reads */
  specs: ParamSpec[];
  /** state_dict keys fed as inputs: parameters, then buffers */
  inputs: string[];
  /** input name of the N×C×H×W image batch */
  input: string;
  /** output name of the N×classes logits */
  logits: string;
  /** output name of the N×classes softmax probabilities */
  probs: string;
  /** tap name → output name (N×C: 4-D stage outputs are averaged over space) */
  taps: Map<string, string>;
}

/**
 * Builds the training step. The loss is the mean softmax cross-entropy of the logits, plus `auxWeight` ×
 * that of the auxiliary logits when the model has them (torchvision's Inception-v3 recipe: 0.4).
 */
export function buildTrainGraph(
  model: ModelFn,
  shape: GraphShape,
  opts: { auxWeight?: number; grad?: GradOptions } = {},
): TrainGraph {
  const g = new Graph("train_step");
  const net = new GraphNet(g, { mode: "train" });
  const { batch, size, channels = 3 } = shape;
  const x = g.input("input", "float32", [batch, channels, size, size]);
  const labels = g.input("labels", "int64", [batch]);
  const out = model(net, x);
  let loss = g.op.SoftmaxCrossEntropyLoss(out.logits, labels, { reduction: "mean" });
  if (out.aux) {
    const auxLoss = g.op.SoftmaxCrossEntropyLoss(out.aux, labels, { reduction: "mean" });
    const w = g.constant(new Float32Array([opts.auxWeight ?? 0.4]), [], "float32");
    loss = g.op.Add(loss, g.op.Mul(auxLoss, w));
  }
  const params = [...net.params.values()];
  const grads = gradients(g, loss, params, opts.grad);
  g.output(loss, "loss");
  g.output(out.logits, "logits");
  const gradOut = new Map<string, string>();
  for (const p of params) {
    const gv = grads.get(p.name);
    if (!gv) throw new Error(`No gradient reaches parameter ${p.name}`);
    const name = `grad.${p.name}`;
    g.output(gv, name);
    gradOut.set(p.name, name);
  }
  const bufferOut = new Map<string, string>();
  for (const [name, v] of net.bufferUpdates) {
    const o = `new.${name}`;
    g.output(v, o);
    bufferOut.set(name, o);
  }
  const masks = [...net.dropoutMasks.entries()].map(([name, v]) => ({
    name,
    shape: [...v.shape],
    p: net.dropoutP?.get(name) ?? 0.5,
  }));
  return {
    bytes: g.toBytes(),
    specs: net.specs,
    params: [...net.params.keys()],
    buffers: [...net.buffers.keys()],
    bufferOut,
    gradOut,
    masks,
    input: "input",
    labels: "labels",
    loss: "loss",
    logits: "logits",
  };
}

/** Builds the evaluation graph (BN with running statistics, dropout off). */
export function buildEvalGraph(model: ModelFn, shape: GraphShape): EvalGraph {
  const g = new Graph("eval");
  const net = new GraphNet(g, { mode: "eval" });
  const { batch, size, channels = 3 } = shape;
  const x = g.input("input", "float32", [batch, channels, size, size]);
  const out = model(net, x);
  g.output(out.logits, "logits");
  g.output(g.op.Softmax(out.logits, { axis: 1 }), "probs");
  const taps = new Map<string, string>();
  for (const [name, v] of net.taps) {
    const pooled = v.shape.length === 4 ? g.op.Flatten(g.op.GlobalAveragePool(v), { axis: 1 }) : v;
    const o = `tap.${name}`;
    g.output(pooled, o);
    taps.set(name, o);
  }
  return {
    bytes: g.toBytes(),
    specs: net.specs,
    inputs: [...net.params.keys(), ...net.buffers.keys()],
    input: "input",
    logits: "logits",
    probs: "probs",
    taps,
  };
}
