/**
 * Batch assembly shared by the loader and its worker: uint8 HWC RGB → normalised float32 CHW, with
 * optional flips and rotation. Augmentation draws come from a generator forked per (epoch, position), so a
 * batch is the same whichever thread builds it.
 * @module
 */
import { Rng } from "../util/random.ts";

/** ImageNet channel means (RGB, on the 0-1 scale), as torchvision's `Normalize`. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Augmentation settings; `true` means flips on both axes and any rotation. */
export interface AugmentOptions {
  /** horizontal flip with probability ½ (default true) */
  hflip?: boolean;
  /** vertical flip with probability ½ (default true) */
  vflip?: boolean;
  /** rotation by a uniform angle in ±degrees (default 180; 0 = none), bilinear, black corners */
  rotate?: number;
}

/** Resolved augmentation (all fields set). */
export type Augment = Required<AugmentOptions>;

/** Normalises `true`/`false`/partial options into an {@linkcode Augment} or null. */
export function resolveAugment(a: boolean | AugmentOptions | undefined): Augment | null {
  if (!a) return null;
  const o = a === true ? {} : a;
  return { hflip: o.hflip ?? true, vflip: o.vflip ?? true, rotate: o.rotate ?? 180 };
}

/** Per-channel lookup tables byte → normalised float. */
export function normLut(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    if (!(std[c] > 0)) throw new RangeError(`Std of channel ${c} must be positive, got ${std[c]}`);
    return Float32Array.from({ length: 256 }, (_, v) => (v / 255 - mean[c]) / std[c]);
  });
}

/**
 * Writes one H×W×3 uint8 image into `out` at `offset` as 3×H×W normalised floats, after augmentation
 * drawn from `rng` (if `aug`). `scratch` must hold H×W×3 bytes when rotating.
 */
export function writeSample(
  img: Uint8Array,
  size: number,
  out: Float32Array,
  offset: number,
  lut: Float32Array[],
  aug: Augment | null,
  rng: Rng | null,
  scratch?: Uint8Array,
): void {
  const hw = size * size;
  const l0 = lut[0], l1 = lut[1], l2 = lut[2];
  let src = img;
  let fx = false, fy = false;
  if (aug && rng) {
    fx = aug.hflip && rng.float() < 0.5;
    fy = aug.vflip && rng.float() < 0.5;
    const angle = aug.rotate > 0 ? rng.uniform(-aug.rotate, aug.rotate) : 0;
    if (angle !== 0) {
      const dst = scratch && scratch.length >= hw * 3 ? scratch : new Uint8Array(hw * 3);
      rotate(img, size, (angle * Math.PI) / 180, dst);
      src = dst;
    }
  }
  for (let y = 0; y < size; y++) {
    const sy = fy ? size - 1 - y : y;
    for (let x = 0; x < size; x++) {
      const sx = fx ? size - 1 - x : x;
      const p = (sy * size + sx) * 3, q = offset + y * size + x;
      out[q] = l0[src[p]];
      out[q + hw] = l1[src[p + 1]];
      out[q + 2 * hw] = l2[src[p + 2]];
    }
  }
}

/** Rotates a square RGB image about its centre (bilinear; outside the source → black). */
export function rotate(img: Uint8Array, size: number, rad: number, dst: Uint8Array): void {
  const c = (size - 1) / 2, cos = Math.cos(rad), sin = Math.sin(rad);
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const dy = y - c;
    // Inverse mapping: the source point of output pixel (x, y) moves linearly along the row.
    let sx = -cos * c + sin * dy + c, sy = sin * c + cos * dy + c;
    for (let x = 0, q = y * row; x < size; x++, q += 3, sx += cos, sy -= sin) {
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= size || y0 >= size) {
        dst[q] = dst[q + 1] = dst[q + 2] = 0;
        continue;
      }
      const ax = sx - x0, ay = sy - y0;
      const w00 = (1 - ax) * (1 - ay), w10 = ax * (1 - ay), w01 = (1 - ax) * ay, w11 = ax * ay;
      const in0 = y0 >= 0, in1 = y0 + 1 < size, inL = x0 >= 0, inR = x0 + 1 < size;
      const p = y0 * row + x0 * 3;
      for (let k = 0; k < 3; k++) {
        let v = 0;
        if (in0 && inL) v += w00 * img[p + k];
        if (in0 && inR) v += w10 * img[p + 3 + k];
        if (in1 && inL) v += w01 * img[p + row + k];
        if (in1 && inR) v += w11 * img[p + row + 3 + k];
        dst[q + k] = v + 0.5;
      }
    }
  }
}

/** The generator for the augmentation of the sample at `position` of epoch `epoch`. */
export function sampleRng(seed: number | string, epoch: number, position: number): Rng {
  return new Rng(`${seed}:aug:${epoch}:${position}`);
}
