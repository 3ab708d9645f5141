import assert from "node:assert/strict";
import { Adam, SGD } from "../../lib/optim/mod.ts";
import { readJson } from "../../lib/util/fs.ts";

interface Case {
  name: string;
  kind: "adam" | "sgd";
  options: Record<string, number | boolean>;
  p0: number[];
  grads: number[][];
  final: number[];
}

const golden = await readJson<{ cases: Case[] }>(
  new URL("../../fixtures/golden/optim.json", import.meta.url).pathname,
);

for (const c of golden.cases) {
  Deno.test(`optim: ${c.name} matches torch.optim after 5 steps`, () => {
    const o = c.options;
    const opt = c.kind === "adam"
      ? new Adam({ lr: o.lr as number, weightDecay: o.weight_decay as number, eps: o.eps as number })
      : new SGD({
        lr: o.lr as number,
        momentum: o.momentum as number,
        nesterov: o.nesterov as boolean,
        weightDecay: o.weight_decay as number,
      });
    const p = new Map([["p", Float32Array.from(c.p0)]]);
    for (const g of c.grads) opt.step(p, new Map([["p", Float32Array.from(g)]]));
    const got = p.get("p")!;
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - c.final[i]) / Math.max(1e-6, Math.abs(c.final[i])));
    }
    assert.ok(worst < 1e-5, `worst relative error ${worst}`);
  });
}

Deno.test("optim: bad hyper-parameters and mismatched gradients are refused", () => {
  assert.throws(() => new Adam({ lr: 0 }), /Learning rate/);
  assert.throws(() => new Adam({ beta1: 1 }), /beta1/);
  const opt = new Adam();
  assert.throws(
    () => opt.step(new Map([["a", new Float32Array(2)]]), new Map([["a", new Float32Array(3)]])),
    /Gradient of a has 3 elements/,
  );
  assert.throws(() => opt.step(new Map(), new Map([["b", new Float32Array(1)]])), /unknown parameter b/);
});
