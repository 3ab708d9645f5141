/**
 * Worker side of {@linkcode Loader}: opens the cache itself and builds requested batches, handing the
 * float buffers back by transfer (no copy).
 * @module
 */
/// <reference lib="deno.worker" />
import { type Cache, openCache } from "./cache.ts";
import { type Augment, normLut, sampleRng, writeSample } from "./batch.ts";
import { errorMessage } from "../util/errors.ts";

/** First message: what to open and how to normalise. */
export interface LoaderInit {
  dir: string;
  mean: number[];
  std: number[];
  aug: Augment | null;
  seed: number | string;
}

/** A batch request. */
export interface BatchRequest {
  id: number;
  epoch: number;
  /** image indices and their positions in the epoch order */
  indices: number[];
  positions: number[];
}

let cache: Cache | null = null;
let init: LoaderInit | null = null;
let lut: Float32Array[] = [];
let img: Uint8Array, scratch: Uint8Array;
let ready: Promise<void> | null = null;

self.onmessage = async (ev: MessageEvent<{ init: LoaderInit } | BatchRequest>) => {
  try {
    if ("init" in ev.data) {
      const i = ev.data.init;
      init = i;
      lut = normLut(i.mean, i.std);
      ready = openCache(i.dir).then((c) => {
        cache = c;
        img = new Uint8Array(c.size * c.size * 3);
        scratch = new Uint8Array(c.size * c.size * 3);
      });
      await ready;
      return;
    }
    await ready;
    const r = ev.data, c = cache!, hw = c.size * c.size;
    const n = r.indices.length;
    const x = new Float32Array(n * 3 * hw), y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      c.imageInto(r.indices[k], img);
      const rng = init!.aug ? sampleRng(init!.seed, r.epoch, r.positions[k]) : null;
      writeSample(img, c.size, x, k * 3 * hw, lut, init!.aug, rng, scratch);
      y[k] = c.labels[r.indices[k]];
    }
    self.postMessage({ id: r.id, x, y }, [x.buffer, y.buffer]);
  } catch (e) {
    const id = "id" in ev.data ? ev.data.id : -1;
    self.postMessage({ id, error: errorMessage(e) });
  }
};
