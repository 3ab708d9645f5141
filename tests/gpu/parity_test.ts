// The device-resident WebGPU trainer against the CPU trainer, from the same weights and batch (the small nets
// and inputs of the torch goldens): the loss of each step, then after one and after three Adam steps the
// weights, BN buffers and Adam moments (after one step the first moment is (1 − β₁) × the gradient), and
// the evaluation graph's probabilities computed from the resident weights.
import assert from "node:assert/strict";
import type { ModelFn } from "../../lib/train/step.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import type { GraphNet } from "../../lib/train/graph_net.ts";
import { readJson } from "../../lib/util/fs.ts";
import { cbrNet, inceptionNet, resNet } from "../train/parity_nets.ts";
import { gpuTest } from "./webgpu.ts";
import { relErr } from "../compare.ts";
import { type GoldenStep, toState } from "../train/golden_state.ts";

interface Snapshot {
  state: Map<string, Float32Array | BigInt64Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

async function snapshot(t: Trainer): Promise<Snapshot> {
  await t.sync();
  const copy = <T extends Float32Array | BigInt64Array>(a: T) => a.slice() as T;
  return {
    state: new Map([...t.state].map(([k, v]) => [k, copy(v.data as Float32Array | BigInt64Array)])),
    m: new Map([...t.optimizer.state.m].map(([k, a]) => [k, a.slice()])),
    v: new Map([...t.optimizer.state.v].map(([k, a]) => [k, a.slice()])),
  };
}

// Adam divides by √v, so a gradient that is pure rounding noise (a channel whose shift the next BN removes:
// |g| ~ 1e-8) moves its weight by ±lr in the direction of the noise's sign, differently on each provider
// (and in torch). Such entries, found from the CPU's first moment, say nothing about parity: they are left
// out of the weight comparison and counted (tests/train/parity_test.ts does the same against torch).
function compare(gpu: Snapshot, cpu: Snapshot, m1: Map<string, Float32Array>, when: string): void {
  let skipped = 0, total = 0;
  for (const [k, want] of cpu.state) {
    const got = gpu.state.get(k)!;
    if (want instanceof BigInt64Array) {
      assert.deepEqual(got, want, `${k} ${when}`);
      continue;
    }
    const m = m1.get(k);
    const keep = (i: number) => !m || Math.abs(m[i]) > 1e-7;
    for (let i = 0; i < want.length; i++) if (!keep(i)) skipped++;
    total += want.length;
    const e = relErr(got as Float32Array, want, keep);
    assert.ok(e < 1e-4, `${k} ${when}: relative error ${e.toExponential(2)}`);
  }
  assert.ok(skipped <= total * 0.01, `${skipped} of ${total} entries had noise-level gradients`);
  for (const which of ["m", "v"] as const) {
    for (const [k, want] of cpu[which]) {
      const e = relErr(gpu[which].get(k)!, want);
      assert.ok(e < 1e-4, `Adam ${which} of ${k} ${when}: relative error ${e.toExponential(2)}`);
    }
  }
}

// the residual net also with the convolutions in NCHW (bench/gpu.ts measures both layouts); the Inception
// net has the aux head (0.4 × its loss) and a dropout mask, drawn alike on both devices from seed and step
const cases: [string, ModelFn, "NHWC" | "NCHW" | undefined][] = [
  ["cbr", cbrNet, undefined],
  ["res", resNet, undefined],
  ["res", resNet, "NCHW"],
  ["inception", inceptionNet, undefined],
];

for (const [name, model, layout] of cases) {
  Deno.test(
    gpuTest(
      `webgpu${
        layout ? ` (${layout})` : ""
      }: 1 and 3 resident Adam steps of the ${name} net equal the CPU provider's`,
      async () => {
        const g = await readJson<GoldenStep>(
          new URL(`../../fixtures/golden/train_${name}.json`, import.meta.url).pathname,
        );
        const [n, , size] = g.input_shape;
        const x = Float32Array.from(g.x), y = Int32Array.from(g.y);
        const opts = { batch: n, size, lr: g.adam_lr, weightDecay: 1e-3, threads: 1 };
        const cpu = await Trainer.create(model, toState(g), { ...opts, device: "cpu" });
        const gpu = await Trainer.create(model, toState(g), { ...opts, device: "webgpu", layout });
        try {
          assert.ok(gpu.resident && !cpu.resident);
          let m1: Map<string, Float32Array> | undefined;
          for (let s = 1; s <= 3; s++) {
            const a = await cpu.step(x, y), b = await gpu.step(x, y);
            assert.ok(Math.abs(b.loss - a.loss) / a.loss < 1e-4, `loss at step ${s}: ${b.loss} vs ${a.loss}`);
            assert.ok(relErr(b.logits, a.logits) < 1e-4, `logits at step ${s}`);
            if (s === 1 || s === 3) {
              const c = await snapshot(cpu);
              m1 ??= c.m;
              compare(await snapshot(gpu), c, m1, `after ${s} step(s)`);
            }
          }
          assert.equal(gpu.optimizer.state.step, 3);
          // evaluation from the resident weights (the device state is current; the host copy is synced too)
          const ea = await cpu.evaluate([{ x, n }]), eb = await gpu.evaluate([{ x, n }]);
          assert.ok(relErr(eb.probs, ea.probs) < 1e-4, "evaluation probabilities");
        } finally {
          await cpu.release();
          await gpu.release();
        }
      },
    ),
  );
}

Deno.test(gpuTest("webgpu: host state written from outside is uploaded by the next step", async () => {
  const g = await readJson<GoldenStep>(
    new URL("../../fixtures/golden/train_res.json", import.meta.url).pathname,
  );
  const [n, , size] = g.input_shape;
  const x = Float32Array.from(g.x), y = Int32Array.from(g.y);
  const opts = { batch: n, size, lr: g.adam_lr, threads: 1 };
  const gpu = await Trainer.create(resNet, toState(g), { ...opts, device: "webgpu" });
  const cpu = await Trainer.create(resNet, toState(g), { ...opts, device: "cpu" });
  try {
    const first = (await gpu.step(x, y)).loss;
    await gpu.step(x, y);
    // back to the initial weights and a fresh optimiser, as a loaded checkpoint would set them
    for (const [k, t] of toState(g)) gpu.state.get(k)!.data.set(t.data as Float32Array & BigInt64Array);
    gpu.optimizer.state.step = 0;
    gpu.optimizer.state.m.clear();
    gpu.optimizer.state.v.clear();
    assert.equal((await gpu.step(x, y)).loss, first, "the step after the reset starts from the reset state");
    // same step count, new weights: hostChanged() says so
    await cpu.step(x, y);
    await cpu.step(x, y);
    await gpu.step(x, y);
    for (const [k, t] of cpu.state) gpu.state.get(k)!.data.set(t.data as Float32Array & BigInt64Array);
    for (const [k, a] of cpu.optimizer.state.m) gpu.optimizer.state.m.get(k)!.set(a);
    for (const [k, a] of cpu.optimizer.state.v) gpu.optimizer.state.v.get(k)!.set(a);
    gpu.hostChanged();
    const a = await cpu.step(x, y), b = await gpu.step(x, y);
    assert.ok(Math.abs(b.loss - a.loss) / a.loss < 1e-4, `loss ${b.loss} vs ${a.loss}`);
  } finally {
    await gpu.release();
    await cpu.release();
  }
}));

Deno.test(
  gpuTest("webgpu: a non-finite gradient under a finite loss is refused and the state kept", async () => {
    const g = await readJson<GoldenStep>(
      new URL("../../fixtures/golden/train_res.json", import.meta.url).pathname,
    );
    const [n, , size] = g.input_shape;
    const x = Float32Array.from(g.x), y = Int32Array.from(g.y);
    const opts = { batch: n, size, lr: g.adam_lr, threads: 1 };
    // logits + 0·√(mean(x)²·(Σ logits)²): the same forward, and NaN gradients (0/0 through the square root)
    // for an all-zero batch, as tests/train/resume_child.ts's "zero-last" poison
    const model: ModelFn = (net, input) => {
      const { logits } = resNet(net, input), gr = (net as GraphNet).g, op = gr.op;
      const m = op.ReduceMean(input, { keepdims: 0 }), s = op.ReduceSum(logits, undefined, { keepdims: 0 });
      const term = op.Mul(gr.constant(0, "float32", []), op.Sqrt(op.Mul(op.Mul(m, m), op.Mul(s, s))));
      return { logits: op.Add(logits, term) };
    };
    const gpu = await Trainer.create(model, toState(g), { ...opts, device: "webgpu" });
    const cpu = await Trainer.create(model, toState(g), { ...opts, device: "cpu" });
    try {
      const zeros = new Float32Array(x.length);
      await assert.rejects(() => cpu.step(zeros, y), /Gradient of \S+ is NaN at step 1/);
      await assert.rejects(
        () => gpu.step(zeros, y),
        /Gradient of a parameter \(on the device\) is NaN at step 1/,
      );
      assert.equal(gpu.optimizer.state.step, 0);
      const a = await cpu.step(x, y), b = await gpu.step(x, y);
      assert.ok(Math.abs(b.loss - a.loss) / a.loss < 1e-4, `loss ${b.loss} vs ${a.loss}`);
    } finally {
      await gpu.release();
      await cpu.release();
    }
  }),
);
