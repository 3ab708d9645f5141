import assert from "node:assert/strict";
import { assertFiniteGradients, NonFiniteGradientError, NonFiniteLossError } from "../../lib/train/mod.ts";

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
