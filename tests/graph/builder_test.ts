/**
 * Graph builder: inferred shapes equal onnxruntime's, bad input is rejected with messages that name the
 * node, tensor, attribute and shapes, outputs are renamed without Identity nodes, and serialisation works
 * for every supported opset.
 */
import assert from "node:assert/strict";
import onnxProto from "npm:onnx-proto@8.0.1";
import { Graph } from "../../lib/graph/graph.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";
import { OPSET_RANGE } from "../../lib/graph/serialize.ts";
import type { OpAttrs, Value } from "../../lib/graph/types.ts";

async function runAll(g: Graph, opset = 17) {
  const s = await createSession(g.toBytes({ opset }), { threads: 1 });
  const feeds: Record<string, ReturnType<typeof feedTensor>> = {};
  for (const v of g.inputs) {
    const n = v.shape.reduce((a, b) => a * b, 1);
    feeds[v.name] = v.dtype === "int64"
      ? feedTensor(v, BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)))
      : feedTensor(v, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
  }
  const out = await s.run(feeds);
  await s.release();
  return out;
}

Deno.test("inferred shapes match onnxruntime's for every builder", async () => {
  const g = new Graph("shapes");
  const x = g.input("x", "float32", [2, 4, 9, 9]);
  const outs: Value[] = [];
  const conv = (attrs: OpAttrs["Conv"], k: [number, number], m = 3) =>
    outs.push(
      g.op.Conv(x, g.input(g.freshName("w"), "float32", [m, 4 / (attrs.group ?? 1), ...k]), undefined, attrs),
    );
  conv({}, [3, 3]);
  conv({ strides: [2, 2], pads: [1, 1, 1, 1] }, [3, 3]);
  conv({ strides: [2, 2], pads: [3, 3, 3, 3] }, [7, 7]);
  conv({ pads: [0, 3, 0, 3] }, [1, 7]);
  conv({ pads: [0, 1, 2, 0] }, [3, 3]);
  conv({ group: 2 }, [3, 3], 4);
  outs.push(
    g.op.ConvTranspose(x, g.input("wt", "float32", [4, 2, 3, 3]), undefined, {
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      output_padding: [1, 0],
    }),
  );
  for (const ceil of [0, 1]) {
    outs.push(g.op.MaxPool(x, { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: ceil }));
    outs.push(
      g.op.MaxPool(x, { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: ceil }),
    );
    outs.push(
      g.op.AveragePool(x, { kernel_shape: [5, 5], strides: [3, 3], ceil_mode: ceil, count_include_pad: 1 }),
    );
    outs.push(
      g.op.AveragePool(x, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: ceil }),
    );
  }
  const [mp, idx] = g.op.MaxPool(x, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, {
    indices: true,
  });
  outs.push(mp, idx);
  const gap = g.op.GlobalAveragePool(x);
  outs.push(gap, g.op.Flatten(gap), g.op.Reshape(x, [0, -1, 3]), g.op.Transpose(x, { perm: [0, 2, 3, 1] }));
  outs.push(g.op.Concat([x, x], { axis: -3 }), ...g.op.Split(x, [1, 3], { axis: 1 }));
  outs.push(g.op.Slice(x, [1, -1], [8, -9], [2, 3], [2, -2]));
  outs.push(
    g.op.Add(x, g.input("b", "float32", [4, 1, 1])),
    g.op.Expand(g.input("e", "float32", [4, 1, 1]), [2, 1, 1, 5]),
  );
  const a2 = g.input("a2", "float32", [3, 5]);
  outs.push(g.op.Gemm(a2, g.input("b2", "float32", [6, 5]), g.input("c2", "float32", [6]), { transB: 1 }));
  outs.push(g.op.MatMul(g.input("a3", "float32", [2, 3, 5]), g.input("b3", "float32", [5, 4])));
  outs.push(g.op.ReduceMean(x, { axes: [0, 2, 3], keepdims: 0 }), g.op.ReduceSum(x, [1], { keepdims: 1 }));
  outs.push(g.op.ReduceSumSquare(x, { axes: [-1] }), g.op.ReduceMax(x));
  const [loss, logp] = g.op.SoftmaxCrossEntropyLoss(a2, g.input("l", "int64", [3]), {}, { logProb: true });
  outs.push(loss, logp, g.op.SoftmaxCrossEntropyLoss(a2, g.input("l2", "int64", [3]), { reduction: "none" }));
  outs.push(g.op.ConstantOfShape([2, 3], { value: { dtype: "float32", data: [0] } }));
  outs.push(g.op.Where(g.op.Greater(x, g.constant(0)), x, g.constant(1)), g.op.Cast(x, { to: "int64" }));
  outs.forEach((v, i) => g.output(v, `out${i}`));
  const res = await runAll(g);
  outs.forEach((v, i) =>
    assert.deepEqual(
      res[`out${i}`].dims,
      v.shape,
      `out${i} (${g.nodes.find((n) => n.outputs.includes(v))?.op})`,
    )
  );
});

Deno.test("unsupported op or attribute names the op, node and attribute", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [1, 3, 8, 8]), w = g.input("w", "float32", [4, 3, 3, 3]);
  assert.throws(
    () => g.scope("layer1.0.conv1", () => g.op.Conv(x, w, undefined, { foo: 1 } as OpAttrs["Conv"])),
    /^TypeError: Conv node 'layer1\.0\.conv1\/Conv': unsupported attribute 'foo'$/,
  );
  assert.throws(
    () => g.op.Conv(x, w, undefined, { auto_pad: "SAME_UPPER" as "NOTSET" }),
    /Conv node 'Conv(_\d+)?': unsupported attribute 'auto_pad' value 'SAME_UPPER'/,
  );
  assert.throws(
    () =>
      g.op.BatchNormalization(
        x,
        ...([0, 0, 0, 0].map((_, i) => g.input(`c${i}`, "float32", [3])) as [Value, Value, Value, Value]),
        { training_mode: 1 as 0 },
      ),
    /BatchNormalization node '.*': unsupported attribute 'training_mode' value 1/,
  );
  assert.throws(
    () => g.addNode("Gelu" as "Relu", [x], {}, () => [["float32", [1]]]),
    /Unsupported operator 'Gelu'/,
  );
});

Deno.test("shape mismatches name the tensor and both shapes", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 3, 8, 8]);
  assert.throws(
    () => g.op.Add(x, g.input("y", "float32", [4, 8])),
    /Add node '.*': shapes of 'x' \[2, 3, 8, 8\] and 'y' \[4, 8\] do not broadcast/,
  );
  assert.throws(
    () => g.op.Conv(x, g.input("w", "float32", [4, 5, 3, 3])),
    /Conv node '.*': input X 'x' \[2, 3, 8, 8\] and weight W 'w' \[4, 5, 3, 3\] disagree on channels/,
  );
  assert.throws(
    () => g.op.Conv(x, g.input("w2", "float32", [4, 3, 3, 3]), g.input("bias", "float32", [5])),
    /bias B 'bias' has shape \[5\] but \[4\] was expected/,
  );
  assert.throws(
    () => g.op.Concat([x, g.input("z", "float32", [2, 3, 7, 8])], { axis: 1 }),
    /input 'z' has shape \[2, 3, 7, 8\] but \[2, 3, 8, 8\] was expected/,
  );
  assert.throws(
    () => g.op.Gemm(g.input("a", "float32", [2, 3]), g.input("b", "float32", [4, 5])),
    /'a' \[2, 3\] and 'b' \[4, 5\] differ/,
  );
  assert.throws(() => g.op.Reshape(x, [5, -1]), /cannot reshape 'x' \[2, 3, 8, 8\] to \[5, -1\]/);
  assert.throws(
    () => g.op.MaxPool(x, { kernel_shape: [9, 9] }),
    /input 'x' \[2, 3, 8, 8\] is smaller than the window/,
  );
  assert.throws(() => g.op.Mul(x, g.input("i", "int64", [1])), /differ in dtype/);
  assert.throws(
    () => g.initializer("k", "float32", [2, 2], new Float32Array(3)),
    /data has 3 elements but shape \[2, 2\] needs 4/,
  );
  assert.throws(() => g.input("x", "float32", [1]), /Name 'x' is already used/);
  const other = new Graph("other");
  assert.throws(() => g.op.Relu(other.input("q", "float32", [1])), /does not belong to graph/);
});

Deno.test("outputs are renamed in place: no Identity unless ONNX needs one", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [3]);
  const y = g.op.Relu(x);
  const z = g.op.Neg(y);
  g.output(z, "z");
  g.output(y, "relu_out");
  assert.equal(y.name, "relu_out");
  assert.equal(g.nodes.filter((n) => (n.op as string) === "Identity").length, 0);
  g.output(y, "second_name"); // same value under a second name: ONNX needs a copy
  g.output(x, "x_again"); // a graph input as an output under another name, too
  assert.equal(g.nodes.filter((n) => (n.op as string) === "Identity").length, 2);
  const out = await runAll(g);
  assert.deepEqual(
    Array.from(out.relu_out.data as Float32Array),
    Array.from(out.second_name.data as Float32Array),
  );
  assert.deepEqual(
    Array.from(out.z.data as Float32Array).map((v) => -v),
    Array.from(out.relu_out.data as Float32Array),
  );
  assert.throws(() => g.output(z, "relu_out"), /already/);
});

Deno.test("constants are shared; dtype and shape come from the arguments or the data", () => {
  const g = new Graph();
  const a = g.constant([1, 2, 3], "int64"), b = g.constant([1, 2, 3], "int64");
  assert.equal(a, b);
  assert.notEqual(g.constant([1, 2, 3]), a);
  const c = g.constant(new Float32Array([0.4]), "float32", []);
  assert.deepEqual([c.dtype, c.shape], ["float32", []]);
  const d = g.constant(new Float64Array(6), undefined, [2, 3]);
  assert.deepEqual([d.dtype, d.shape], ["float64", [2, 3]]);
});

Deno.test("every supported opset serialises and runs the same reductions", async () => {
  for (let opset = OPSET_RANGE[0]; opset <= OPSET_RANGE[1]; opset++) {
    const g = new Graph();
    const x = g.input("x", "float32", [2, 3, 4]);
    g.output(g.op.ReduceMean(x, { axes: [1], keepdims: 0 }), "m");
    g.output(g.op.ReduceSumSquare(x, { axes: [0, 2] }), "s");
    const out = await runAll(g, opset);
    assert.deepEqual(out.m.dims, [2, 4], `opset ${opset}`);
    assert.deepEqual(out.s.dims, [1, 3, 1], `opset ${opset}`);
  }
  assert.throws(() => new Graph().toBytes({ opset: 16 }), /Opset must be an integer from 17/);
});

Deno.test("serialising drops the nodes no output needs and the constants only they read", () => {
  const g = new Graph("dead");
  const x = g.input("x", "float32", [2, 3]);
  const k = g.constant(Float32Array.of(7, 8, 9), "float32", [3]);
  g.op.Mul(g.op.Add(x, k), x); // reaches no output
  g.output(g.op.Add(x, x), "y");
  const m = onnxProto.onnx.ModelProto.decode(g.toBytes());
  assert.deepEqual(m.graph!.node!.map((n) => n.opType), ["Add"]);
  assert.equal(m.graph!.initializer!.length, 0, "the constant only the dead Add read is dropped too");
  assert.deepEqual(m.graph!.input!.map((v) => v.name), ["x"], "graph inputs stay, read or not");
});
