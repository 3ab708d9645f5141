/**
 * Adam's update kernel: WebAssembly float32 SIMD (lib/optim/adam.wat, compiled into adam_wasm.ts), in torch's
 * order of operations, one tensor at a time in cache-sized chunks. {@linkcode Adam} runs it on this thread
 * and its worker (lib/optim/adam_worker.ts) on the other.
 * @module
 */
import { ADAM_WASM_BASE64 } from "./adam_wasm.ts";

// The update runs in WebAssembly (adam.wat: float32 SIMD, torch's order of operations) instead of a JS loop,
// which computed in float64: CBR-Small's 2.1 M parameters 11 → 4 ms, ResNet-50's 23.5 M 114 → 65 ms (there
// memory bandwidth is the limit). Tensors pass through in chunks that stay in cache.
const CHUNK = 16384;
let kernel: {
  update: (n: number, ...scalars: number[]) => void;
  add: (n: number) => void;
  lanes: Float32Array[];
} | undefined;

function adamKernel(): NonNullable<typeof kernel> {
  if (kernel) return kernel;
  const bytes = Uint8Array.from(atob(ADAM_WASM_BASE64), (c) => c.charCodeAt(0));
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const mem = (exports.memory as WebAssembly.Memory).buffer;
  // p, g, m, v: adam.wat's memory layout
  const lanes = [0, 1, 2, 3].map((k) => new Float32Array(mem, k * CHUNK * 4, CHUNK));
  kernel = {
    update: exports.update as (n: number, ...scalars: number[]) => void,
    add: exports.add as (n: number) => void,
    lanes,
  };
  return kernel;
}

/**
 * One tensor's update by the kernel, in place. With `p` undefined it runs against p = 0 (no weight decay)
 * and writes the step −lr·m̂/(√v̂ + ε) into `g` instead: what `Adam.stepAsync`'s worker does (lib/optim/optimizers.ts).
 */
export function adamUpdate(
  p: Float32Array | undefined,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  b1: number,
  b2: number,
  wd: number,
  stepSize: number,
  bc2Sqrt: number,
  eps: number,
): void {
  const { update, lanes: [P, G, M, V] } = adamKernel();
  for (let o = 0; o < g.length; o += CHUNK) {
    const n = Math.min(CHUNK, g.length - o), end = o + n;
    if (p) P.set(p.subarray(o, end));
    else P.fill(0, 0, n);
    G.set(g.subarray(o, end));
    M.set(m.subarray(o, end));
    V.set(v.subarray(o, end));
    // whole SIMD lanes: the ones past the end compute from zeros and are not copied back
    const r = (n + 3) & ~3;
    for (const a of [P, G, M, V]) a.fill(0, n, r);
    update(r, b1, 1 - b1, b2, 1 - b2, wd, stepSize, bc2Sqrt, eps);
    (p ?? g).set(P.subarray(0, n), o);
    m.set(M.subarray(0, n), o);
    v.set(V.subarray(0, n), o);
  }
}

/** p ← p + step in float32 (p − lr·m̂/(√v̂ + ε) exactly as the whole kernel computes it), by the kernel's lanes. */
export function addSteps(p: Float32Array, step: Float32Array): void {
  const { add, lanes: [P, G] } = adamKernel();
  for (let o = 0; o < p.length; o += CHUNK) {
    const n = Math.min(CHUNK, p.length - o), end = o + n;
    P.set(p.subarray(o, end));
    G.set(step.subarray(o, end));
    add((n + 3) & ~3);
    p.set(P.subarray(0, n), o);
  }
}
