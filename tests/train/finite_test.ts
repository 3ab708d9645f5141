import assert from "node:assert/strict";
import {
  assertFiniteGradients,
  type GraphNet,
  type ModelFn,
  NonFiniteGradientError,
  NonFiniteLossError,
  Trainer,
} from "../../lib/train/mod.ts";
import { getModel, paramSpecs } from "../../lib/models/registry.ts";
import { randomInit } from "../../lib/models/init.ts";
import type { Value } from "../../lib/graph/mod.ts";
import { Rng } from "../../lib/util/random.ts";
import { assertSameElements } from "../compare.ts";

Deno.test("assertFiniteGradients: NaN, +Infinity and -Infinity anywhere are named, finite ones pass", () => {
  const ok = new Map([["a", Float32Array.of(0, -0, 1e30, -3.5)], ["b", new Float32Array(0)]]);
  assertFiniteGradients(1, ok);
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const at of [0, 4, 9]) {
      const g = new Float32Array(10).fill(0.25);
      g[at] = bad;
      assert.throws(
        () => assertFiniteGradients(7, new Map([["a", Float32Array.of(1)], ["layer.weight", g]])),
        (e: unknown) =>
          e instanceof NonFiniteGradientError && e.step === 7 && e.param === "layer.weight" &&
          Object.is(e.value, bad) &&
          e.message === `Gradient of layer.weight is ${bad} at step 7: training stopped before the update, ` +
              "the last checkpoint is intact (try a lower --lr)",
      );
    }
  }
});

Deno.test("NonFiniteLossError names ±Infinity as it names NaN", () => {
  for (const loss of [NaN, Infinity, -Infinity]) {
    const e = new NonFiniteLossError(3, loss);
    assert.equal(e.message.split(":")[0], `Loss is ${loss} at step 3`);
  }
});

/**
 * CBR-Small whose `block2.bn.bias` (a middle parameter, zero at init) also feeds class 0's logit through
 * `Σ√b`: 0 in the forward pass, an infinite derivative at b = 0. With no grade 0 in the batch the loss pulls
 * class 0's logit down, so that bias's gradient is +Infinity; times 0 ("nan") it is 0 · ∞ = NaN. Every other
 * parameter's gradient stays finite, and so does the loss.
 */
function poisoned(kind: "inf" | "nan"): ModelFn {
  return (net, x) => {
    const { logits } = getModel("cbr_small").build(net, x, { classes: 5 }) as { logits: Value };
    const g = (net as GraphNet).g, bias = (net as GraphNet).params.get(POISONED)!;
    let t = g.op.ReduceSum(g.op.Sqrt(bias), undefined, { keepdims: 0 });
    if (kind === "nan") t = g.op.Mul(t, g.constant(0, "float32", []));
    return { logits: g.op.Add(logits, g.op.Mul(t, g.constant([1, 0, 0, 0, 0], "float32", [5]))) };
  };
}

const POISONED = "block2.bn.bias";

for (const [kind, value, label] of [["inf", Infinity, "+Infinity"], ["nan", NaN, "NaN"]] as const) {
  Deno.test(`train: a ${label} gradient in one parameter, not the first, stops the step before the update`, async () => {
    const spec = paramSpecs("cbr_small", { classes: 5, inputSize: 16 });
    const state = randomInit(spec, 1);
    const names = [...state.keys()].filter((k) => spec.params.find((p) => p.name === k)?.trainable);
    assert.ok(names.indexOf(POISONED) > 0, "the poisoned parameter is not the first");
    assert.ok((state.get(POISONED)!.data as Float32Array).every((v) => v === 0));
    const before = new Map([...state].map(([k, t]) => [k, (t.data as Float32Array).slice()]));
    const t = await Trainer.create(poisoned(kind), state, { batch: 4, size: 16, threads: 1 });
    try {
      const rng = new Rng("poison");
      const x = Float32Array.from({ length: 4 * 3 * 16 * 16 }, () => rng.normal());
      await assert.rejects(
        t.step(x, Int32Array.of(1, 2, 3, 4)),
        (e: unknown) =>
          e instanceof NonFiniteGradientError && e.step === 1 && e.param === POISONED &&
          Object.is(e.value, value),
      );
      assert.equal(t.optimizer.state.step, 0, "Adam took no step");
      for (const [k, a] of before) assertSameElements(state.get(k)!.data, a, `${k} after the refused step`);
    } finally {
      await t.release();
    }
  });
}
