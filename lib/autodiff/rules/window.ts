/**
 * What the window rules share (Conv's im2col and MaxPool's window backward): constants made once per graph,
 * the one-hot window kernels, padding along an axis, and the k² strided slices of the windows.
 * @module
 */
import type { Graph } from "../../graph/graph.ts";
import type { Value } from "../../graph/types.ts";
import { cachedConst } from "../../graph/consts.ts";

export { cachedConst };

/**
 * [C·kh·kw, 1, kh, kw] one-hot kernels: a grouped Conv with them lays out each window as im2col columns
 * (channel c·kh·kw + i·kw + j holds offset (i, j)); a grouped ConvTranspose with them adds such stacked
 * columns back at their positions (col2im).
 */
export function oneHotWindows(
  g: Graph,
  c: number,
  kh: number,
  kw: number,
  dtype: "float32" | "float64",
): Value {
  const kk = kh * kw;
  return cachedConst(g, `im2col_${c}x${kh}x${kw}`, dtype, [c * kk, 1, kh, kw], (data) => {
    for (let ch = 0; ch < c; ch++) for (let j = 0; j < kk; j++) data[(ch * kk + j) * kk + j] = 1;
  });
}

/** `t` with `before` and `after` elements of `value` around it along `axis` (ConstantOfShape + Concat). */
export function padAxis(g: Graph, t: Value, axis: number, before: number, after: number, value = 0): Value {
  const block = (len: number) =>
    g.op.ConstantOfShape(t.shape.map((d, a) => (a === axis ? len : d)), {
      value: { dtype: t.dtype, data: [value] },
    });
  const parts = [...(before > 0 ? [block(before)] : []), t, ...(after > 0 ? [block(after)] : [])];
  return parts.length > 1 ? g.op.Concat(parts, { axis }) : t;
}

/**
 * The N×C×H×W input cut or padded with `value` to exactly what ho×wo windows of size k, stride s, leading
 * pads p read: from the top-left padding to the last window's end (rows past it are cut).
 */
export function windowSpan(
  g: Graph,
  x: Value,
  k: readonly number[],
  s: readonly number[],
  p: readonly number[],
  out: readonly [number, number],
  value = 0,
): Value {
  let xp = x;
  for (const ax of [2, 3] as const) {
    const i = ax - 2, size = xp.shape[ax], before = p[i], span = (out[i] - 1) * s[i] + k[i];
    const after = span - size - before;
    const cut = after < 0 ? g.op.Slice(xp, [0], [size + after], [ax]) : xp;
    xp = padAxis(g, cut, ax, before, Math.max(0, after), value);
  }
  return xp;
}

/** The strided slice of a {@linkcode windowSpan} that window offset (i, j) sees: N×C×ho×wo. */
export function windowSlice(
  g: Graph,
  span: Value,
  i: number,
  j: number,
  s: readonly number[],
  out: readonly [number, number],
): Value {
  return g.op.Slice(span, [i, j], [i + (out[0] - 1) * s[0] + 1, j + (out[1] - 1) * s[1] + 1], [2, 3], s);
}
