/**
 * Assembles the two graphs a run needs from one model definition: the training step (forward in training
 * mode, loss, reverse-mode gradients of every parameter, new BN running statistics) and the evaluation
 * graph (BN in eval mode; softmax probabilities and the spatially pooled activations the CCA reads).
 * @module
 */
import { Graph, type Value } from "../graph/mod.ts";
import { dtypeSize, numel } from "../graph/types.ts";
import { gradients, type GradOptions } from "../autodiff/mod.ts";
import { GraphNet } from "./graph_net.ts";
import type { Net, ParamSpec } from "../models/nn.ts";
import { backendFor, type EngineBackend } from "./backend.ts";
import type { AdamOptions } from "../optim/optimizers.ts";
import { type AdamGraphIo, appendAdam } from "../optim/adam_graph.ts";

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
  /** the backend it was built for (its evaluation graph takes the same) */
  backend: EngineBackend;
  /** every state_dict tensor the graph reads */
  specs: ParamSpec[];
  /** input names of the trainable parameters (their state_dict keys) */
  params: string[];
  /** input names of the buffers (BN running statistics) */
  buffers: string[];
  /** buffer name → output name of its updated value */
  bufferOut: Map<string, string>;
  /**
   * parameter name → output name of its gradient, in the parameter's element order but of any shape (empty
   * when Adam is in the graph)
   */
  gradOut: Map<string, string>;
  /**
   * with gradients out: output name of the [P] vector of each gradient's sum, in `gradOut`'s order. A NaN or
   * ±Infinity entry anywhere makes its sum non-finite, so the host checks P numbers rather than reading every
   * gradient twice (50 ms per ResNet-50 step in TypeScript).
   */
  gradSums?: string;
  /** with in-graph Adam: its inputs (moments, per-step scalars) and outputs (new parameters and moments) */
  adam?: AdamGraphIo;
  /** dropout masks the runtime draws each step: input name, shape and drop probability */
  masks: { name: string; shape: number[]; p: number }[];
  /** input name of the N×C×H×W image batch */
  input: string;
  /** input name of the grade labels */
  labels: string;
  /** element type of the labels input: int64 for the ONNX loss op, int32 for the composed loss */
  labelsType: "int64" | "int32";
  /** output name of the scalar loss */
  loss: string;
  /** output name of the N×classes logits */
  logits: string;
  /**
   * the largest tensor a node of the graph produces (a WebGPU adapter refuses buffers above its
   * `maxBufferSize` / `maxStorageBufferBindingSize`, often 1-4 GiB)
   */
  largest: { name: string; bytes: number };
}

/** The largest value a node of `g` produces: its name and size in bytes. */
export function largestTensor(g: Graph): { name: string; bytes: number } {
  let best = { name: "", bytes: 0 };
  for (const n of g.nodes) {
    for (const v of n.outputs) {
      if (!v) continue;
      const bytes = numel(v.shape) * dtypeSize(v.dtype);
      if (bytes > best.bytes) best = { name: v.name, bytes };
    }
  }
  return best;
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

/** Options of {@linkcode buildTrainGraph}. */
export interface TrainGraphOptions {
  /** weight of the auxiliary classifier's loss (Inception-v3); default 0.4 */
  auxWeight?: number;
  /**
   * where the graph runs (lib/train/backend.ts): the conv plan's block, the serialiser's passes and, unless
   * given below, the backward choices and loss form; default the plain CPU backend (`backendFor("cpu")`)
   */
  backend?: EngineBackend;
  /** backward formulations; default the backend's */
  grad?: GradOptions;
  /** "onnx" or "composed" (`EngineBackend.loss`); default the backend's */
  loss?: "onnx" | "composed";
  /**
   * Appends Adam ({@linkcode appendAdam}): the graph then returns the new parameters and moments instead of
   * the gradients, so the state can stay on the device between steps (a resident backend's stepper).
   */
  adam?: Omit<AdamOptions, "lr">;
}

/**
 * The graph options of a trainer on `backend`: its backward choices and loss form, and on a resident backend
 * in-graph Adam (`adam`, its weight decay).
 */
export function trainGraphOptionsFor(
  backend: EngineBackend,
  o: { auxWeight?: number; adam?: Omit<AdamOptions, "lr"> } = {},
): TrainGraphOptions {
  return {
    auxWeight: o.auxWeight,
    backend,
    grad: { ...backend.grad },
    loss: backend.loss,
    ...(backend.resident ? { adam: o.adam ?? {} } : {}),
  };
}

/**
 * Mean softmax cross-entropy over int32 labels from ops the WebGPU provider has: m + log Σ exp(z − m) − z_y
 * with m the row maximum. m only keeps the exponentials in range; it goes through int32 so that no
 * gradient flows through it (any m gives the same value, and the gradient is then (softmax − onehot)/N).
 */
function composedCrossEntropy(g: Graph, z: Value, labels: Value): Value {
  return g.scope("xent", () => composedCrossEntropyNodes(g, z, labels));
}

function composedCrossEntropyNodes(g: Graph, z: Value, labels: Value): Value {
  const [n, c] = z.shape;
  const classes = g.constant(Array.from({ length: c }, (_, i) => i), "int32", [1, c]);
  const onehot = g.op.Cast(g.op.Equal(g.op.Reshape(labels, [n, 1]), classes), { to: "float32" });
  const mx = g.op.ReduceMax(z, { axes: [1], keepdims: 1 });
  const shift = g.op.Cast(g.op.Cast(mx, { to: "int32" }), { to: "float32" });
  const s = g.op.Sub(z, shift);
  const lse = g.op.Log(g.op.ReduceSum(g.op.Exp(s), [1], { keepdims: 1 }));
  const picked = g.op.ReduceSum(g.op.Mul(s, onehot), [1], { keepdims: 1 });
  return g.op.ReduceMean(g.op.Sub(lse, picked), { keepdims: 0 });
}

/** The backward choices a training graph with these options uses (the conv tuner times the same). */
export function gradOptionsOf(opts: TrainGraphOptions): GradOptions {
  return { ...opts.backend?.grad, ...opts.grad };
}

/**
 * Builds the training step. The loss is the mean softmax cross-entropy of the logits, plus `auxWeight` ×
 * that of the auxiliary logits when the model has them (torchvision's Inception-v3 recipe: 0.4).
 */
export function buildTrainGraph(model: ModelFn, shape: GraphShape, opts: TrainGraphOptions = {}): TrainGraph {
  const g = new Graph("train_step");
  const backend = opts.backend ?? backendFor("cpu");
  const net = new GraphNet(g, { mode: "train", block: backend.block });
  const { batch, size, channels = 3 } = shape;
  const composed = (opts.loss ?? backend.loss) === "composed";
  const labelsType = composed ? "int32" : "int64";
  const x = g.input("input", "float32", [batch, channels, size, size]);
  const labels = g.input("labels", labelsType, [batch]);
  const out = model(net, x);
  const xent = (z: Value) =>
    composed
      ? composedCrossEntropy(g, z, labels)
      : g.op.SoftmaxCrossEntropyLoss(z, labels, { reduction: "mean" });
  let loss = xent(out.logits);
  if (out.aux) {
    const auxLoss = xent(out.aux);
    const w = g.constant(new Float32Array([opts.auxWeight ?? 0.4]), "float32", []);
    loss = g.op.Add(loss, g.op.Mul(auxLoss, w));
  }
  const params = [...net.params.values()];
  const grads = gradients(g, loss, params, gradOptionsOf({ ...opts, backend }));
  g.output(loss, "loss");
  g.output(out.logits, "logits");
  for (const p of params) {
    if (!grads.get(p.name)) throw new Error(`No gradient reaches parameter ${p.name}`);
  }
  const gradOut = new Map<string, string>();
  const adam = opts.adam ? appendAdam(g, params, grads, opts.adam) : undefined;
  let gradSums: string | undefined;
  if (!adam) {
    const sums: Value[] = [];
    for (const p of params) {
      const name = `grad.${p.name}`;
      const gv = unreshaped(g, grads.get(p.name)!);
      sums.push(g.op.Reshape(g.op.ReduceSum(gv, undefined, { keepdims: 0 }), [1]));
      g.output(gv, name);
      gradOut.set(p.name, name);
    }
    gradSums = "grad_sums";
    g.output(sums.length === 1 ? sums[0] : g.op.Concat(sums, { axis: 0 }), gradSums);
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
    bytes: g.toBytes({ passes: backend.passes }),
    backend,
    specs: net.specs,
    params: [...net.params.keys()],
    buffers: [...net.buffers.keys()],
    bufferOut,
    gradOut,
    ...(gradSums ? { gradSums } : {}),
    ...(adam ? { adam } : {}),
    masks,
    input: "input",
    labels: "labels",
    labelsType,
    largest: largestTensor(g),
    loss: "loss",
    logits: "logits",
  };
}

/**
 * Builds the evaluation graph (BN with running statistics, dropout off) for `backend` as in
 * {@linkcode TrainGraphOptions} (default the plain CPU backend).
 */
export function buildEvalGraph(
  model: ModelFn,
  shape: GraphShape,
  opts: { backend?: EngineBackend } = {},
): EvalGraph {
  const g = new Graph("eval");
  const backend = opts.backend ?? backendFor("cpu");
  const net = new GraphNet(g, { mode: "eval", block: backend.block });
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
    bytes: g.toBytes({ passes: backend.passes }),
    specs: net.specs,
    inputs: [...net.params.keys(), ...net.buffers.keys()],
    input: "input",
    logits: "logits",
    probs: "probs",
    taps,
  };
}

/**
 * `v` before the Reshapes that end its computation (same values, same order). A gradient goes out flat — the
 * trainer reads it as a Float32Array — because onnxruntime copies a Reshape whose result is a graph output
 * instead of aliasing it: ResNet-50 at 128², Reshape time 10.1 → 4.4 ms a step.
 */
function unreshaped(g: Graph, v: Value): Value {
  for (let o = g.origin(v); o.kind === "node" && o.node.op === "Reshape"; o = g.origin(v)) {
    v = o.node.inputs[0]!;
  }
  return v;
}
