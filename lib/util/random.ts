/**
 * The project's one seeded random generator (xoshiro128**, seeded through splitmix32), so that splits,
 * initialisations, bootstrap resamples, augmentation and dropout masks are reproducible across machines:
 * it uses only 32-bit integer arithmetic, which JavaScript engines compute identically everywhere.
 * @module
 */

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A seeded pseudo-random generator. Streams for separate purposes come from {@linkcode Rng.fork}, so
 * adding draws to one purpose never shifts another's.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const a = new Rng(42), b = new Rng(42);
 * if (a.float() !== b.float()) throw new Error("not reproducible");
 * ```
 */
export class Rng {
  #s = new Uint32Array(4);
  #spare: number | null = null;

  /** `seed` is any integer or string; strings are hashed (FNV-1a). */
  constructor(seed: number | string) {
    let h: number;
    if (typeof seed === "string") {
      h = 0x811c9dc5;
      for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
    } else {
      if (!Number.isFinite(seed)) throw new RangeError(`Seed must be a finite number, got ${seed}`);
      h = (seed | 0) ^ Math.floor(seed / 4294967296);
    }
    let st = h | 0;
    for (let i = 0; i < 4; i++) {
      const [ns, v] = splitmix32(st);
      st = ns;
      this.#s[i] = v;
    }
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** A uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`Range must be at least 1, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** A standard normal draw (Box-Muller, both values used). */
  normal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return mean + std * v;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** A normal draw truncated to [a, b] by rejection (as `torch.nn.init.trunc_normal_` bounds it). */
  truncNormal(mean: number, std: number, a: number, b: number): number {
    for (;;) {
      const v = this.normal(mean, std);
      if (v >= a && v <= b) return v;
    }
  }

  /** Shuffles `arr` in place (Fisher-Yates) and returns it. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** An independent generator derived from this one's seed material and a label. */
  fork(label: string | number): Rng {
    return new Rng(`${this.#s[0]}:${this.#s[1]}:${this.#s[2]}:${this.#s[3]}:${label}`);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
