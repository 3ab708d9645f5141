/**
 * The exhaustive gradient-rule registry: one entry per {@linkcode OpKind}, so adding an op to the builder
 * without deciding its gradient is a compile error.
 * @module
 */
import type { OpKind } from "../graph/types.ts";
import type { GradRule } from "./rule.ts";
import { convRule } from "./rules/conv.ts";
import { averagePoolRule, globalAveragePoolRule, maxPoolRule } from "./rules/pool.ts";
import { batchNormRule } from "./rules/norm.ts";
import {
  addRule,
  divRule,
  expRule,
  logRule,
  mulRule,
  negRule,
  reciprocalRule,
  reluRule,
  sqrtRule,
  subRule,
  sumRule,
  whereRule,
} from "./rules/elementwise.ts";
import {
  concatRule,
  expandRule,
  flattenRule,
  identityRule,
  reshapeRule,
  splitRule,
  transposeRule,
} from "./rules/shape.ts";
import { gemmRule, matMulRule } from "./rules/linalg.ts";
import { logSoftmaxRule, softmaxCrossEntropyRule, softmaxRule } from "./rules/loss.ts";
import { reduceMeanRule, reduceSumRule, reduceSumSquareRule } from "./rules/reduce.ts";
import { isNoGradient, noGradient } from "./rules/none.ts";

/** Gradient rule per operator. */
export const GRAD_RULES: { readonly [K in OpKind]: GradRule<K> } = {
  Conv: convRule,
  BatchNormalization: batchNormRule,
  Relu: reluRule,
  MaxPool: maxPoolRule,
  AveragePool: averagePoolRule,
  GlobalAveragePool: globalAveragePoolRule,
  Concat: concatRule,
  Split: splitRule,
  Add: addRule,
  Sub: subRule,
  Mul: mulRule,
  Div: divRule,
  Neg: negRule,
  Sqrt: sqrtRule,
  Reciprocal: reciprocalRule,
  Exp: expRule,
  Log: logRule,
  Sum: sumRule,
  Identity: identityRule,
  Flatten: flattenRule,
  Reshape: reshapeRule,
  Transpose: transposeRule,
  Expand: expandRule,
  Gemm: gemmRule,
  MatMul: matMulRule,
  Softmax: softmaxRule,
  LogSoftmax: logSoftmaxRule,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropyRule,
  ReduceMean: reduceMeanRule,
  ReduceSum: reduceSumRule,
  ReduceSumSquare: reduceSumSquareRule,
  Where: whereRule,
  ConvTranspose: noGradient("used by backward graphs only"),
  Slice: noGradient("used by backward graphs only"),
  ReduceMax: noGradient("not differentiable here"),
  ScatterElements: noGradient("used by backward graphs only"),
  ConstantOfShape: noGradient("has no float inputs"),
  Greater: noGradient("boolean output"),
  Equal: noGradient("boolean output"),
  Cast: noGradient("a cast has no gradient rule"),
};

/** The ops whose rule builds real gradients: derived from the registry (the rest are {@linkcode noGradient}). */
export const DIFFERENTIABLE_OPS: readonly OpKind[] = (Object.keys(GRAD_RULES) as OpKind[]).filter(
  (k) => !isNoGradient(GRAD_RULES[k]),
);
