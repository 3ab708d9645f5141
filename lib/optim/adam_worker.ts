/**
 * Worker side of `Adam.stepAsync`: the moments and steps of its share of the tensors, one job per message,
 * arrays transferred both ways. Says "ready" once the kernel is compiled, so that nothing is handed to a
 * worker that could not start.
 * @module
 */
import { adamUpdate } from "./adam_kernel.ts";
import type { AdamJob } from "./adam_worker_client.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent<AdamJob>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (e) => {
  const job = e.data;
  // each tensor goes back as soon as it is done, so that the caller adds its step while this one goes on
  job.g.forEach((g, i) => {
    const [m, v] = [job.m[i], job.v[i]];
    adamUpdate(undefined, g, m, v, job.b1, job.b2, 0, job.stepSize, job.bc2Sqrt, job.eps);
    scope.postMessage({ i, g, m, v }, [
      g.buffer as ArrayBuffer,
      m.buffer as ArrayBuffer,
      v.buffer as ArrayBuffer,
    ]);
  });
};
// compiles the kernel now rather than on the first job
adamUpdate(
  undefined,
  new Float32Array(4),
  new Float32Array(4),
  new Float32Array(4),
  0.9,
  0.999,
  0,
  1e-3,
  1,
  1e-8,
);
scope.postMessage("ready");
