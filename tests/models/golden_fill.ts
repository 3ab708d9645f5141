/**
 * The twin of `fill`/`uniform` in scripts/golden_models.py: deterministic tensors from a 32-bit integer
 * hash, float64 arithmetic and one rounding to float32, so both sides agree bit for bit.
 */
import type { ParamSpec } from "../../lib/models/nn.ts";
import type { StateDict } from "../../lib/weights/state_dict.ts";

function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** n values in [-1, 1) of stream t (exact multiples of 2^-23), as float64. */
export function uniform(t: number, n: number): Float64Array {
  const base = Math.imul(t, 0x9e3779b9) >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (hash32((i + base) >>> 0) >>> 8) * 2 ** -23 - 1;
  return out;
}

/** The golden input image batch of stream t. */
export function image(t: number, shape: number[]): Float32Array {
  return Float32Array.from(uniform(t, shape.reduce((a, b) => a * b, 1)));
}

/** Fills a state dict like the Python `fill(model, gain)`; tensor t = position in the spec. */
export function fill(specs: readonly ParamSpec[], gain: number): StateDict {
  const out: StateDict = new Map();
  specs.forEach((s, t) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.name.endsWith("num_batches_tracked")) {
      out.set(s.name, { shape: [...s.shape], data: new BigInt64Array(n) });
      return;
    }
    const u = uniform(t, n);
    const data = new Float32Array(n);
    const k = s.name;
    if (k.endsWith("running_var")) { for (let i = 0; i < n; i++) data[i] = 1 + 0.5 * u[i]; }
    else if (k.endsWith("running_mean")) { for (let i = 0; i < n; i++) data[i] = 0.1 * u[i]; }
    else if (s.shape.length >= 2) {
      const scale = Math.sqrt(gain / (n / s.shape[0]));
      for (let i = 0; i < n; i++) data[i] = u[i] * scale;
    } else if (k.endsWith("bias")) { for (let i = 0; i < n; i++) data[i] = 0.1 * u[i]; }
    else for (let i = 0; i < n; i++) data[i] = 1 + 0.25 * u[i];
    out.set(s.name, { shape: [...s.shape], data });
  });
  return out;
}
