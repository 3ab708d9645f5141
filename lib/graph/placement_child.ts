// The child process of placement.ts: `deno run ... placement_child.ts MODEL.onnx DEVICE` creates a session
// with onnxruntime's verbose log on (its "Node placements" block goes to stderr) and exits.
import { createSession } from "./session.ts";
import type { Device } from "./device.ts";

const [path, device] = Deno.args;
const session = await createSession(await Deno.readFile(path), {
  device: device as Device,
  threads: 1,
  logSeverityLevel: 0,
});
await session.release();
