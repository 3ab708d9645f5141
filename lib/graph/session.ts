/**
 * onnxruntime-node session creation for compiled graphs, on the CPU, WebGPU or CUDA execution provider,
 * with one-line errors that say what a missing provider needs.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type DType, fmtShape, numel, type TensorData, type Value } from "./types.ts";
import { Graph } from "./graph.ts";
import type { Device } from "./device.ts";

/** An onnxruntime-node inference session. */
export type Session = ort.InferenceSession;
/** An onnxruntime-node tensor. */
export type OrtTensor = ort.Tensor;

/** Session options. */
export interface SessionOptions {
  /** Execution provider (default "cpu"). */
  device?: Device;
  /** Intra-op threads (default: onnxruntime's choice, all cores). */
  threads?: number;
  /** Graph optimisation level (default "all"; it never changed a gradient in the measurements). */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /**
   * Where outputs are returned (webgpu only; default "cpu"): "gpu-buffer" keeps them on the device, as
   * tensors that can be fed to the next run of this or another session of the process, or a map from output
   * name to location. A gpu-buffer tensor must not be read with `getData()` (it aborts the process in
   * onnxruntime-node 1.30): download it with {@linkcode downloadSession}.
   */
  outputLocation?: OutputLocation | Readonly<Record<string, OutputLocation>>;
  /** onnxruntime's log level for this session (0 = verbose … 4 = fatal; default onnxruntime's, warnings) */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * webgpu: the layout its convolutions and pools run in. "NHWC" (onnxruntime's default) inserts layout
   * Transposes around them; "NCHW" needs none (CBR-Small's resident step on lavapipe: 745 instead of 813
   * dispatches), with kernels whose speed only a GPU can tell (bench/gpu.ts measures both)
   */
  layout?: "NHWC" | "NCHW";
}

/** Where a session leaves an output: host memory or a buffer of the WebGPU device. */
export type OutputLocation = "cpu" | "gpu-buffer";

const INSTALL_HINT = "run `deno install --allow-scripts=npm:onnxruntime-node@1.30.0` with internet access " +
  "(onnxruntime-node's install script downloads the CUDA 12 provider from NuGet; Deno skips it by default) " +
  "and install the CUDA 12 runtime and cuDNN 9";

/** The folder holding onnxruntime-node's native libraries, or undefined if it cannot be located. */
function ortBinDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const main = req.resolve("onnxruntime-node");
    // main is <pkg>/dist/index.js; binaries live in <pkg>/bin/napi-v6/<platform>/<arch>.
    return join(dirname(dirname(main)), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/**
 * Creates an inference session for a serialised model. On "cuda" or "webgpu" a failure becomes a one-line
 * error naming what is missing (the CUDA provider libraries, or a WebGPU adapter, i.e. a Vulkan driver).
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
import type { Device } from "./device.ts";
 * import { createSession } from "./session.ts";
 * const g = new Graph();
 * g.output(g.op.Relu(g.input("x", "float32", [3])), "y");
 * const s = await createSession(g.toBytes(), { threads: 1 });
 * await s.release();
 * ```
 */
export async function createSession(
  model: Uint8Array,
  opts: SessionOptions = {},
): Promise<Session> {
  const device = opts.device ?? "cpu";
  if (!["cpu", "webgpu", "cuda"].includes(device)) {
    throw new RangeError(`Device must be cpu, webgpu or cuda, got '${device}'`);
  }
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new RangeError(`Threads must be a positive integer, got ${opts.threads}`);
  }
  const locations = typeof opts.outputLocation === "string"
    ? [opts.outputLocation]
    : Object.values(opts.outputLocation ?? {});
  for (const l of locations) {
    if (l !== "cpu" && l !== "gpu-buffer") {
      throw new RangeError(`Output location must be cpu or gpu-buffer, got '${l}'`);
    }
  }
  if (device !== "webgpu" && locations.includes("gpu-buffer")) {
    throw new RangeError(`Output location 'gpu-buffer' needs device webgpu, got '${device}'`);
  }
  if (device === "cuda") {
    const backend = ort.listSupportedBackends?.().find((b) => b.name === "cuda");
    const dir = ortBinDir();
    const lib = dir && join(dir, "libonnxruntime_providers_cuda.so");
    if (process.platform === "linux" && lib && !existsSync(lib)) {
      throw new Error(`CUDA provider is not installed: ${lib} is missing; ${INSTALL_HINT}`);
    }
    if (backend === undefined) {
      throw new Error(`CUDA provider is not available on ${process.platform}/${process.arch}`);
    }
  }
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [
      device === "webgpu" && opts.layout
        ? { name: "webgpu", preferredLayout: opts.layout } as ort.InferenceSession.ExecutionProviderConfig
        : device,
    ],
    graphOptimizationLevel: opts.optimization ?? "all",
    interOpNumThreads: 1,
    executionMode: "sequential",
    // The memory pattern plans one block per run from the first run's allocations; for training graphs it
    // held ~35 % more than the arena alone (ResNet-50 N=16 128²: 1.93 → 1.28 GiB peak RSS) at equal speed.
    enableMemPattern: false,
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...(opts.outputLocation ? { preferredOutputLocation: opts.outputLocation } : {}),
    ...(opts.logSeverityLevel !== undefined ? { logSeverityLevel: opts.logSeverityLevel } : {}),
  };
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    if (device === "webgpu" && /adapter|webgpu|dawn|vulkan/i.test(msg)) {
      throw new Error(
        `WebGPU provider has no GPU adapter (${msg}): it needs a GPU with a Vulkan driver (e.g. the NVIDIA driver or mesa-vulkan-drivers)`,
      );
    }
    if (device === "cuda" && /shared library|libcu|cudnn|cublas|\.so/i.test(msg)) {
      throw new Error(`CUDA provider could not load its libraries (${msg}); ${INSTALL_HINT}`);
    }
    throw new Error(`Cannot create an onnxruntime session on ${device}: ${msg}`);
  }
}

/** Wraps `data` (no copy) as an onnxruntime tensor for feeding value `v`; checks dtype and length. */
export function feedTensor(v: Value, data: TensorData): OrtTensor {
  const want = numel(v.shape);
  if (data.length !== want) {
    throw new RangeError(
      `Feed '${v.name}': data has ${data.length} elements but shape ${fmtShape(v.shape)} needs ${want}`,
    );
  }
  return new ort.Tensor(v.dtype as Exclude<DType, "float64"> | "float64", data as Float32Array, [...v.shape]);
}

/** Copies device-resident float32 tensors to host memory (see {@linkcode createDownloader}). */
export interface Downloader {
  /** Runs the copy: every tensor the downloader was made for, by name, in; fresh host arrays out. */
  run(tensors: Readonly<Record<string, OrtTensor>>): Promise<Map<string, Float32Array>>;
  /** Frees the session. */
  release(): Promise<void>;
}

/**
 * A session that copies the named float32 tensors (gpu-buffer tensors of the same process, or host ones)
 * to host memory. `getData()` on a gpu-buffer tensor aborts the process in onnxruntime-node 1.30; a session
 * whose outputs stay on the CPU is the way down. Each output is Neg(Neg(x)), which is exact: an Identity
 * may be optimised away, leaving the output on the device. The tensors stay usable afterwards.
 */
export async function createDownloader(
  tensors: readonly { name: string; shape: readonly number[] }[],
  opts: { device?: Device; threads?: number } = {},
): Promise<Downloader> {
  const g = new Graph("download");
  for (const t of tensors) {
    g.output(g.op.Neg(g.op.Neg(g.input(t.name, "float32", t.shape))), `host.${t.name}`);
  }
  const session = await createSession(g.toBytes(), {
    device: opts.device ?? "webgpu",
    threads: opts.threads,
  });
  return {
    async run(feeds) {
      const out = await session.run(feeds);
      return new Map(tensors.map((t) => [t.name, out[`host.${t.name}`].data as Float32Array]));
    },
    release: () => session.release(),
  };
}

/** The onnxruntime-node module this project pins (for tensor and session types). */
export { ort };
