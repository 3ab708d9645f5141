import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import { createHash } from "node:crypto";
import { preprocessDataset } from "../../lib/data/preprocess.ts";
import { openCache } from "../../lib/data/cache.ts";
import { preprocessImage } from "../../lib/data/fundus.ts";
import { listDataset } from "../../lib/data/formats.ts";
import { synthFundus } from "../../lib/data/synth.ts";

const golden = new URL("../../fixtures/golden/data/", import.meta.url).pathname;

async function kaggle(count: number, seed = 1): Promise<string> {
  const dir = await Deno.makeTempDir();
  await synthFundus({ out: `${dir}/data`, count, seed, width: 150, gradeWeights: [1, 1, 1, 1, 1] });
  return dir;
}

Deno.test("preprocess: cache round trip, manifest, split; a rerun reuses everything", async () => {
  const dir = await kaggle(20);
  const r = await preprocessDataset({
    data: `${dir}/data`,
    out: `${dir}/cache`,
    size: 32,
    workers: 2,
    shardBytes: 32 * 32 * 3 * 8,
  });
  assert.equal(r.cached, 20);
  assert.equal(r.processed, 20);
  assert.equal(r.skipped.length, 0);
  assert.equal(r.splits.test + r.splits.train, 20);
  const c = await openCache(`${dir}/cache`);
  assert.equal(c.size, 32);
  assert.equal(c.count, 20);
  assert.equal(c.manifest.shards.length, 3); // 8 + 8 + 4
  const labels = (await Deno.readTextFile(`${dir}/data/trainLabels.csv`)).trim().split("\n").slice(1);
  assert.deepEqual(c.ids, labels.map((l) => l.split(",")[0]));
  assert.deepEqual([...c.labels], labels.map((l) => Number(l.split(",")[1])));
  assert.equal(c.patients[2], "2");
  for (const i of [0, 9, 19]) {
    const file = `${dir}/data/${c.ids[i]}.jpeg`, bytes = await Deno.readFile(file);
    const e = c.manifest.entries[i];
    assert.equal(e.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(e.source, `${c.ids[i]}.jpeg`);
    assert.deepEqual(c.image(i), (await preprocessImage(bytes, { size: 32 })).data);
  }
  const test = new Set(c.indices("test").map((i) => c.patients[i]));
  for (const i of c.indices("train")) assert.ok(!test.has(c.patients[i]));
  const hash = c.manifestHash;
  c.close();
  const again = await preprocessDataset({ data: `${dir}/data`, out: `${dir}/cache`, size: 32 });
  assert.equal(again.processed, 0);
  assert.equal(again.reused, 20);
  assert.equal((await openCache(`${dir}/cache`)).manifestHash, hash);
  await assert.rejects(
    () => preprocessDataset({ data: `${dir}/data`, out: `${dir}/cache`, size: 48 }),
    /holds a cache built with .*"size":32.*use another --out/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess: bad images are reported and skipped, or abort with strict; an interrupted run resumes", async () => {
  const dir = await kaggle(10, 2);
  const data = `${dir}/data`;
  await Deno.writeTextFile(`${data}/5_left.jpeg`, "not a jpeg");
  const grey = await sharp({ create: { width: 150, height: 100, channels: 3, background: "#777" } }).jpeg()
    .toBuffer();
  await Deno.writeFile(`${data}/5_right.jpeg`, new Uint8Array(grey));
  await Deno.remove(`${data}/4_right.jpeg`);
  // strict: stops at the first bad image, naming it; what was staged stays for the next run
  await assert.rejects(
    () => preprocessDataset({ data, out: `${dir}/c`, size: 24, strict: true }),
    /4_right\.jpeg does not exist/,
  );
  await Deno.copyFile(`${data}/4_left.jpeg`, `${data}/4_right.jpeg`);
  await assert.rejects(
    () => preprocessDataset({ data, out: `${dir}/c`, size: 24, strict: true, workers: 1 }),
    /5_(left|right)\.jpeg.*--strict/,
  );
  // A half-written stage (pixels without the metadata that marks them done) must not count.
  await Deno.writeFile(`${dir}/c/staging/deadbeef.u8`, new Uint8Array(7));
  await Deno.remove(`${data}/4_right.jpeg`);
  const r = await preprocessDataset({ data, out: `${dir}/c`, size: 24, workers: 0 }); // on this thread
  assert.ok(r.reused >= 1, `reused ${r.reused}`);
  assert.equal(r.cached, 7);
  const reasons = Object.fromEntries(r.skipped.map((s) => [s.id, s.reason]));
  assert.match(reasons["4_right"], /does not exist/);
  assert.match(reasons["5_left"], /cannot be decoded/);
  assert.match(reasons["5_right"], /no fundus field found/);
  const report = JSON.parse(await Deno.readTextFile(`${dir}/c/report.json`));
  assert.equal(report.skipped.length, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("listings: label range, duplicates, missing columns, empty, undetectable; APTOS and generic CSV", async () => {
  const dir = await Deno.makeTempDir();
  const w = (name: string, text: string) => Deno.writeTextFile(`${dir}/${name}`, text);
  await w("a.csv", "image,level\n1_left,0\n1_right,7\n");
  await assert.rejects(
    () => listDataset(`${dir}/a.csv`),
    /a\.csv line 3: label '7' is not an integer in 0-4/,
  );
  // each read as 3 by Number(): a grade column holds plain decimal digits only
  for (const bad of ["0x3", "3e0", "3.0", "+3", "0b11", "３"]) {
    await w("g.csv", `image,level\n1_left,0\n1_right,${bad}\n`);
    await assert.rejects(
      () => listDataset(`${dir}/g.csv`),
      new RegExp(
        `^RangeError: \\S+g\\.csv line 3: label '${
          bad.replace("+", "\\+")
        }' is not an integer in 0-4 \\(plain decimal digits\\)$`,
      ),
      bad,
    );
  }
  await w("b.csv", "image,level\n1_left,0\n1_left,1\n");
  await assert.rejects(
    () => listDataset(`${dir}/b.csv`),
    /b\.csv line 3: duplicate id '1_left' \(first on line 2\)/,
  );
  await w("c.csv", "file,grade\nx.png,1\n");
  await assert.rejects(
    () => listDataset(`${dir}/c.csv`),
    /c\.csv lacks column\(s\) path, label \(has: file, grade\)/,
  );
  await w("d.csv", "path,label\n");
  await assert.rejects(() => listDataset(`${dir}/d.csv`), /d\.csv lists no images/);
  await assert.rejects(() => listDataset(`${dir}/nope`), /Dataset .*nope does not exist/);
  await Deno.mkdir(`${dir}/empty`);
  await assert.rejects(() => listDataset(`${dir}/empty`), /Cannot detect the dataset format/);
  await Deno.mkdir(`${dir}/aptos/train_images`, { recursive: true });
  await Deno.writeTextFile(`${dir}/aptos/train.csv`, "id_code,diagnosis\nab12,2\ncd34,0\n");
  await Deno.writeFile(`${dir}/aptos/train_images/ab12.png`, new Uint8Array(1));
  const ap = await listDataset(`${dir}/aptos`);
  assert.equal(ap.format, "aptos");
  assert.deepEqual(ap.items.map((i) => [i.id, i.label, i.patient]), [["ab12", 2, "ab12"]]);
  assert.deepEqual(ap.missing.map((m) => m.id), ["cd34"]);
  await Deno.mkdir(`${dir}/gen/img`, { recursive: true });
  await Deno.writeTextFile(`${dir}/gen/list.csv`, "path,label,patient\nimg/a.jpg,1,p1\nimg/b.jpg,9,p1\n");
  await Deno.writeFile(`${dir}/gen/img/a.jpg`, new Uint8Array(1));
  await Deno.writeFile(`${dir}/gen/img/b.jpg`, new Uint8Array(1));
  await assert.rejects(() => listDataset(`${dir}/gen`), /line 3: label '9'/);
  const gen = await listDataset(`${dir}/gen`, { classes: 10 });
  assert.equal(gen.format, "csv");
  assert.deepEqual(gen.items.map((i) => [i.id, i.patient]), [["img/a.jpg", "p1"], ["img/b.jpg", "p1"]]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess: MedMNIST .npz keeps its own train/val/test split", async () => {
  const dir = await Deno.makeTempDir();
  const r = await preprocessDataset({
    data: `${golden}retinamnist.npz`,
    out: `${dir}/c`,
    size: 28,
    workers: 1,
  });
  assert.equal(r.format, "medmnist");
  assert.deepEqual(r.splits, { train: 10, val: 3, test: 4 });
  const c = await openCache(`${dir}/c`);
  assert.equal(c.manifest.settings.crop, "none");
  assert.deepEqual([...c.labels.slice(0, 6)], [0, 1, 2, 3, 4, 0]);
  // 28 → 28 without a crop is the identity: the cache holds MedMNIST's own pixels.
  const expect = JSON.parse(await Deno.readTextFile(`${golden}npy_expected.json`)).retinamnist;
  let sum = 0;
  for (const i of c.indices("train")) sum += c.image(i).reduce((a, b) => a + b, 0);
  assert.equal(sum, expect.train_images.sum);
  c.close();
  await Deno.remove(dir, { recursive: true });
});
