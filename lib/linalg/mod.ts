/**
 * Dense float64 linear algebra for the statistics: matrices, symmetric eigendecomposition, thin SVD, and
 * large products through onnxruntime.
 * @module
 */
export { matmul, matmulRowsT, type Matrix, matrix, scaleInPlace, transpose } from "./matrix.ts";
export { type SymEig, symEig, type SymEigOptions, varianceCount } from "./eigh.ts";
export { symEigAsync, type SymEigAsyncOptions } from "./eigh_async.ts";
export { type Svd, svd } from "./svd.ts";
export { onnxMatmulRowsT } from "./onnx.ts";
