import assert from "node:assert/strict";
import { type Manifest, openCache } from "../../lib/data/cache.ts";
import { Loader } from "../../lib/data/loader.ts";
import { IMAGENET_MEAN, IMAGENET_STD, rotate } from "../../lib/data/batch.ts";
import { writeJsonAtomic } from "../../lib/util/fs.ts";

const S = 6, N = 11;

/** A cache written by hand: image i has pixel (x, y, c) = (i * 20 + x * 3 + y * 7 + c) mod 256. */
async function tinyCache(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const px = (i: number, x: number, y: number, c: number) => (i * 20 + x * 3 + y * 7 + c) % 256;
  const shards = [[0, 4], [4, 11]];
  const entries: Manifest["entries"] = [];
  await Deno.mkdir(`${dir}/shards`);
  shards.forEach(([a, b], s) => {
    const buf = new Uint8Array((b - a) * S * S * 3);
    for (let i = a; i < b; i++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          for (let c = 0; c < 3; c++) buf[((i - a) * S * S + y * S + x) * 3 + c] = px(i, x, y, c);
        }
      }
      entries.push({
        id: `${i}_left`,
        source: `${i}_left.jpeg`,
        sha256: "",
        bytes: 0,
        mtimeMs: 0,
        label: i % 5,
        patient: `${i}`,
        split: i < 9 ? "train" : "test",
        shard: s,
        slot: i - a,
        circle: null,
        fit: "none",
      });
    }
    Deno.writeFileSync(`${dir}/shards/${s}.u8`, buf);
  });
  const m: Manifest = {
    version: 1,
    format: "kaggle",
    dataset: "x",
    settings: { size: S, crop: "none", graham: false, classes: 5 },
    split: { seed: 0, testFraction: 0.1, limit: null },
    shards: shards.map((_, s) => ({ file: `${s}.u8`, count: 0 })),
    entries,
  };
  await writeJsonAtomic(`${dir}/manifest.json`, m);
  return dir;
}

async function collect(l: Loader, epoch: number) {
  const out = [];
  for await (const b of l.batches(epoch)) out.push(b);
  return out;
}

Deno.test("cache: reads images by offset across shards; errors name the problem", async () => {
  const dir = await tinyCache();
  const c = await openCache(dir);
  assert.equal(c.count, N);
  assert.equal(c.manifestHash.length, 64);
  assert.equal(c.image(5)[0], 100);
  assert.equal(c.image(5)[(1 * S + 2) * 3 + 1], (100 + 6 + 7 + 1) % 256);
  assert.deepEqual(c.indices("test"), [9, 10]);
  assert.throws(() => c.image(11), /Image index 11 is outside 0-10/);
  c.close();
  await assert.rejects(() => openCache(`${dir}/nope`), /Cannot read .*nope\/manifest\.json/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loader: NCHW normalised batches, every index once per epoch, seeded reshuffle", async () => {
  const dir = await tinyCache();
  const c = await openCache(dir);
  const idx = [...Array(N).keys()];
  const l = new Loader(c, idx, { batch: 4, seed: 3, shuffle: true, workers: 0 });
  const e0 = await collect(l, 0);
  assert.deepEqual(e0.map((b) => b.n), [4, 4, 3]);
  assert.equal(l.length, 3);
  const order = e0.flatMap((b) => [...b.index]);
  assert.deepEqual([...order].sort((a, b) => a - b), idx);
  assert.deepEqual(order, l.order(0));
  assert.notDeepEqual(order, idx);
  assert.notDeepEqual(l.order(1), order);
  const b = e0[0], i = b.index[1], hw = S * S;
  assert.equal(b.x.length, 4 * 3 * hw);
  assert.equal(b.y[1], c.labels[i]);
  // sample 1, channel 2, pixel (x=3, y=4)
  const v = (i * 20 + 3 * 3 + 4 * 7 + 2) % 256;
  assert.ok(
    Math.abs(b.x[1 * 3 * hw + 2 * hw + 4 * S + 3] - (v / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]) < 1e-6,
  );
  const again = await collect(new Loader(c, idx, { batch: 4, seed: 3, shuffle: true, workers: 0 }), 0);
  assert.deepEqual(again.map((b) => [...b.x]), e0.map((b) => [...b.x]));
  const fixed = new Loader(c, [2, 7, 1], { batch: 2, seed: 1, shuffle: false, dropLast: true, workers: 0 });
  assert.deepEqual((await collect(fixed, 5)).map((b) => [...b.index]), [[2, 7]]);
  assert.throws(
    () => new Loader(c, [99], { batch: 2, seed: 1, shuffle: false }),
    /Index 99 is outside the cache/,
  );
  c.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loader: a worker thread builds the same augmented batches as this thread", async () => {
  const dir = await tinyCache();
  const c = await openCache(dir);
  const opts = { batch: 3, seed: 9, shuffle: true, augment: true };
  const here = await collect(new Loader(c, [...Array(N).keys()], { ...opts, workers: 0 }), 2);
  const w = new Loader(c, [...Array(N).keys()], { ...opts, workers: 1, prefetch: 3 });
  const there = await collect(w, 2);
  w.close();
  assert.deepEqual(there.map((b) => [...b.index]), here.map((b) => [...b.index]));
  assert.deepEqual(there.map((b) => [...b.x]), here.map((b) => [...b.x]));
  c.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loader: flips mirror the image; rotation by 0 is the identity", async () => {
  const dir = await tinyCache();
  const c = await openCache(dir);
  const plain =
    (await collect(new Loader(c, [3], { batch: 1, seed: 1, shuffle: false, workers: 0 }), 0))[0].x;
  let mirrored = 0;
  for (let e = 0; e < 8; e++) {
    const l = new Loader(c, [3], {
      batch: 1,
      seed: 1,
      shuffle: false,
      workers: 0,
      augment: { vflip: false, rotate: 0 },
    });
    const x = (await collect(l, e))[0].x;
    const same = x.every((v, k) => v === plain[k]);
    const flip = x.every((v, k) => {
      const ch = Math.floor(k / (S * S)), y = Math.floor((k % (S * S)) / S), xx = k % S;
      return v === plain[ch * S * S + y * S + (S - 1 - xx)];
    });
    assert.ok(same || flip, `epoch ${e}: neither the image nor its mirror`);
    if (flip) mirrored++;
  }
  assert.ok(mirrored > 0 && mirrored < 8, `${mirrored} of 8 mirrored`);
  const img = c.image(4), dst = new Uint8Array(img.length);
  rotate(img, S, 0, dst);
  assert.deepEqual(dst, img);
  rotate(img, S, Math.PI, dst); // 180°: pixel (0,0) ↔ (S-1,S-1)
  assert.deepEqual([...dst.subarray(0, 3)], [...img.subarray((S * S - 1) * 3)]);
  c.close();
  await Deno.remove(dir, { recursive: true });
});
