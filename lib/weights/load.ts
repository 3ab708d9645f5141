/**
 * One entry point for weight files: `.safetensors` (torchvision / timm names) or `.onnx` (exported from
 * torchvision with BN kept), checked strictly against a model spec like torch's `load_state_dict`.
 * @module
 */
import type { ParamSpec } from "../models/nn.ts";
import { MODELS, type ModelSpec, paramSpecs } from "../models/registry.ts";
import { readOnnx } from "../graph/read.ts";
import { readBytes } from "../util/fs.ts";
import {
  checkFoldedBatchNorm,
  checkTransformInput,
  exportedTransformInput,
  importOnnx,
  withIdentityAliases,
} from "./onnx_import.ts";
import { decodeSafetensors } from "./safetensors.ts";
import { loadStateDict, type StateDict } from "./state_dict.ts";
import { assertFiniteTensors } from "../train/finite.ts";

/** What a weights file with NaN or ±Infinity asks of its user. */
const NON_FINITE_ADVICE = "such weights make every loss NaN: re-export or re-download the file";

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
  /** Inception-v3 from ONNX: the export's `transform_input`, read from its graph (equal to the spec's). */
  transformInput?: boolean;
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
 * Below this share of the model's tensor names found in a file, the file is taken for another
 * architecture: a head swap or a missing aux head leaves most names in place, another network almost none.
 */
const SAME_ARCHITECTURE = 0.5;

/**
 * The registered model whose tensors overlap the file's most (Jaccard over names with equal shapes; the
 * head's shape depends on the class count, so its name alone counts), with its count of matches.
 */
function bestMatch(
  tensors: ReadonlyMap<string, readonly number[]>,
): { model: string; matched: number; of: number } | null {
  let best: { model: string; matched: number; of: number; score: number } | null = null;
  for (const name of Object.keys(MODELS)) {
    let spec: ModelSpec;
    try {
      spec = paramSpecs(name, { inputSize: MODELS[name].inputSize });
    } catch {
      continue;
    }
    const keys = spec.params.filter((p) => p.dtype === "float32");
    const matched = keys.filter((k) => {
      const got = tensors.get(k.name);
      return got !== undefined && (spec.head.includes(k.name) || `${got}` === `${k.shape}`);
    }).length;
    const score = matched / (keys.length + tensors.size - matched);
    if (matched > 0 && (!best || score > best.score)) best = { model: name, matched, of: keys.length, score };
  }
  return best && { model: best.model, matched: best.matched, of: best.of };
}

/**
 * Throws when a file's tensor names show another network than the spec's: said before any shape
 * mismatch, which would otherwise name one tensor (fc.weight [5,256] ≠ [5,2048]) and hide the cause.
 * A file whose names are empty or unrelated to every registered model (an ONNX export that lost its names) passes.
 */
export function checkArchitecture(
  path: string,
  params: readonly ParamSpec[],
  tensors: ReadonlyMap<string, readonly number[]>,
  model = "the model",
): void {
  const want = params.filter((p) => p.dtype === "float32" && !p.name.startsWith("AuxLogits."));
  const matched = want.filter((p) => tensors.has(p.name)).length;
  if (want.length === 0 || matched >= SAME_ARCHITECTURE * want.length) return;
  const best = bestMatch(tensors);
  if (matched === 0 && !best) return;
  const whose = model === "the model" ? "the model's" : `${model}'s`;
  const like = best && best.model !== model
    ? `; it best matches ${best.model} (${best.matched} of its ${best.of} names)`
    : "";
  throw new RangeError(
    `${path} holds another architecture than ${model}: only ${matched} of ${whose} ${want.length} tensor names are in it${like}`,
  );
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
  const model = Array.isArray(spec) ? undefined : (spec as ModelSpec).model;
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
    checkArchitecture(path, params, new Map([...dict].map(([k, t]) => [k, t.shape])), model);
    const auxGone = params.some((p) => p.name.startsWith("AuxLogits.")) &&
      ![...dict.keys()].some((k) => k.startsWith("AuxLogits."));
    const absent = auxGone ? params.filter((p) => p.name.startsWith("AuxLogits.")).map((p) => p.name) : [];
    const { state } = loadStateDict(params, dict, {
      strict: opts.strict,
      source: path,
      allowMissing: (k) => absent.includes(k),
    });
    assertFiniteTensors(path, state, NON_FINITE_ADVICE);
    return { state, format, filled: [], absent };
  }
  // in this order: the names torch de-duplicated count as present, and a folded-BN export (whose conv
  // weights lost their names) is called that rather than another architecture
  const onnx = withIdentityAliases(readOnnx(bytes, path));
  checkFoldedBatchNorm(onnx, params, path);
  checkArchitecture(path, params, new Map([...onnx.initializers].map(([k, t]) => [k, t.dims])), model);
  // a state dict cannot say how the input was scaled; an export's graph can, and must agree
  let transformInput: boolean | undefined;
  if (model === "inception_v3") {
    checkTransformInput(onnx, (spec as ModelSpec).transformInput, path);
    transformInput = exportedTransformInput(onnx)!;
  }
  const imp = importOnnx(onnx, params);
  const filled = imp.absent.filter((k) => !k.startsWith("AuxLogits."));
  const absent = imp.absent.filter((k) => k.startsWith("AuxLogits."));
  const { state } = loadStateDict(params, imp.state, {
    strict: opts.strict,
    source: path,
    allowMissing: (k) => absent.includes(k),
  });
  assertFiniteTensors(path, state, NON_FINITE_ADVICE);
  return { state, format, filled, absent, ...(transformInput === undefined ? {} : { transformInput }) };
}
