/**
 * Weight I/O: state dicts and torch-like strict loading, safetensors, `.npy`, ONNX import.
 * @module
 */
export { type LoadReport, loadStateDict, type StateDict, type Tensor } from "./state_dict.ts";
export { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from "./safetensors.ts";
export { importOnnx, importOnnxFile, KEEP_BN_EXPORT, type OnnxImport } from "./onnx_import.ts";
export { type LoadedWeights, loadWeights, sniffFormat } from "./load.ts";
