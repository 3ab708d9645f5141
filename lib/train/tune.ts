/**
 * Measured choice of each convolution's backward formulation (like cuDNN's benchmark mode): for every distinct
 * conv shape of a training graph, the equivalent dX and dW formulations (lib/autodiff/rules/conv.ts,
 * {@linkcode ConvChoice}) are timed on one-conv graphs with the trainer's thread count and device, alternately
 * over several rounds, and the fastest is kept. The table is cached in a JSON file keyed by the
 * conv's shape signature, threads and device, so a run measures once and reruns (and resumed runs) reuse the
 * same choices: the choice changes the float summation order, so bit-identical reruns need the same table.
 * Without a table the Conv rule's default formulations apply.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { createSession, Graph } from "../graph/mod.ts";
import { GRAD_RULES, type GradOptions } from "../autodiff/mod.ts";
import {
  CONV_LIMITS,
  type ConvChoice,
  convForm,
  type ConvSignature,
  defaultDx,
  dxForms,
} from "../graph/conv_plan.ts";
import { LOWERING_REVISION } from "../graph/nchwc.ts";
import { backendFor, type EngineBackend } from "./backend.ts";
import type { Node, Value } from "../graph/types.ts";
import { buildTrainGraph, type GraphShape, type ModelFn } from "./step.ts";
import { join } from "node:path";
import { exists, readJson, writeJsonAtomic } from "../util/fs.ts";

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

/**
 * The dX and dW formulations that apply to a conv of this shape (the first of each: the default rule's,
 * without the blocked-channel lowering, which makes "conv" the default dW where it applies).
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

/** File name of a run folder's recorded conv choices ({@linkcode runConvChoices}). */
export const RUN_CHOICES_FILE = "conv_choices.json";

/**
 * The conv choices of the run in folder `dir`: those recorded in `dir`/conv_choices.json when it exists (a
 * resumed run keeps its first session's choices, whatever the machine measures now, so that it stays
 * bit-identical to an uninterrupted run), else measured ({@linkcode tuneConvs}, through the shared cache
 * `cache` when given) and recorded there atomically. `resuming` (a checkpoint exists but no recorded choices:
 * the run began with the fixed rules) records and returns no choices, which keeps the fixed rules.
 */
export async function runConvChoices(
  dir: string,
  model: ModelFn,
  shape: GraphShape,
  opts: TuneOptions & { cache?: string; resuming?: boolean } = {},
): Promise<ConvChoices> {
  const path = join(dir, RUN_CHOICES_FILE);
  if (await exists(path)) {
    const got = await readJson<{ choices?: ConvChoices }>(path);
    if (typeof got.choices !== "object" || got.choices === null) {
      throw new TypeError(`${path}: no 'choices' object`);
    }
    return got.choices;
  }
  // a run begun without measured choices resumes with the fixed rules it started with
  const choices = opts.resuming ? {} : await tuneConvs(model, shape, opts.cache, opts);
  await writeJsonAtomic(path, { context: tuneContext(opts), choices });
  return choices;
}
