// No node of the WebGPU training or evaluation graph runs on the CPU provider (small versions of a CBR net and
// a residual net; bench/gpu.ts checks the full models); the check itself finds the fallbacks of the ONNX loss
// op; the log parser reads both forms of onnxruntime's report.
import assert from "node:assert/strict";
import { describePlacement, nodePlacements, parsePlacements } from "../../lib/graph/placement.ts";
import { backendFor } from "../../lib/train/backend.ts";
import { buildEvalGraph, buildTrainGraph, type ModelFn, trainGraphOptionsFor } from "../../lib/train/step.ts";
import { cbrNet, resNet } from "../train/parity_nets.ts";
import { gpuTest } from "./webgpu.ts";

const V = "2026-11-30 17:50:44.581 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]";

Deno.test("placement: the verbose log's node placements are parsed, listed or summed", () => {
  const split = [
    "2026-11-30 17:50:44.58 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements",
    `${V}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2`,
    `${V}   LogSoftmax ()`,
    `${V}   Equal (loss/Equal_3)`,
    `${V}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 2`,
    `${V}   MemcpyFromHost (Memcpy)`,
    `${V}   Conv (conv1/Conv)`,
    "2026-11-30 17:50:44.58 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping",
  ].join("\n");
  const a = parsePlacements(split);
  assert.deepEqual(a.counts, { CPUExecutionProvider: 2, WebGpuExecutionProvider: 2 });
  assert.deepEqual(a.nodes[1], { provider: "CPUExecutionProvider", op: "Equal", name: "loss/Equal_3" });
  assert.deepEqual(a.nodes[3], { provider: "WebGpuExecutionProvider", op: "Conv", name: "conv1/Conv" });
  const all = parsePlacements(`${V}  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 468`);
  assert.deepEqual(all, { nodes: [], counts: { WebGpuExecutionProvider: 468 } });
  assert.throws(() => parsePlacements("no such block"), /has no node placements/);
});

const nets: [string, ModelFn][] = [["cbr", cbrNet], ["res", resNet]];

for (const [name, model] of nets) {
  Deno.test(
    gpuTest(
      `webgpu: every node of the ${name} net's training and evaluation graphs is on WebGPU`,
      async () => {
        const shape = { batch: 2, size: 16 };
        const train = buildTrainGraph(model, shape, trainGraphOptionsFor(backendFor("webgpu")));
        for (
          const [what, bytes] of [["training", train.bytes], [
            "evaluation",
            buildEvalGraph(model, shape).bytes,
          ]]
        ) {
          const r = await nodePlacements(bytes as Uint8Array, { device: "webgpu" });
          assert.equal(r.cpuNodes, 0, `${what} graph: ${describePlacement(r)}`);
          assert.ok((r.counts.WebGpuExecutionProvider ?? 0) > 0, `${what} graph: ${describePlacement(r)}`);
        }
      },
    ),
  );
}

Deno.test(gpuTest("webgpu: the placement check finds the CPU fallbacks of the ONNX loss op", async () => {
  const tg = buildTrainGraph(cbrNet, { batch: 2, size: 16 }, {
    ...trainGraphOptionsFor(backendFor("webgpu")),
    loss: "onnx",
  });
  const r = await nodePlacements(tg.bytes, { device: "webgpu" });
  assert.ok(r.cpuNodes > 0 && r.fallbacks.some((n) => n.op === "LogSoftmax"), describePlacement(r));
}));
