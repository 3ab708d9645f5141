/**
 * One entry point for weight files: `.safetensors` (torchvision / timm names) or `.onnx` (exported from
 * torchvision with BN kept), checked strictly against a model spec like torch's `load_state_dict`.
 * @module
 */
import type { ParamSpec } from "../models/nn.ts";
import type { ModelSpec } from "../models/registry.ts";
import { readOnnx } from "../graph/read.ts";
import { readBytes } from "../util/fs.ts";
import { importOnnx } from "./onnx_import.ts";
import { decodeSafetensors } from "./safetensors.ts";
import { loadStateDict, type StateDict } from "./state_dict.ts";

/** What {@linkcode loadWeights} returns. */
export interface LoadedWeights {
  /** The tensors, in spec order. */
  state: StateDict;
  /** The file's format. */
  format: "safetensors" | "onnx";
  /** Spec keys the file could not carry and that were filled (ONNX: num_batches_tracked = 0). */
  filled: string[];
  /** Spec keys left out because the file lacks the whole Inception AuxLogits head (start them random). */
  absent: string[];
}

/** Detects the format from the bytes: safetensors' JSON header or an ONNX protobuf. */
export function sniffFormat(bytes: Uint8Array): "safetensors" | "onnx" | "torch" | "unknown" {
  if (bytes.length >= 9 && bytes[8] === 0x7b) return "safetensors";
  if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) return "torch"; // zip: torch.save
  if (bytes.length >= 2 && bytes[0] === 0x80) return "torch"; // legacy pickle
  if (bytes.length >= 2 && bytes[0] === 0x08) return "onnx"; // field 1 (ir_version), varint
  return "unknown";
}

/**
 * Reads a weight file and checks it against `spec`: missing, unexpected and mis-shaped tensors are listed
 * and refused (`strict`, the default). A missing Inception AuxLogits head is tolerated (returned in
 * `absent`); so is num_batches_tracked from ONNX, which never carries it (set to 0, in `filled`).
 *
 * @example
 * ```ts
 * import { loadWeights } from "./load.ts";
 * import { writeSafetensors } from "./safetensors.ts";
 * import { paramSpecs } from "../models/registry.ts";
 * import { randomInit } from "../models/init.ts";
 * const spec = paramSpecs("cbr-small", { inputSize: 32 });
 * const path = `${await Deno.makeTempDir()}/w.safetensors`;
 * await writeSafetensors(path, randomInit(spec, 1));
 * const { state } = await loadWeights(path, spec);
 * if (state.size !== spec.params.length) throw new Error("unexpected");
 * ```
 */
export async function loadWeights(
  path: string,
  spec: ModelSpec | readonly ParamSpec[],
  opts: { strict?: boolean } = {},
): Promise<LoadedWeights> {
  const params = Array.isArray(spec) ? spec as readonly ParamSpec[] : (spec as ModelSpec).params;
  const bytes = await readBytes(path);
  const format = sniffFormat(bytes);
  if (format === "torch") {
    throw new RangeError(
      `${path} is a torch.save pickle, which is not read here: save it with safetensors.torch.save_file(model.state_dict(), 'w.safetensors') or export ONNX`,
    );
  }
  if (format === "unknown") throw new RangeError(`${path} is neither a safetensors nor an ONNX file`);
  if (format === "safetensors") {
    const dict = decodeSafetensors(bytes, path);
    const auxGone = params.some((p) => p.name.startsWith("AuxLogits.")) &&
      ![...dict.keys()].some((k) => k.startsWith("AuxLogits."));
    const absent = auxGone ? params.filter((p) => p.name.startsWith("AuxLogits.")).map((p) => p.name) : [];
    const { state } = loadStateDict(params, dict, {
      strict: opts.strict,
      source: path,
      allowMissing: (k) => absent.includes(k),
    });
    return { state, format, filled: [], absent };
  }
  const imp = importOnnx(readOnnx(bytes, path), params);
  const filled = imp.absent.filter((k) => !k.startsWith("AuxLogits."));
  const absent = imp.absent.filter((k) => k.startsWith("AuxLogits."));
  const { state } = loadStateDict(params, imp.state, {
    strict: opts.strict,
    source: path,
    allowMissing: (k) => absent.includes(k),
  });
  return { state, format, filled, absent };
}
