/**
 * Training batches from a cache: normalised float32 NCHW, reshuffled per epoch from the seed, optionally
 * augmented, built ahead of time in worker threads so the engine never waits for data.
 * @module
 */
import { Rng } from "../util/random.ts";
import type { Cache } from "./cache.ts";
import {
  type Augment,
  type AugmentOptions,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normLut,
  resolveAugment,
  sampleRng,
  writeSample,
} from "./batch.ts";
import type { BatchRequest, LoaderInit } from "./loader_worker.ts";

/** Options for {@linkcode Loader}. */
export interface LoaderOptions {
  /** images per batch */
  batch: number;
  /** seed of the per-epoch order and the augmentation */
  seed: number | string;
  /** reshuffle every epoch (training) or keep the given order (evaluation) */
  shuffle: boolean;
  /** flips and rotation (see {@linkcode AugmentOptions}); default none */
  augment?: boolean | AugmentOptions;
  /** drop a last, smaller batch; default false */
  dropLast?: boolean;
  /** channel means on the 0-1 scale; default ImageNet's */
  mean?: readonly number[];
  /** channel standard deviations; default ImageNet's */
  std?: readonly number[];
  /** batches built ahead; default 2 */
  prefetch?: number;
  /** worker threads building batches; default 1; 0 builds them on this thread between awaits */
  workers?: number;
}

/** One batch. */
export interface Batch {
  /** n×3×H×W, normalised */
  x: Float32Array;
  /** labels */
  y: Int32Array;
  /** cache indices of the images */
  index: Int32Array;
  /** images in this batch */
  n: number;
}

/**
 * Iterates a subset of a cache in batches. Same seed, epoch and options → the same batches, whichever
 * thread built them.
 *
 * @example
 * ```ts ignore
 * const loader = new Loader(cache, cache.indices("train"), { batch: 32, seed: 1, shuffle: true, augment: true });
 * for await (const b of loader.batches(0)) await step(b.x, b.y);
 * loader.close();
 * ```
 */
export class Loader {
  /** the cache read from */
  readonly cache: Cache;
  /** the cache indices iterated (a copy) */
  readonly indices: readonly number[];
  /** the options given */
  readonly opts: Readonly<LoaderOptions>;
  #aug: Augment | null;
  #lut: Float32Array[];
  #workers: Worker[] = [];
  #nextId = 0;
  #waiting = new Map<
    number,
    { resolve: (b: { x: Float32Array; y: Int32Array }) => void; reject: (e: Error) => void }
  >();

  /** Checks the indices and options; worker threads start with the first epoch. */
  constructor(cache: Cache, indices: readonly number[], opts: LoaderOptions) {
    if (!Number.isInteger(opts.batch) || opts.batch < 1) {
      throw new RangeError(`Batch must be ≥ 1, got ${opts.batch}`);
    }
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= cache.count) {
        throw new RangeError(`Index ${i} is outside the cache (0-${cache.count - 1})`);
      }
    }
    this.cache = cache;
    this.indices = indices.slice();
    this.opts = opts;
    this.#aug = resolveAugment(opts.augment);
    this.#lut = normLut(opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.indices.length, b = this.opts.batch;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The epoch's image order (cache indices). */
  order(epoch: number): number[] {
    const idx = this.indices.slice();
    return this.opts.shuffle ? new Rng(this.opts.seed).fork(`epoch:${epoch}`).shuffle(idx) : idx;
  }

  #startWorkers(): void {
    const n = this.opts.workers ?? 1;
    if (this.#workers.length || n <= 0) return;
    const init: LoaderInit = {
      dir: this.cache.dir,
      mean: [...(this.opts.mean ?? IMAGENET_MEAN)],
      std: [...(this.opts.std ?? IMAGENET_STD)],
      aug: this.#aug,
      seed: this.opts.seed,
    };
    for (let k = 0; k < n; k++) {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (ev: MessageEvent<{ id: number; x?: Float32Array; y?: Int32Array; error?: string }>) => {
        const r = ev.data, p = this.#waiting.get(r.id);
        if (!p) return;
        this.#waiting.delete(r.id);
        if (r.error !== undefined) p.reject(new Error(`Loader worker: ${r.error}`));
        else p.resolve({ x: r.x!, y: r.y! });
      };
      w.onerror = (e) => {
        e.preventDefault();
        for (const p of this.#waiting.values()) p.reject(new Error(`Loader worker failed: ${e.message}`));
        this.#waiting.clear();
      };
      w.postMessage({ init });
      this.#workers.push(w);
    }
  }

  #build(epoch: number, ids: number[], positions: number[]): Promise<{ x: Float32Array; y: Int32Array }> {
    if (this.#workers.length) {
      const id = this.#nextId++;
      const w = this.#workers[id % this.#workers.length];
      return new Promise((resolve, reject) => {
        this.#waiting.set(id, { resolve, reject });
        const req: BatchRequest = { id, epoch, indices: ids, positions };
        w.postMessage(req);
      });
    }
    // On this thread: a macrotask, so it runs while the caller awaits the engine.
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        try {
          const c = this.cache, hw = c.size * c.size, n = ids.length;
          const x = new Float32Array(n * 3 * hw), y = new Int32Array(n);
          const img = new Uint8Array(hw * 3), scratch = new Uint8Array(hw * 3);
          for (let k = 0; k < n; k++) {
            c.imageInto(ids[k], img);
            const rng = this.#aug ? sampleRng(this.opts.seed, epoch, positions[k]) : null;
            writeSample(img, c.size, x, k * 3 * hw, this.#lut, this.#aug, rng, scratch);
            y[k] = c.labels[ids[k]];
          }
          resolve({ x, y });
        } catch (e) {
          reject(e);
        }
      }, 0)
    );
  }

  /** The batches of one epoch, `prefetch` of them in preparation while the caller works. */
  async *batches(epoch: number): AsyncIterable<Batch> {
    if (this.cache.dir === undefined && (this.opts.workers ?? 1) > 0) {
      throw new TypeError("Loader workers need a cache opened from a folder; pass workers: 0");
    }
    this.#startWorkers();
    const order = this.order(epoch), b = this.opts.batch, nb = this.length;
    const ahead = Math.max(1, this.opts.prefetch ?? 2);
    const queue: { p: Promise<{ x: Float32Array; y: Int32Array }>; ids: number[] }[] = [];
    let next = 0;
    const request = () => {
      const ids = order.slice(next * b, Math.min(order.length, (next + 1) * b));
      const positions = ids.map((_, k) => next * b + k);
      const p = this.#build(epoch, ids, positions);
      p.catch(() => {}); // surfaced when awaited below
      queue.push({ p, ids });
      next++;
    };
    while (next < nb && queue.length < ahead) request();
    while (queue.length) {
      const { p, ids } = queue.shift()!;
      const { x, y } = await p;
      if (next < nb) request();
      yield { x, y, index: Int32Array.from(ids), n: ids.length };
    }
  }

  /** Stops the worker threads (a later `batches` call starts them again). */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
    for (const p of this.#waiting.values()) p.reject(new Error("Loader closed"));
    this.#waiting.clear();
  }
}
