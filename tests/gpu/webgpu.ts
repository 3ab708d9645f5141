// Whether this machine has a WebGPU adapter (a Vulkan driver: a GPU's, or Mesa's lavapipe on the CPU; see
// .ci/run), found once per test process. The WebGPU tests skip only when there is none, saying why; any
// other failure to open a session fails them.
import { Graph } from "../../lib/graph/graph.ts";
import { createSession } from "../../lib/graph/session.ts";

async function probe(): Promise<string | undefined> {
  const g = new Graph("probe");
  g.output(g.op.Relu(g.input("x", "float32", [1])), "y");
  try {
    const s = await createSession(g.toBytes(), { device: "webgpu" });
    await s.release();
    return undefined;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/no GPU adapter/.test(msg)) return msg;
    throw e;
  }
}

/** Why the WebGPU tests cannot run here (no adapter), or undefined when they can. */
export const noWebgpu: string | undefined = await probe();
if (noWebgpu) console.warn(`WebGPU tests skipped: ${noWebgpu}`);

/** Deno.test options for a WebGPU test: ignored, with the reason in its name, where there is no adapter. */
export function gpuTest(name: string, fn: () => Promise<void>): Deno.TestDefinition {
  return {
    name: noWebgpu ? `${name} (skipped: no WebGPU adapter)` : name,
    ignore: noWebgpu !== undefined,
    fn,
    // onnxruntime's WebGPU device and its worker threads live for the whole process
    sanitizeOps: false,
    sanitizeResources: false,
  };
}
