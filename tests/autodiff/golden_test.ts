/**
 * A residual conv block with fan-out (skip add; one value feeding a strided 1×1 conv, a max-pool and an
 * avg-pool joined by Concat), BN in training mode and ReLUs, against torch float64 autograd
 * (fixtures/golden/autodiff_residual.json from scripts/golden_autodiff_residual.py). This is where the
 * float32 engine is checked across ReLU kinks, which finite differences in float32 cannot resolve.
 */
import assert from "node:assert/strict";
import { Graph } from "../../lib/graph/graph.ts";
import { batchNormTraining } from "../../lib/graph/batchnorm.ts";
import { createSession, feedTensor } from "../../lib/graph/session.ts";
import { gradients } from "../../lib/autodiff/gradients.ts";
import type { Value } from "../../lib/graph/types.ts";

interface Golden {
  shapes: Record<string, number[]>;
  inputs: Record<string, number[]>;
  loss: number;
  running_mean: number[];
  running_var: number[];
  grads: Record<string, number[]>;
}

Deno.test("residual block with fan-out matches torch float64 gradients", async () => {
  const gold: Golden = JSON.parse(
    await Deno.readTextFile(new URL("../../fixtures/golden/autodiff_residual.json", import.meta.url)),
  );
  const g = new Graph("residual");
  const v: Record<string, Value> = {};
  for (const [k, s] of Object.entries(gold.shapes)) v[k] = g.input(k, "float32", s);
  const rm = g.input("rm", "float32", [4]), rv = g.input("rv", "float32", [4]);
  const bn = batchNormTraining(
    g,
    g.op.Conv(v.x, v.w1, undefined, { pads: [1, 1, 1, 1] }),
    v.g1,
    v.b1,
    rm,
    rv,
  );
  const h = g.op.Conv(g.op.Relu(bn.y), v.w2, undefined, { pads: [0, 3, 0, 3] });
  const s = g.op.Relu(g.op.Add(h, v.x));
  const y = g.op.Concat([
    g.op.Conv(s, v.wd, undefined, { strides: [2, 2] }),
    g.op.MaxPool(s, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
    g.op.AveragePool(s, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }),
  ], { axis: 1 });
  const loss = g.op.ReduceSum(g.op.Mul(y, v.seed), undefined, { keepdims: 0 });
  const names = Object.keys(gold.grads);
  const grads = gradients(g, loss, names.map((k) => v[k]));
  g.output(loss, "loss");
  g.output(bn.runningMean, "rm_new");
  g.output(bn.runningVar, "rv_new");
  for (const k of names) g.output(grads.get(k)!, `grad.${k}`);
  const session = await createSession(g.toBytes(), { threads: 1 });
  const feeds = Object.fromEntries(
    Object.entries(v).map(([k, val]) => [k, feedTensor(val, Float32Array.from(gold.inputs[k]))]),
  );
  feeds.rm = feedTensor(rm, new Float32Array(4));
  feeds.rv = feedTensor(rv, new Float32Array(4).fill(1));
  const out = await session.run(feeds);
  const rel = (got: ArrayLike<number>, want: number[]) => {
    let d = 0, m = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(got[i] - want[i]));
      m = Math.max(m, Math.abs(want[i]));
    }
    return d / m;
  };
  assert.ok(Math.abs((out.loss.data as Float32Array)[0] - gold.loss) < 1e-5 * Math.abs(gold.loss));
  assert.ok(rel(out.rm_new.data as Float32Array, gold.running_mean) < 1e-5, "running_mean");
  assert.ok(rel(out.rv_new.data as Float32Array, gold.running_var) < 1e-5, "running_var");
  for (const k of names) {
    const e = rel(out[`grad.${k}`].data as Float32Array, gold.grads[k]);
    // float32 forward and backward against an exact reference: observed ≤ 1e-6.
    assert.ok(e < 1e-5, `grad.${k}: max error ${e.toExponential(2)} of max |grad|`);
  }
  await session.release();
});
