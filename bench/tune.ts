/**
 * The tool that measures the conv plan's table (lib/graph/conv_plan.ts `CONV_LIMITS`): for every distinct conv
 * shape of a model's training graph, the equivalent dX and dW formulations ({@linkcode convCandidates}) are timed
 * on one-conv graphs with the trainer's thread count and backend, alternately over several rounds, and the
 * fastest is kept (like cuDNN's benchmark mode). Timings are cached in a JSON file keyed by the conv's shape
 * signature, threads, device and lowering. A table of choices trains through `TrainerOptions.convChoice`
 * ({@linkcode convChoiceHook}); bench/tune_ab.ts steps it against the fixed rules, bench/train.ts can time a
 * step with it. Studies train with the plan's fixed rules only: the measured choices were no faster with the
 * lowering (ResNet-50 at 128², fixed/tuned step time 0.97: bench/results/history.md, "formulation each layer class
 * gets").
 *
 * Usage: deno run -A bench/tune.ts MODEL [--batch 16] [--size 64] [--threads 2] [--rounds 7]
 * prints each conv's timings, the fastest formulation and the plan's default.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createSession, Graph } from "../lib/graph/mod.ts";
import { GRAD_RULES, type GradOptions } from "../lib/autodiff/mod.ts";
import { convCandidates, type ConvChoice, type ConvSignature } from "../lib/graph/conv_plan.ts";
import { LOWERING_REVISION } from "../lib/graph/nchwc.ts";
import { backendFor, type EngineBackend, resolveBackend } from "../lib/train/backend.ts";
import type { Node, Value } from "../lib/graph/types.ts";
import { buildTrainGraph, type GraphShape, type ModelFn } from "../lib/train/step.ts";
import { exists, readJson, writeJsonAtomic } from "../lib/util/fs.ts";
import { parseArgs } from "node:util";
import { getModel } from "../lib/models/registry.ts";

/** Time one conv part's timing rounds may take, roughly (ms): fewer rounds where one run is slow. */
const TUNE_BUDGET_MS = 10_000;

/** Measured choices: conv signature key ({@linkcode convKey}) → formulation. */
export type ConvChoices = Record<string, ConvChoice>;

/** The cache file's content. */
export interface ConvTuneFile {
  /** format version */
  version: 1;
  /** per "threads/device" context: signature key → the choice and each candidate's fastest ms */
  contexts: Record<string, Record<string, { choice: ConvChoice; ms: Record<string, number> }>>;
}

/** Options of {@linkcode tuneConvs}. */
export interface TuneOptions {
  /** onnxruntime intra-op threads (the trainer's) */
  threads?: number;
  /** timed runs of each candidate, alternating between candidates; default 7 */
  rounds?: number;
  /**
   * the trainer's backend (its device, lowering passes and other backward choices; the tuner adds only the
   * conv choice); default the plain CPU backend
   */
  backend?: EngineBackend;
}

/** A stable text key of a conv's shape: `x64,32,14,14 w64,32,7,7 s1,1 p3,3,3,3 float32`. */
export function convKey(sig: ConvSignature): string {
  return `x${sig.x.join(",")} w${sig.w.join(",")} s${sig.s.join(",")} p${sig.p.join(",")} ${sig.dtype}`;
}

/** The distinct conv signatures of `model`'s training graph at `shape`, in graph order. */
export function convSignatures(
  model: ModelFn,
  shape: GraphShape,
  backend: EngineBackend = backendFor("cpu"),
): ConvSignature[] {
  const seen = new Map<string, ConvSignature>();
  // the forward as the plain graph writes it (every conv a Conv node, none dense or swapped): as measured
  // before the conv plan, so that recorded tables keep their keys
  buildTrainGraph(model, shape, {
    grad: {
      ...backend.grad,
      convChoice: (sig) => {
        // a shape seen both with and without a needed dX keeps the one that needs it
        const key = convKey(sig), prev = seen.get(key);
        if (!prev || prev.needsDx === false) seen.set(key, sig);
        return undefined;
      },
    },
  });
  return [...seen.values()];
}

/** A GradOptions.convChoice hook that looks `choices` up by signature (unknown shapes: the default rules). */
export function convChoiceHook(choices: ConvChoices): (sig: ConvSignature) => ConvChoice | undefined {
  return (sig) => choices[convKey(sig)];
}

/** Pseudo-random values in [-0.5, 0.5): timing inputs (a constant input would hide denormal costs). */
function noise(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0, s = seed >>> 0 || 1; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/**
 * A graph of one conv's backward alone under `choice`: inputs x, w and r (as dY), output the gradient of
 * `wrt` ("x" or "w") from the Conv rule. The forward Conv lives in a scratch graph: onnxruntime runs even an
 * unused node, and its time would blur the difference between formulations.
 */
export function convGradGraph(
  sig: ConvSignature,
  wrt: "x" | "w",
  choice: ConvChoice,
  backend: EngineBackend = backendFor("cpu"),
): { bytes: Uint8Array; dyShape: number[] } {
  const grad: GradOptions = backend.grad;
  const dt = sig.dtype as "float32";
  const scratch = new Graph("conv_forward");
  const y = scratch.op.Conv(
    scratch.input("x", dt, [...sig.x]),
    scratch.input("w", dt, [...sig.w]),
    undefined,
    {
      strides: [...sig.s],
      pads: [...sig.p],
    },
  );
  const node = scratch.nodes[scratch.nodes.length - 1] as Node<"Conv">;
  const g = new Graph("conv_grad");
  const x = g.input("x", dt, [...sig.x]), w = g.input("w", dt, [...sig.w]);
  const r = g.input("r", dt, [...y.shape]);
  const got = GRAD_RULES.Conv({
    g,
    node,
    attrs: node.attrs,
    x: [x, w],
    y: [y],
    dy: [r],
    dout: r,
    needs: [wrt === "x", wrt === "w"],
    options: { ...grad, convChoice: () => choice },
  });
  g.output(got[wrt === "x" ? 0 : 1] as Value, "grad");
  return { bytes: g.toBytes({ passes: backend.passes }), dyShape: [...y.shape] };
}

/**
 * Times each applicable formulation of one conv's dX and dW (the fastest of `rounds` alternating runs of the
 * one-conv backward graph after one warm-up: on a shared machine the least-disturbed run is the steadiest
 * estimate) and returns the fastest pair with the timings.
 */
export async function timeConv(
  sig: ConvSignature,
  opts: TuneOptions = {},
): Promise<{ choice: ConvChoice; ms: Record<string, number> }> {
  const rounds = opts.rounds ?? 7;
  const cands = convCandidates(sig);
  const choice: ConvChoice = {};
  const ms: Record<string, number> = {};
  const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  for (const part of ["dx", "dw"] as const) {
    const forms = cands[part];
    if (part === "dx" && sig.needsDx === false) continue; // nothing to choose: dX is never built
    if (forms.length < 2) {
      choice[part] = forms[0] as never;
      continue;
    }
    const sessions = [];
    let feeds: Record<string, ort.Tensor> = {};
    for (const f of forms) {
      const { bytes, dyShape } = convGradGraph(sig, part === "dx" ? "x" : "w", { [part]: f }, opts.backend);
      feeds = {
        x: new ort.Tensor("float32", noise(numel(sig.x), 1), [...sig.x]),
        w: new ort.Tensor("float32", noise(numel(sig.w), 2), [...sig.w]),
        r: new ort.Tensor("float32", noise(numel(dyShape), 3), dyShape),
      };
      sessions.push(await createSession(bytes, { threads: opts.threads, device: opts.backend?.device }));
    }
    try {
      const times: number[][] = forms.map(() => []);
      let last = rounds, warm = 0;
      for (let r = 0; r <= last; r++) {
        // alternate the order round by round so that a load change hits every candidate alike
        const order = forms.map((_, i) => (r % 2 ? forms.length - 1 - i : i));
        for (const i of order) {
          const t = performance.now();
          await sessions[i].run(feeds);
          if (r > 0) times[i].push(performance.now() - t);
          else warm += performance.now() - t;
        }
        // large images: about 10 s per conv part, but at least 2 timed rounds (or `rounds` if fewer)
        if (r === 0) last = Math.min(rounds, Math.max(2, Math.floor(TUNE_BUDGET_MS / warm)));
      }
      let best = 0;
      forms.forEach((f, i) => {
        ms[`${part}:${f}`] = Math.min(...times[i]);
        if (ms[`${part}:${f}`] < ms[`${part}:${forms[best]}`]) best = i;
      });
      choice[part] = forms[best] as never;
    } finally {
      for (const s of sessions) await s.release();
    }
  }
  return { choice, ms };
}

/** The cache file's context key: the thread count, device and conv lowering the timings hold for. */
export function tuneContext(opts: TuneOptions): string {
  const b = opts.backend?.block;
  const block = b ? ` nchwc=${b} r${LOWERING_REVISION}` : "";
  return `threads=${opts.threads ?? "default"} device=${opts.backend?.device ?? "cpu"}${block}`;
}

/**
 * The measured choices for every conv of `model` at `shape`: read from the cache file `path` where it has
 * them for this thread count and device, measured ({@linkcode timeConv}) and added to it (atomically) where
 * not. `path` undefined: measure without caching.
 */
export async function tuneConvs(
  model: ModelFn,
  shape: GraphShape,
  path: string | undefined,
  opts: TuneOptions = {},
): Promise<ConvChoices> {
  const sigs = convSignatures(model, shape, opts.backend);
  let file: ConvTuneFile = { version: 1, contexts: {} };
  if (path && await exists(path)) {
    file = await readJson<ConvTuneFile>(path);
    if (file.version !== 1 || typeof file.contexts !== "object") {
      throw new TypeError(`Conv tuning cache ${path}: not a version-1 table`);
    }
  }
  const ctx = tuneContext(opts);
  const table = file.contexts[ctx] ??= {};
  let added = false;
  const choices: ConvChoices = {};
  for (const sig of sigs) {
    const key = convKey(sig);
    if (!table[key]) {
      table[key] = await timeConv(sig, opts);
      added = true;
    }
    choices[key] = table[key].choice;
  }
  if (path && added) await writeJsonAtomic(path, file);
  return choices;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      batch: { type: "string", default: "16" },
      size: { type: "string", default: "64" },
      threads: { type: "string", default: "2" },
      rounds: { type: "string", default: "7" },
    },
  });
  const name = positionals[0] ?? "cbr_small";
  const def = getModel(name);
  const mopts = { classes: 5, aux: false, transformInput: def.transformInput };
  const model: ModelFn = (net, x) => def.build(net, x, mopts);
  const shape = { batch: Number(values.batch), size: Number(values.size) };
  const opts: TuneOptions = {
    threads: Number(values.threads),
    rounds: Number(values.rounds),
    backend: await resolveBackend(),
  };
  for (const sig of convSignatures(model, shape, opts.backend)) {
    const { choice, ms } = await timeConv(sig, opts);
    const cands = convCandidates(sig);
    const times = Object.entries(ms).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
    console.log(
      `${convKey(sig)}: fastest ${choice.dx ?? "-"}/${choice.dw}, plan ${
        sig.needsDx === false ? "-" : cands.dx[0]
      }/${cands.dw[0]} (ms: ${times})`,
    );
  }
}
