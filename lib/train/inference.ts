/**
 * The standalone ONNX inference model of a registered network — what `export` writes and `predict` runs:
 * the training engine's own graph ({@linkcode GraphNet}) in evaluation mode (BN with running statistics,
 * dropout off), serialised with a symbolic batch axis. Parameters are either embedded as initializers (a
 * self-contained file onnxruntime in any language can run) or left as graph inputs named by their
 * state_dict keys (fed per run).
 * @module
 */
import { Graph } from "../graph/graph.ts";
import { serializeGraph } from "../graph/serialize.ts";
import type { StateDict } from "../models/nn.ts";
import { getModel, paramSpecs, type SpecOptions } from "../models/registry.ts";
import { GraphNet } from "./graph_net.ts";

/** Options of {@linkcode inferenceModel}. */
export interface InferenceOptions extends SpecOptions {
  /** Embed these weights as initializers; without, every float tensor is a graph input named by its key. */
  state?: StateDict;
  /** Also output each tapped activation as "tap:<name>". */
  taps?: boolean;
  /** Also output Inception's aux logits as "aux" (torchvision computes them in training mode only). */
  auxOutput?: boolean;
  /** Declare the batch axis as the symbolic "N" (default true) instead of `batch`. */
  dynamicBatch?: boolean;
}

/**
 * Builds the evaluation-mode ONNX model (opset 17) of a registered network: input "input"
 * (N×3×H×W float32, already normalised), output "logits" (N×classes). The state_dict's int64
 * `num_batches_tracked` entries are not used in evaluation and are left out of the graph.
 *
 * @example
 * ```ts
 * import { inferenceModel } from "./inference.ts";
 * const bytes = inferenceModel("cbr-small", { inputSize: 32 });
 * if (bytes.length < 100) throw new Error("unexpected");
 * ```
 */
export function inferenceModel(model: string, opts: InferenceOptions = {}): Uint8Array {
  const spec = paramSpecs(model, opts);
  const g = new Graph(spec.model);
  const net = new GraphNet(g, { mode: "eval", specs: spec.params, weights: opts.state });
  const x = g.input("input", "float32", spec.inputShape);
  const out = getModel(model).build(net, x, {
    classes: spec.classes,
    aux: spec.aux,
    transformInput: spec.transformInput,
  });
  g.output(out.logits, "logits");
  if (opts.auxOutput) {
    if (!out.aux) throw new RangeError(`Model ${model} has no aux head to output`);
    g.output(out.aux, "aux");
  }
  if (opts.taps) { for (const [name, v] of net.taps) g.output(v, `tap:${name}`); }
  const batched = ["input", ...g.outputs.map((v) => v.name)];
  return serializeGraph(g, 17, { dynamicBatch: (opts.dynamicBatch ?? true) ? batched : [] });
}
