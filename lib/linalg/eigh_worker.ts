/**
 * Worker side of `symEigAsync`: one decomposition per message, buffers transferred both ways.
 * @module
 */
import { symEig, varianceCount } from "./eigh.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
  close(): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const { n, data, vectors, count, keep, maxDims } = e.data;
  const r = symEig({ rows: n, cols: n, data }, {
    vectors,
    count,
    selectCount: keep !== undefined ? (v) => varianceCount(v, keep, maxDims) : undefined,
  });
  const buffers = [r.values.buffer, ...(r.vectors ? [r.vectors.data.buffer] : [])] as ArrayBuffer[];
  scope.postMessage({ values: r.values, vectors: r.vectors }, buffers);
  scope.close();
};
