/**
 * The EngineBackend: everything the engine knows about where it trains, resolved once where a study or a trainer
 * starts and passed down — the execution provider, the blocked-channel block of this processor's CPU
 * kernels (found by a probe, once per process), the serialiser's rewrite passes, the backward choices, the
 * loss form and whether the state stays on the device. Nothing below re-probes or re-derives it: GraphNet and
 * the Conv gradient rule ask the conv plan (lib/graph/conv_plan.ts) with `block`, the serialiser applies
 * `passes`, the trainer picks its stepper by `resident`. A new backend (CUDA with its own forms, NHWC, more
 * cores) is one more case of {@linkcode backendFor} and, if it rewrites the graph, one more pass list beside
 * lib/graph/nchwc.ts (docs/engine.md).
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { Graph } from "../graph/graph.ts";
import { createSession } from "../graph/session.ts";
import type { Device } from "../graph/device.ts";
import type { LoweringPass } from "../graph/serialize.ts";
import { cpuPasses } from "../graph/nchwc.ts";
import type { GradOptions } from "../autodiff/rule.ts";

/** Where and how the engine trains: see the module documentation. */
export interface EngineBackend {
  /** onnxruntime execution provider */
  readonly device: Device;
  /**
   * channel block of onnxruntime's blocked-channel CPU kernels the graphs are lowered to (16 with AVX-512,
   * 8 with AVX2), or 0: plain ONNX. The conv plan's one hardware input.
   */
  readonly block: number;
  /** the serialiser's rewrite passes for this provider (`SerializeOptions.passes`) */
  readonly passes: readonly LoweringPass[];
  /** backward formulations for this provider (with `block`, for the conv plan) */
  readonly grad: Readonly<GradOptions>;
  /**
   * "onnx": SoftmaxCrossEntropyLoss over int64 labels. "composed": the same mean cross-entropy from
   * ReduceMax/Exp/ReduceSum/Log over int32 labels (WebGPU has no LogSoftmax or NegativeLogLikelihoodLoss
   * kernel and runs int64 Equal on the CPU).
   */
  readonly loss: "onnx" | "composed";
  /**
   * whether the training state stays on the device between steps (Adam in the graph, WebGPU's resident
   * stepper); else gradients come out and Adam runs on the host (WebAssembly)
   */
  readonly resident: boolean;
}

/**
 * The backend of `device` with channel block `block` (ignored off the CPU). CPU and CUDA: the default
 * backward, the ONNX loss, Adam on the host, and on the CPU the blocked-channel lowering. WebGPU: the
 * window-slice MaxPool backward (its MaxPool has no Indices output), im2col by strided slices (its grouped
 * Conv gave wrong columns), gradient sums as Adds (it has no Sum kernel), the composed loss and in-graph Adam
 * (device-resident state).
 */
export function backendFor(device: Device = "cpu", block = 0): EngineBackend {
  if (device === "webgpu") {
    return {
      device,
      block: 0,
      passes: [],
      grad: { maxPool: "windows", im2col: "slices", sum: "add" },
      loss: "composed",
      resident: true,
    };
  }
  const b = device === "cpu" ? block : 0;
  return {
    device,
    block: b,
    passes: cpuPasses(b),
    grad: b ? { block: b } : {},
    loss: "onnx",
    resident: false,
  };
}

/** Options of {@linkcode resolveBackend}. */
export interface EngineBackendOptions {
  /** execution provider; default "cpu" */
  device?: Device;
  /**
   * cpu: run the convolutions on onnxruntime's blocked-channel kernels where this processor has them
   * (default true). false: the plain kernels, for comparisons.
   */
  nchwc?: boolean;
}

/** The backend a study or trainer with these options trains on: the probe runs here, once per process. */
export async function resolveBackend(o: EngineBackendOptions = {}): Promise<EngineBackend> {
  const device = o.device ?? "cpu";
  return backendFor(device, device === "cpu" && o.nchwc !== false ? await nchwcBlockSize() : 0);
}

let blockProbe: Promise<number> | undefined;

/**
 * The channel block of onnxruntime's blocked-channel CPU convolutions on this processor (16 with AVX-512,
 * 8 with AVX2), or 0 where they are missing or disagree with the plain kernels. Found by running two small
 * Convs (one over a 3-channel image, one over 32 channels) lowered with each candidate block beside the plain
 * ones: a wrong block computes wrong values, never an error, so agreement is the test. Once per process.
 */
export function nchwcBlockSize(): Promise<number> {
  blockProbe ??= (async () => {
    const g = new Graph("nchwc_probe");
    const rnd = (n: number, seed: number) => {
      const a = new Float32Array(n);
      for (let i = 0, s = seed; i < n; i++) a[i] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
      return a;
    };
    const x = g.input("x", "float32", [2, 3, 7, 7]);
    const w1 = g.input("w1", "float32", [32, 3, 3, 3]), w2 = g.input("w2", "float32", [32, 32, 3, 3]);
    const h = g.op.Conv(x, w1, undefined, { pads: [1, 1, 1, 1] });
    g.output(g.op.Conv(h, w2, undefined, { pads: [1, 0, 1, 0], strides: [2, 1] }), "y");
    const feeds = {
      x: new ort.Tensor("float32", rnd(2 * 3 * 49, 1), [2, 3, 7, 7]),
      w1: new ort.Tensor("float32", rnd(32 * 27, 2), [32, 3, 3, 3]),
      w2: new ort.Tensor("float32", rnd(32 * 288, 3), [32, 32, 3, 3]),
    };
    const run = async (block: number) => {
      const s = await createSession(g.toBytes({ passes: cpuPasses(block) }), {
        threads: 1,
        logSeverityLevel: 3,
      });
      try {
        return (await s.run(feeds)).y.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const want = await run(0);
    for (const block of [16, 8]) {
      try {
        const got = await run(block);
        if (got.every((v, i) => Math.abs(v - want[i]) <= 1e-5 * (1 + Math.abs(want[i])))) return block;
      } catch {
        // no blocked kernels in this build or on this processor: try the next size
      }
    }
    return 0;
  })();
  return blockProbe;
}
