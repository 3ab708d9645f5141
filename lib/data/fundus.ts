/**
 * Per-image preprocessing: decode with sharp (JPEG shrink-on-load where the output allows), find the
 * circular fundus field, crop the square around it (black outside the circle), resize, and optionally apply
 * Ben Graham's local-average normalisation; or, for ImageNet-style photos, torchvision's evaluation transform
 * ({@linkcode resizeCenterCrop}). Pure geometry lives in {@linkcode findFundus}, {@linkcode cropCircle} and
 * {@linkcode resizeCenterCrop} so that it is testable without images on disk.
 * @module
 */
import sharp from "npm:sharp@0.35.5";
import { errorMessage } from "../util/errors.ts";

/** A fitted fundus field, in pixels of the image it was found in. */
export interface FundusCircle {
  /** centre x */
  cx: number;
  /** centre y */
  cy: number;
  /** radius */
  r: number;
  /** "disc": a circle was fitted to the field's edge; "frame": the field fills the whole photo */
  kind: "disc" | "frame";
}

/**
 * Finds the fundus field in an RGB image (`width`×`height`×3 bytes): thresholds brightness against the
 * corners' background level, takes the leftmost/rightmost (and top/bottom) field pixels per row (column),
 * drops those on the photo's border (fields cut off by the sensor), and fits a circle by least squares with
 * outlier rejection (notch marks, labels, JPEG noise). A photo with no dark border at all counts as "frame".
 * Returns null when there is no fundus-like field (blank, too dark, or not a disc).
 *
 * @example
 * ```ts
 * import { findFundus } from "./fundus.ts";
 * const w = 120, h = 100, img = new Uint8Array(w * h * 3);
 * for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
 *   if ((x - 60) ** 2 + (y - 50) ** 2 < 40 ** 2) img.set([180, 90, 40], (y * w + x) * 3);
 * }
 * const c = findFundus(img, w, h);
 * if (!c || Math.abs(c.r - 40) > 1.5) throw new Error("disc not found");
 * ```
 */
export function findFundus(rgb: Uint8Array, width: number, height: number): FundusCircle | null {
  if (rgb.length < width * height * 3) {
    throw new RangeError(`Image buffer has ${rgb.length} bytes, needs ${width * height * 3}`);
  }
  // A coarse grid (300-600 cells on the long side) is plenty for a circle fit and keeps this ~1 ms.
  const g = Math.max(1, Math.floor(Math.max(width, height) / 300));
  const gw = Math.floor(width / g), gh = Math.floor(height / g);
  if (gw < 8 || gh < 8) return null;
  const v = new Uint8Array(gw * gh);
  let sumR = 0, sumB = 0;
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      const p = ((y * g) * width + x * g) * 3;
      const r = rgb[p], gg = rgb[p + 1], b = rgb[p + 2];
      v[y * gw + x] = r > gg ? (r > b ? r : b) : (gg > b ? gg : b);
      sumR += r;
      sumB += b;
    }
  }
  const cw = Math.max(2, Math.round(gw * 0.06)), ch = Math.max(2, Math.round(gh * 0.06));
  const corner: number[] = [];
  for (const [x0, y0] of [[0, 0], [gw - cw, 0], [0, gh - ch], [gw - cw, gh - ch]]) {
    for (let y = y0; y < y0 + ch; y++) for (let x = x0; x < x0 + cw; x++) corner.push(v[y * gw + x]);
  }
  corner.sort((a, b) => a - b);
  const bg = corner[Math.floor(corner.length / 2)];
  const hist = new Uint32Array(256);
  for (let i = 0; i < v.length; i++) hist[v[i]]++;
  let fg = 0;
  for (let acc = 0; fg < 255 && (acc += hist[fg]) < 0.9 * v.length;) fg++;
  const redish = sumR > 1.3 * sumB;
  // Bright corners: no black border at all, the field fills the photo (some APTOS / cropped sets).
  if (bg > 40) {
    return redish ? { cx: width / 2, cy: height / 2, r: Math.max(width, height) / 2, kind: "frame" } : null;
  }
  if (fg - bg < 12) return null;
  const thr = bg + Math.max(8, 0.1 * (fg - bg));
  const mask = new Uint8Array(gw * gh);
  let on = 0;
  for (let i = 0; i < v.length; i++) if (v[i] > thr) (mask[i] = 1), on++;

  const px: number[] = [], py: number[] = [];
  const run = 3;
  // Cell k covers pixels [k*g, (k+1)*g); an edge between cells k-1 and k sits at pixel k*g.
  for (let y = 0; y < gh; y++) {
    const row = y * gw;
    let l = -1, r = -1;
    for (let x = 0; x + run <= gw; x++) {
      if (mask[row + x] && mask[row + x + 1] && mask[row + x + 2]) {
        l = x;
        break;
      }
    }
    if (l < 0) continue;
    for (let x = gw - 1; x - run + 1 >= 0; x--) {
      if (mask[row + x] && mask[row + x - 1] && mask[row + x - 2]) {
        r = x;
        break;
      }
    }
    const yc = (y + 0.5) * g;
    if (l > 0) px.push(l * g), py.push(yc);
    if (r < gw - 1) px.push((r + 1) * g), py.push(yc);
  }
  for (let x = 0; x < gw; x++) {
    let t = -1, b = -1;
    for (let y = 0; y + run <= gh; y++) {
      if (mask[y * gw + x] && mask[(y + 1) * gw + x] && mask[(y + 2) * gw + x]) {
        t = y;
        break;
      }
    }
    if (t < 0) continue;
    for (let y = gh - 1; y - run + 1 >= 0; y--) {
      if (mask[y * gw + x] && mask[(y - 1) * gw + x] && mask[(y - 2) * gw + x]) {
        b = y;
        break;
      }
    }
    const xc = (x + 0.5) * g;
    if (t > 0) px.push(xc), py.push(t * g);
    if (b < gh - 1) px.push(xc), py.push((b + 1) * g);
  }

  const frame = (): FundusCircle | null =>
    on >= 0.97 * gw * gh && redish
      ? { cx: width / 2, cy: height / 2, r: Math.max(width, height) / 2, kind: "frame" }
      : null;
  if (px.length < 24) return frame();

  let keep = px.map((_, i) => i);
  let circle = fitCircle(px, py, keep);
  for (let it = 0; it < 4 && circle; it++) {
    const c = circle;
    const res = px.map((x, i) => Math.abs(Math.hypot(x - c.cx, py[i] - c.cy) - c.r));
    const med = percentile(keep.map((i) => res[i]), 0.5);
    const tol = Math.max(1.5 * g, 3 * med);
    keep = px.map((_, i) => i).filter((i) => res[i] <= tol);
    if (keep.length < 12) return frame();
    circle = fitCircle(px, py, keep);
  }
  if (!circle) return frame();
  const { cx, cy, r } = circle;
  if (!(r >= 0.15 * Math.min(width, height)) || keep.length < 0.5 * px.length) return frame();
  // The mask must agree with the circle: mostly on inside, mostly off outside (within the photo).
  let inOn = 0, inAll = 0, outOn = 0, outAll = 0;
  const rIn = Math.max(0, r - 2 * g) ** 2, rOut = (r + 2 * g) ** 2;
  for (let y = 0; y < gh; y++) {
    const dy2 = ((y + 0.5) * g - cy) ** 2;
    for (let x = 0; x < gw; x++) {
      const dx = (x + 0.5) * g - cx, d2 = dx * dx + dy2;
      if (d2 < rIn) (inAll++, inOn += mask[y * gw + x]);
      else if (d2 > rOut) (outAll++, outOn += mask[y * gw + x]);
    }
  }
  if (inAll === 0 || inOn < 0.8 * inAll || (outAll > 0 && outOn > 0.1 * outAll)) return frame();
  return { cx, cy, r, kind: "disc" };
}

function percentile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0;
}

/** Kasa's algebraic circle fit: least squares on x² + y² + Dx + Ey + F = 0. */
function fitCircle(px: number[], py: number[], idx: number[]): { cx: number; cy: number; r: number } | null {
  // Centred coordinates keep the 3×3 normal equations well conditioned.
  let mx = 0, my = 0;
  for (const i of idx) (mx += px[i], my += py[i]);
  mx /= idx.length;
  my /= idx.length;
  const A = [0, 0, 0, 0, 0, 0, 0, 0, 0], b = [0, 0, 0];
  for (const i of idx) {
    const x = px[i] - mx, y = py[i] - my, z = -(x * x + y * y);
    const row = [x, y, 1];
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) A[j * 3 + k] += row[j] * row[k];
      b[j] += row[j] * z;
    }
  }
  const sol = solve3(A, b);
  if (!sol) return null;
  const [D, E, F] = sol;
  const cx = -D / 2, cy = -E / 2, r2 = cx * cx + cy * cy - F;
  if (!(r2 > 0)) return null;
  return { cx: cx + mx, cy: cy + my, r: Math.sqrt(r2) };
}

function solve3(A: number[], b: number[]): number[] | null {
  const m = [[...A.slice(0, 3), b[0]], [...A.slice(3, 6), b[1]], [...A.slice(6, 9), b[2]]];
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) return null;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k < 4; k++) m[r][k] -= f * m[c][k];
    }
  }
  return [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
}

/**
 * Copies the square around a circle out of an RGB image, black where the square leaves the photo, and
 * (when `mask`) black outside the circle. Returns the square (side = round(2r)) and its origin.
 */
export function cropCircle(
  rgb: Uint8Array,
  width: number,
  height: number,
  c: { cx: number; cy: number; r: number },
  mask = true,
): { data: Uint8Array; side: number; x0: number; y0: number } {
  const side = Math.max(1, Math.round(2 * c.r));
  const x0 = Math.round(c.cx - side / 2), y0 = Math.round(c.cy - side / 2);
  const out = new Uint8Array(side * side * 3);
  const xa = Math.max(0, x0), xb = Math.min(width, x0 + side);
  for (let y = 0; y < side; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= height || xb <= xa) continue;
    out.set(rgb.subarray((sy * width + xa) * 3, (sy * width + xb) * 3), (y * side + (xa - x0)) * 3);
  }
  if (mask) {
    // Centre of the square in its own pixel coordinates; one pixel of slack keeps the field's rim.
    const ccx = c.cx - x0 - 0.5, ccy = c.cy - y0 - 0.5, rr = (c.r + 1) * (c.r + 1);
    for (let y = 0; y < side; y++) {
      const dy = y - ccy;
      const d2 = rr - dy * dy;
      if (d2 <= 0) {
        out.fill(0, y * side * 3, (y + 1) * side * 3);
        continue;
      }
      const half = Math.sqrt(d2);
      const l = Math.max(0, Math.ceil(ccx - half)), r = Math.min(side, Math.floor(ccx + half) + 1);
      out.fill(0, y * side * 3, (y * side + Math.min(l, side)) * 3);
      if (r > 0) out.fill(0, (y * side + r) * 3, (y + 1) * side * 3);
    }
  }
  return { data: out, side, x0, y0 };
}

/** Pads an RGB image with black to a centred square. */
export function padSquare(
  rgb: Uint8Array,
  width: number,
  height: number,
): { data: Uint8Array; side: number } {
  const side = Math.max(width, height);
  if (width === height) return { data: rgb, side };
  const out = new Uint8Array(side * side * 3);
  const ox = Math.floor((side - width) / 2), oy = Math.floor((side - height) / 2);
  for (let y = 0; y < height; y++) {
    out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), ((y + oy) * side + ox) * 3);
  }
  return { data: out, side };
}

/**
 * PIL's `Image.resize(…, BILINEAR)` of RGB bytes, to the bit: a triangle filter widened by the reduction
 * factor where shrinking (antialiased, as torchvision's `Resize` on PIL images and on tensors with
 * `antialias=True`), weights in PIL's 22-bit fixed point, the horizontal pass first and rounded to bytes before
 * the vertical one (Pillow's Resample.c). Exact, so that `--crop center` is torchvision's transform and not
 * an approximation of it (tests/data/center_crop_test.ts).
 */
export function resizeBilinear(
  rgb: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`Image buffer has ${rgb.length} bytes, needs ${width * height * 3}`);
  }
  let img = rgb, w = width;
  if (outWidth !== width) {
    const { bounds, kk, ksize } = resampleCoeffs(width, outWidth);
    const tmp = new Uint8Array(outWidth * height * 3);
    for (let y = 0; y < height; y++) {
      const row = y * width * 3, orow = y * outWidth * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[2 * xx], n = bounds[2 * xx + 1], k = xx * ksize;
        for (let c = 0; c < 3; c++) {
          let ss = HALF;
          for (let x = 0; x < n; x++) ss += img[row + (xmin + x) * 3 + c] * kk[k + x];
          tmp[orow + xx * 3 + c] = clip8(ss);
        }
      }
    }
    img = tmp;
    w = outWidth;
  }
  if (outHeight !== height) {
    const { bounds, kk, ksize } = resampleCoeffs(height, outHeight);
    const out = new Uint8Array(w * outHeight * 3);
    for (let yy = 0; yy < outHeight; yy++) {
      const ymin = bounds[2 * yy], n = bounds[2 * yy + 1], k = yy * ksize;
      for (let i = 0; i < w * 3; i++) {
        let ss = HALF;
        for (let y = 0; y < n; y++) ss += img[(ymin + y) * w * 3 + i] * kk[k + y];
        out[yy * w * 3 + i] = clip8(ss);
      }
    }
    img = out;
  }
  return img === rgb ? rgb.slice() : img;
}

/** Pillow's fixed-point precision for 8-bit images: 32 − 8 − 2 bits, and its rounding offset. */
const PRECISION_BITS = 22, HALF = 1 << (PRECISION_BITS - 1);

function clip8(ss: number): number {
  return ss <= 0 ? 0 : ss >= 255 << PRECISION_BITS ? 255 : ss >> PRECISION_BITS;
}

/**
 * Pillow's `precompute_coeffs` for its bilinear filter (support 1) with `normalize_coeffs_8bpc`: per output
 * pixel the first input pixel and the count it reads, and their fixed-point weights.
 */
function resampleCoeffs(inSize: number, outSize: number) {
  const scale = inSize / outSize, filterscale = Math.max(1, scale), support = filterscale;
  const ss = 1 / filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(2 * outSize), kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < n; x++) {
      w[x] = Math.max(0, 1 - Math.abs((x + xmin - center + 0.5) * ss));
      ww += w[x];
    }
    for (let x = 0; x < n; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      kk[xx * ksize + x] = Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = n;
  }
  return { bounds, kk, ksize };
}

/**
 * The side the shorter side is resized to before `--crop center` cuts `size`: size · 256/224, rounded, as
 * torchvision's weights' transforms have it (224 → 256, 299 → 342).
 */
export function centerCropResize(size: number): number {
  return Math.round((size * 256) / 224);
}

/**
 * torchvision's ImageNet evaluation transform on RGB bytes: `Resize(centerCropResize(size))` (the shorter side
 * to that, the longer in proportion, truncated; bilinear, antialiased) then `CenterCrop(size)` (offsets
 * rounded half to even, as Python's `round`). Returns size×size×3 bytes.
 */
export function resizeCenterCrop(rgb: Uint8Array, width: number, height: number, size: number): Uint8Array {
  const short = centerCropResize(size);
  const [w, h] = width <= height
    ? [short, Math.trunc((short * height) / width)]
    : [Math.trunc((short * width) / height), short];
  const img = w === width && h === height ? rgb : resizeBilinear(rgb, width, height, w, h);
  const top = roundHalfEven((h - size) / 2), left = roundHalfEven((w - size) / 2);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    out.set(img.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + size) * 3), y * size * 3);
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Ben Graham's Kaggle 2015 normalisation on a square fundus crop: 4·(img − GaussianBlur(img, σ = radius/30))
 * + 128, clipped, with everything outside 90 % of the radius set to 128.
 */
export async function grahamNormalise(rgb: Uint8Array, size: number): Promise<Uint8Array> {
  const sigma = Math.max(0.3, size / 2 / 30);
  // sharp's default blur cuts the kernel where it falls below 20 % of its peak and uses integer weights:
  // up to 16 grey levels from a Gaussian (tests/data/fundus_test.ts, scipy golden); float weights down to
  // 0.1 % stay within 1.03
  const blur = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .blur({ sigma, precision: "float", minAmplitude: 0.001 }).raw().toBuffer();
  const out = new Uint8Array(size * size * 3);
  const c = (size - 1) / 2, rr = (0.9 * size / 2) ** 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      if ((x - c) ** 2 + (y - c) ** 2 > rr) {
        out[p] = out[p + 1] = out[p + 2] = 128;
        continue;
      }
      for (let k = 0; k < 3; k++) {
        out[p + k] = Math.max(0, Math.min(255, 4 * (rgb[p + k] - blur[p + k]) + 128));
      }
    }
  }
  return out;
}

/** How a photo becomes a square, with what each way is for: the one list `--crop` takes. */
export const CROP_MODES: Readonly<Record<CropMode, string>> = {
  fundus: "find the fundus field, crop the square around it (retina photos)",
  none: "pad the photo to a square with black (photos already framed, e.g. MedMNIST)",
  center: "torchvision's eval transform: shorter side to size·256/224, centre crop (ImageNet-style photos)",
};

/** A key of {@linkcode CROP_MODES}. */
export type CropMode = "fundus" | "none" | "center";

/** The lines of a task's `--help` under `--crop`: each mode, `indent`ed, and what it is for. */
export function cropHelp(indent: string, defaultMode: CropMode): string {
  return Object.entries(CROP_MODES)
    .map(([k, v]) => `${indent}${k}${k === defaultMode ? " (default)" : ""}: ${v}`)
    .join("\n");
}

/** The crop mode a `--crop` flag names, or undefined when absent; a RangeError for any other word. */
export function parseCropMode(text: string | undefined): CropMode | undefined {
  if (text === undefined) return undefined;
  if (!Object.hasOwn(CROP_MODES, text)) {
    throw new RangeError(`--crop must be one of ${Object.keys(CROP_MODES).join(", ")}, got '${text}'`);
  }
  return text as CropMode;
}

/** Options for {@linkcode preprocessImage}. */
export interface PreprocessImageOptions {
  /** output side in pixels (square) */
  size: number;
  /** how the photo becomes a square ({@linkcode CROP_MODES}); default "fundus" */
  crop?: CropMode;
  /** apply {@linkcode grahamNormalise} */
  graham?: boolean;
}

/** What {@linkcode preprocessImage} returns. */
export interface PreprocessedImage {
  /** size×size×3 RGB bytes */
  data: Uint8Array;
  /** the source photo's width and height */
  width: number;
  /** the source photo's height */
  height: number;
  /** the field found, in source-photo pixels; null with crop "none" or "center" */
  circle: FundusCircle | null;
}

/**
 * Decodes one photo (encoded bytes, or raw RGB with its dimensions) and returns the square, resized,
 * optionally normalised crop. Throws a TypeError naming `name` when the file cannot be decoded or no
 * fundus field is found.
 */
export async function preprocessImage(
  input: Uint8Array | { raw: Uint8Array; width: number; height: number },
  opts: PreprocessImageOptions,
  name = "image",
): Promise<PreprocessedImage> {
  const size = opts.size;
  if (!Number.isInteger(size) || size < 8 || size > 8192) {
    throw new RangeError(`Size must be 8-8192, got ${size}`);
  }
  let W: number, H: number, rgb: Uint8Array, w: number, h: number;
  if (input instanceof Uint8Array) {
    let meta;
    try {
      meta = await sharp(input).metadata();
    } catch (e) {
      throw new TypeError(`${name} cannot be decoded: ${errorMessage(e)}`);
    }
    W = meta.autoOrient?.width ?? meta.width ?? 0;
    H = meta.autoOrient?.height ?? meta.height ?? 0;
    if (!(W > 0 && H > 0)) throw new TypeError(`${name} has no image dimensions`);
    // JPEG shrink-on-load by the largest factor that keeps a field as tall as the photo at ≥ size pixels.
    // Decode straight to a scale t where a field as tall as the photo is a little over `size` pixels:
    // libjpeg then skips most of the work (shrink-on-load by 2/4/8) and libvips reduces the rest. sharp
    // only uses shrink-on-load k when the overall factor reaches k + 1, so asking for exactly W/2 would
    // decode every pixel. PNGs decode in full either way, so they are not pre-reduced.
    const scaleFor = (field: number) => (meta.format === "jpeg" ? Math.min(1, (1.06 * size) / field) : 1);
    // torchvision's transform reads every decoded pixel: a pre-reduced decode would give another image
    let t = opts.crop === "center" ? 1 : scaleFor(Math.min(W, H));
    const decode = async (t: number) => {
      try {
        const img = sharp(input, { failOn: "error" }).autoOrient().removeAlpha().toColourspace("srgb");
        const p = t < 0.75 ? img.resize(Math.ceil(W * t), Math.ceil(H * t), { kernel: "linear" }) : img;
        const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
        return {
          data: new Uint8Array(data.buffer, data.byteOffset, data.length),
          w: info.width,
          h: info.height,
        };
      } catch (e) {
        throw new TypeError(`${name} cannot be decoded: ${errorMessage(e)}`);
      }
    };
    let d = await decode(t);
    if (opts.crop !== "none" && t < 1) {
      // A field much smaller than the photo needs a finer decode to reach `size` pixels across.
      const c = findFundus(d.data, d.w, d.h);
      if (c && c.kind === "disc" && 2 * c.r < 0.95 * size) {
        t = scaleFor((2 * c.r * W) / d.w);
        d = await decode(t);
      }
    }
    ({ data: rgb, w, h } = d);
  } else {
    ({ raw: rgb, width: w, height: h } = input);
    W = w;
    H = h;
    if (rgb.length !== w * h * 3) throw new RangeError(`${name}: raw buffer is not ${w}×${h}×3`);
  }

  let out: Uint8Array, circle: FundusCircle | null = null;
  if (opts.crop === "center") out = resizeCenterCrop(rgb, w, h, size);
  else {
    let square: Uint8Array, side: number;
    if (opts.crop === "none") {
      ({ data: square, side } = padSquare(rgb, w, h));
    } else {
      const c = findFundus(rgb, w, h);
      if (!c) throw new TypeError(`${name}: no fundus field found (blank, too dark, or not a fundus photo)`);
      if (c.kind === "frame") ({ data: square, side } = padSquare(rgb, w, h));
      else ({ data: square, side } = cropCircle(rgb, w, h, c));
      const sx = W / w, sy = H / h;
      circle = { cx: c.cx * sx, cy: c.cy * sy, r: c.r * sx, kind: c.kind };
    }
    if (side === size) out = square;
    else {
      const buf = await sharp(square, { raw: { width: side, height: side, channels: 3 } })
        .resize(size, size, { kernel: "lanczos3" }).raw().toBuffer();
      out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    }
  }
  if (opts.graham) out = await grahamNormalise(out, size);
  return { data: out, width: W, height: H, circle };
}
