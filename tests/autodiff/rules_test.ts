/**
 * Every gradient rule against central finite differences (see fd_util.ts for the method).
 *
 * How each op is checked: onnxruntime's CPU provider has no float64 kernels for Conv, ConvTranspose,
 * AveragePool and GlobalAveragePool, so those run in float32 with ε = 1 along random directions: the loss
 * is linear in the one input perturbed at a time, so the central difference has no truncation error and
 * the only error is float32 rounding of y (relative ~1e-7 per element, summed in float64), far below the
 * 1e-4 tolerance. Everything else runs wholly in float64 with ε = 1e-4 (truncation ~ε² ≈ 1e-8, rounding
 * ~1e-12) against a 1e-6 tolerance; Relu and MaxPool inputs are a
 * shuffled grid 0.05 apart, so no kink or tie lies within ε·|v|.
 */
import assert from "node:assert/strict";
import { checkGradients, type FdCase } from "./fd_util.ts";
import { batchNormTraining } from "../../lib/graph/batchnorm.ts";
import type { OpAttrs } from "../../lib/graph/types.ts";

const F32 = { dtype: "float32", eps: 1, rtol: 1e-4 } as const;
const F64 = { dtype: "float64", eps: 1e-4, rtol: 1e-6 } as const;

async function check(c: FdCase) {
  const r = await checkGradients(c);
  assert.ok(r.checks > 0, `${c.name}: nothing was checked`);
}

const convCases: [string, number[], number[], OpAttrs["Conv"], boolean?][] = [
  // name, x shape, w shape, attrs, bias
  ["1x1 s1", [2, 3, 5, 5], [4, 3, 1, 1], {}, true],
  ["1x1 s1 N=1", [1, 3, 5, 5], [4, 3, 1, 1], {}],
  ["1x1 s2 odd", [2, 3, 7, 7], [4, 3, 1, 1], { strides: [2, 2] }],
  ["1x1 s1 pad1 (ConvTranspose path)", [2, 3, 4, 4], [2, 3, 1, 1], { pads: [1, 1, 1, 1] }],
  ["3x3 s1 p1", [2, 3, 6, 6], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, true],
  ["3x3 s1 p0", [2, 3, 6, 6], [4, 3, 3, 3], {}],
  ["3x3 s1 p2", [1, 2, 4, 4], [3, 2, 3, 3], { pads: [2, 2, 2, 2] }],
  ["3x3 s2 p1 odd", [2, 3, 7, 7], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ["3x3 s2 p1 even", [2, 3, 8, 8], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ["3x3 s2 p0", [2, 3, 9, 9], [4, 3, 3, 3], { strides: [2, 2] }],
  ["3x3 s2 p1 N=1", [1, 3, 7, 7], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ["5x5 s1 p2", [2, 2, 7, 7], [3, 2, 5, 5], { pads: [2, 2, 2, 2] }, true],
  ["5x5 s1 p0", [2, 2, 7, 7], [3, 2, 5, 5], {}],
  ["7x7 s2 p3", [2, 3, 11, 11], [4, 3, 7, 7], { strides: [2, 2], pads: [3, 3, 3, 3] }],
  ["7x7 s1 p3", [1, 2, 9, 9], [3, 2, 7, 7], { pads: [3, 3, 3, 3] }],
  ["1x7 p(0,3)", [2, 3, 5, 9], [4, 3, 1, 7], { pads: [0, 3, 0, 3] }],
  ["7x1 p(3,0)", [2, 3, 9, 5], [4, 3, 7, 1], { pads: [3, 0, 3, 0] }],
  ["1x3 p(0,1)", [2, 3, 5, 6], [4, 3, 1, 3], { pads: [0, 1, 0, 1] }],
  ["3x1 p(1,0)", [2, 3, 6, 5], [4, 3, 3, 1], { pads: [1, 0, 1, 0] }],
  ["3x3 asymmetric pads", [2, 2, 6, 7], [3, 2, 3, 3], { pads: [0, 1, 2, 0] }],
  ["3x3 s2 asymmetric pads", [2, 2, 8, 7], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 0, 0, 2] }],
  ["3x3 stride (1,2)", [2, 2, 6, 7], [3, 2, 3, 3], { strides: [1, 2], pads: [1, 1, 1, 1] }],
  // kernels cropped to the taps that meet pixels (conv.ts): maps smaller than the kernel's reach
  ["3x3 p1 on a 1×1 map (centre tap only)", [2, 3, 1, 1], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, true],
  ["7x7 p3 on a 2×2 map", [2, 2, 2, 2], [3, 2, 7, 7], { pads: [3, 3, 3, 3] }],
  ["5x5 s2 p2 on a 2×2 map", [2, 2, 2, 2], [3, 2, 5, 5], { strides: [2, 2], pads: [2, 2, 2, 2] }],
  ["3x3 asymmetric pads on a 1×3 map", [1, 2, 1, 3], [3, 2, 3, 3], { pads: [2, 1, 0, 1] }],
];

for (const [name, xs, ws, attrs, bias] of convCases) {
  Deno.test(`Conv ${name}`, () =>
    check({
      ...F32,
      name: `conv ${name}`,
      inputs: [
        { name: "x", shape: xs },
        { name: "w", shape: ws },
        ...(bias ? [{ name: "b", shape: [ws[0]] }] : []),
      ],
      build: (g, v) => g.op.Conv(v.x, v.w, v.b, attrs),
    }));
}

Deno.test("BatchNormalization training form (batch statistics)", () =>
  check({
    ...F64,
    name: "bn train",
    inputs: [
      { name: "x", shape: [3, 4, 3, 3] },
      { name: "scale", shape: [4] },
      { name: "bias", shape: [4] },
      { name: "rm", shape: [4], data: new Float64Array(4) },
      { name: "rv", shape: [4], data: new Float64Array(4).fill(1) },
    ],
    build: (g, v) => batchNormTraining(g, v.x, v.scale, v.bias, v.rm, v.rv, { epsilon: 1e-3 }).y,
  }));

Deno.test("BatchNormalization training form on N×C", () =>
  check({
    ...F64,
    name: "bn train 2d",
    inputs: [
      { name: "x", shape: [5, 3] },
      { name: "scale", shape: [3] },
      { name: "bias", shape: [3] },
      { name: "rm", shape: [3], data: new Float64Array(3) },
      { name: "rv", shape: [3], data: new Float64Array(3).fill(1) },
    ],
    build: (g, v) => batchNormTraining(g, v.x, v.scale, v.bias, v.rm, v.rv).y,
  }));

Deno.test("BatchNormalization inference form (all five inputs)", () =>
  check({
    ...F64,
    name: "bn eval",
    inputs: [
      { name: "x", shape: [2, 3, 4, 4] },
      { name: "scale", shape: [3] },
      { name: "bias", shape: [3] },
      { name: "mean", shape: [3] },
      { name: "var", shape: [3], data: Float64Array.from([0.5, 1.3, 2.1]), wrt: true },
    ],
    build: (g, v) => g.op.BatchNormalization(v.x, v.scale, v.bias, v.mean, v.var, { epsilon: 1e-5 }),
  }));

Deno.test("Relu", () =>
  check({
    ...F64,
    name: "relu",
    inputs: [{ name: "x", shape: [2, 3, 5, 5], separated: true }],
    build: (g, v) => g.op.Relu(v.x),
  }));

const maxPools: [string, number[], OpAttrs["MaxPool"]][] = [
  ["3x3 s2", [2, 3, 9, 9], { kernel_shape: [3, 3], strides: [2, 2] }],
  ["3x3 s2 p1 (ResNet)", [2, 3, 8, 8], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
  ["3x3 s2 ceil", [2, 2, 8, 8], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }],
  ["2x2 s2", [2, 2, 6, 6], { kernel_shape: [2, 2], strides: [2, 2] }],
  ["3x3 s1 p1", [1, 2, 5, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
];
for (const [name, xs, attrs] of maxPools) {
  Deno.test(`MaxPool ${name}`, () =>
    check({
      ...F64,
      name: `maxpool ${name}`,
      inputs: [{ name: "x", shape: xs, separated: true }],
      build: (g, v) => g.op.MaxPool(v.x, attrs),
    }));
}

const avgPools: [string, number[], OpAttrs["AveragePool"]][] = [
  ["3x3 s1 p1 include pad (Inception)", [2, 3, 6, 6], {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    count_include_pad: 1,
  }],
  ["3x3 s1 p1 exclude pad", [2, 3, 6, 6], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
  ["3x3 s1 p0", [2, 2, 5, 5], { kernel_shape: [3, 3] }],
  ["5x5 s3 (aux head)", [2, 2, 17, 17], { kernel_shape: [5, 5], strides: [3, 3] }],
  ["2x2 s2", [2, 2, 6, 6], { kernel_shape: [2, 2], strides: [2, 2] }],
  ["3x3 s2 p1 ceil include pad", [1, 2, 8, 8], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    ceil_mode: 1,
    count_include_pad: 1,
  }],
  ["3x3 s2 ceil exclude pad", [1, 2, 8, 8], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }],
  ["3x3 s2 p1 include pad odd", [2, 2, 7, 7], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    count_include_pad: 1,
  }],
];
for (const [name, xs, attrs] of avgPools) {
  Deno.test(`AveragePool ${name}`, () =>
    check({
      ...F32,
      name: `avgpool ${name}`,
      inputs: [{ name: "x", shape: xs }],
      build: (g, v) => g.op.AveragePool(v.x, attrs),
    }));
}

Deno.test("GlobalAveragePool", () =>
  check({
    ...F32,
    name: "gap",
    inputs: [{ name: "x", shape: [2, 3, 5, 4] }],
    build: (g, v) => g.op.GlobalAveragePool(v.x),
  }));

Deno.test("Concat (some inputs constant)", () =>
  check({
    ...F64,
    name: "concat",
    inputs: [
      { name: "a", shape: [2, 2, 3, 3] },
      { name: "b", shape: [2, 3, 3, 3], wrt: false },
      { name: "c", shape: [2, 1, 3, 3] },
    ],
    build: (g, v) => g.op.Concat([v.a, v.b, v.c], { axis: 1 }),
  }));

Deno.test("Split", () =>
  check({
    ...F64,
    name: "split",
    inputs: [{ name: "x", shape: [2, 6, 3] }],
    build: (g, v) => {
      const [p, , r] = g.op.Split(v.x, [2, 1, 3], { axis: 1 });
      return g.op.Concat([r, p], { axis: 1 });
    },
  }));

const binaries = ["Add", "Sub", "Mul", "Div"] as const;
for (const op of binaries) {
  Deno.test(`${op} with broadcasting`, () =>
    check({
      ...F64,
      name: op,
      inputs: [
        { name: "a", shape: [2, 3, 4, 4] },
        op === "Div"
          ? { name: "b", shape: [1, 3, 1, 1], data: Float64Array.from([1.5, -2, 0.7]), wrt: true }
          : { name: "b", shape: [3, 1, 1] },
      ],
      build: (g, v) => g.op[op](v.a, v.b),
    }));
}

Deno.test("Sum of three with broadcasting", () =>
  check({
    ...F64,
    name: "sum",
    inputs: [{ name: "a", shape: [2, 3] }, { name: "b", shape: [3] }, { name: "c", shape: [2, 1] }],
    build: (g, v) => g.op.Sum([v.a, v.b, v.c]),
  }));

Deno.test("Neg, Sqrt, Reciprocal, Exp", () =>
  check({
    ...F64,
    name: "unary",
    inputs: [{
      name: "x",
      shape: [2, 5],
      data: Float64Array.from({ length: 10 }, (_, i) => 0.3 + 0.25 * i),
      wrt: true,
    }],
    build: (g, v) => g.op.Add(g.op.Add(g.op.Neg(g.op.Exp(v.x)), g.op.Sqrt(v.x)), g.op.Reciprocal(v.x)),
  }));

Deno.test("Where", () =>
  check({
    ...F64,
    name: "where",
    inputs: [
      { name: "c", shape: [2, 3], dtype: "bool", data: Uint8Array.from([1, 0, 1, 1, 0, 0]) },
      { name: "a", shape: [2, 3] },
      { name: "b", shape: [3] },
    ],
    build: (g, v) => g.op.Where(v.c, v.a, v.b),
  }));

Deno.test("Flatten, Reshape, Transpose, Expand", () =>
  check({
    ...F64,
    name: "shape ops",
    inputs: [{ name: "x", shape: [2, 3, 2, 2] }, { name: "e", shape: [1, 3] }],
    build: (g, v) => {
      // an Identity node (the builder adds one only where ONNX needs it) passes the gradient through
      const [id] = g.addNode("Identity", [v.x], {}, () => [[v.x.dtype, v.x.shape]]);
      const f = g.op.Flatten(id); // [2, 12]
      const r = g.op.Reshape(f, [4, -1]); // [4, 6]
      const t = g.op.Transpose(r, { perm: [1, 0] }); // [6, 4]
      const ex = g.op.Expand(v.e, [2, 3]); // [2, 3]
      return g.op.Mul(g.op.Reshape(t, [2, 3, 4]), g.op.Reshape(ex, [2, 3, 1]));
    },
  }));

const gemms: OpAttrs["Gemm"][] = [
  { transB: 1 },
  {},
  { transA: 1 },
  { transA: 1, transB: 1, alpha: 0.7, beta: 1.3 },
];
for (const attrs of gemms) {
  Deno.test(`Gemm ${JSON.stringify(attrs)}`, () =>
    check({
      ...F64,
      name: "gemm",
      inputs: [
        { name: "a", shape: attrs.transA ? [4, 3] : [3, 4] },
        { name: "b", shape: attrs.transB ? [5, 4] : [4, 5] },
        { name: "c", shape: [5] },
      ],
      build: (g, v) => g.op.Gemm(v.a, v.b, v.c, attrs),
    }));
}

Deno.test("MatMul 2-D and batched with broadcasting", async () => {
  await check({
    ...F64,
    name: "matmul2d",
    inputs: [{ name: "a", shape: [3, 4] }, { name: "b", shape: [4, 2] }],
    build: (g, v) => g.op.MatMul(v.a, v.b),
  });
  await check({
    ...F64,
    name: "matmul batched",
    inputs: [{ name: "a", shape: [2, 3, 4] }, { name: "b", shape: [4, 5] }],
    build: (g, v) => g.op.MatMul(v.a, v.b),
  });
});

Deno.test("Transpose of a MatMul operand: its gradient as the product of the transposes, (PQ)ᵀ = QᵀPᵀ", async () => {
  // the dense small-map conv's form: a constant-like 2-D left operand, a transposed batched weight
  await check({
    ...F64,
    name: "transposed operand",
    inputs: [{ name: "e", shape: [5, 3] }, { name: "w", shape: [2, 4, 3] }],
    build: (g, v) => g.op.MatMul(v.e, g.op.Transpose(v.w, { perm: [0, 2, 1] })),
  });
  // the left operand transposed, the right one 2-D
  await check({
    ...F64,
    name: "transposed left operand",
    inputs: [{ name: "a", shape: [2, 4, 3] }, { name: "b", shape: [4, 5] }],
    build: (g, v) => g.op.MatMul(g.op.Transpose(v.a, { perm: [0, 2, 1] }), v.b),
  });
});

for (const reduction of ["mean", "sum", "none"] as const) {
  Deno.test(`SoftmaxCrossEntropyLoss reduction=${reduction}`, () =>
    check({
      ...F64,
      name: `sce ${reduction}`,
      inputs: [{ name: "s", shape: [4, 5] }, {
        name: "l",
        shape: [4],
        dtype: "int64",
        data: BigInt64Array.from([0n, 4n, 2n, 2n]),
      }],
      build: (g, v) => g.op.SoftmaxCrossEntropyLoss(v.s, v.l, { reduction }),
    }));
}

Deno.test("SoftmaxCrossEntropyLoss with log_prob used downstream", () =>
  check({
    ...F64,
    name: "sce logprob",
    inputs: [{ name: "s", shape: [3, 4] }, {
      name: "l",
      shape: [3],
      dtype: "int64",
      data: BigInt64Array.from([1n, 3n, 0n]),
    }],
    build: (g, v) => {
      const [loss, logp] = g.op.SoftmaxCrossEntropyLoss(v.s, v.l, { reduction: "mean" }, { logProb: true });
      return g.op.Add(g.op.ReduceSum(logp, [1], { keepdims: 0 }), loss);
    },
  }));

Deno.test("Softmax and LogSoftmax", () =>
  check({
    ...F64,
    name: "softmax",
    inputs: [{ name: "x", shape: [3, 4] }],
    build: (g, v) => g.op.Add(g.op.Softmax(v.x, { axis: 1 }), g.op.LogSoftmax(v.x, { axis: 0 })),
  }));

Deno.test("ReduceMean, ReduceSum, ReduceSumSquare", () =>
  check({
    ...F64,
    name: "reduce",
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (g, v) => {
      const a = g.op.ReduceMean(v.x, { axes: [0, 2], keepdims: 0 }); // [3]
      const b = g.op.ReduceSum(v.x, [1], { keepdims: 1 }); // [2,1,4]
      const c = g.op.ReduceSumSquare(v.x, { axes: [-1], keepdims: 0 }); // [2,3]
      return g.op.Add(g.op.Add(b, g.op.Reshape(a, [1, 3, 1])), g.op.Reshape(c, [2, 3, 1]));
    },
  }));
