import assert from "node:assert/strict";
import { listDataset } from "../../lib/data/formats.ts";
import { preprocessDataset } from "../../lib/data/preprocess.ts";

/** dir/data/labels.csv listing `rows`, with a.png inside data/ and outside.png beside it. */
async function layout(rows: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data`);
  // not decodable photos: listing happens before any decoding, which is all these tests need
  await Deno.writeTextFile(`${dir}/data/a.png`, "x");
  await Deno.writeTextFile(`${dir}/outside.png`, "x");
  await Deno.writeTextFile(`${dir}/data/labels.csv`, ["path,label", "a.png,0", ...rows].join("\n") + "\n");
  return dir;
}

Deno.test("csv: paths that leave the CSV's folder are refused, naming the CSV, the line and the path", async () => {
  const dir = await layout([]);
  const cases: [string, RegExp][] = [
    ["../outside.png", /labels\.csv line 3: path '\.\.\/outside\.png' leaves the CSV's folder/],
    ["../../etc/passwd", /line 3: path '\.\.\/\.\.\/etc\/passwd' leaves the CSV's folder/],
    [`${dir}/outside.png`, /line 3: path '\/.*\/outside\.png' is absolute/],
    ["sub/../../outside.png", /line 3: path 'sub\/\.\.\/\.\.\/outside\.png' leaves/],
  ];
  for (const [path, re] of cases) {
    await Deno.writeTextFile(`${dir}/data/labels.csv`, `path,label\na.png,0\n${path},1\n`);
    for (const format of ["csv" as const, undefined]) {
      await assert.rejects(() => listDataset(`${dir}/data`, { format }), (e: Error) => {
        assert.match(e.message, re);
        assert.match(e.message, /--allow-outside-paths/);
        assert.ok(!e.message.includes("\n"));
        return true;
      });
    }
  }
  // inside paths, even written with "./" or a detour, are fine
  await Deno.writeTextFile(`${dir}/data/labels.csv`, "path,label\n./a.png,0\n");
  assert.equal((await listDataset(`${dir}/data`)).items.length, 1);
});

Deno.test("csv: a link inside the folder that resolves outside it is refused", async () => {
  const dir = await layout(["link.png,1"]);
  await Deno.symlink(`${dir}/outside.png`, `${dir}/data/link.png`);
  await assert.rejects(
    () => listDataset(`${dir}/data`),
    /line 3: path 'link\.png' resolves to .*outside\.png, outside the CSV's folder/,
  );
  const ok = await listDataset(`${dir}/data`, { allowOutsidePaths: true });
  assert.equal(ok.items.length, 2);
});

Deno.test("csv: --allow-outside-paths lets the listing read outside, through preprocessing too", async () => {
  const dir = await layout(["../outside.png,1"]);
  const ds = await listDataset(`${dir}/data`, { allowOutsidePaths: true });
  assert.deepEqual(ds.items.map((it) => it.file), [`${dir}/data/a.png`, `${dir}/outside.png`]);
  await assert.rejects(
    () => preprocessDataset({ data: `${dir}/data`, out: `${dir}/cache`, size: 16, workers: 0 }),
    /leaves the CSV's folder/,
  );
  // allowed: listing passes, and the undecodable stand-in photos are what stops it
  await assert.rejects(
    () =>
      preprocessDataset({
        data: `${dir}/data`,
        out: `${dir}/cache2`,
        size: 16,
        workers: 0,
        allowOutsidePaths: true,
      }),
    /No image of .* could be preprocessed \(2 skipped/,
  );
});

Deno.test("kaggle and aptos: an id that leaves the listing's folder, or a photo that links out, is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/data`);
    await Deno.mkdir(`${dir}/outside`);
    await Deno.writeTextFile(`${dir}/data/a.jpeg`, "x");
    await Deno.writeTextFile(`${dir}/outside/x.jpeg`, "x");
    await Deno.writeTextFile(`${dir}/data/trainLabels.csv`, "image,level\na,0\n../outside/x,1\n");
    await assert.rejects(
      () => listDataset(`${dir}/data`),
      /trainLabels\.csv line 3: image '\.\.\/outside\/x' leaves the CSV's folder .*--allow-outside-paths/,
    );
    await Deno.writeTextFile(`${dir}/data/train.csv`, "id_code,diagnosis\na,0\n../outside/x,1\n");
    await assert.rejects(
      () => listDataset(`${dir}/data`, { format: "aptos" }),
      /train\.csv line 3: id_code '\.\.\/outside\/x' leaves the CSV's folder/,
    );
    // a photo inside that is a link to a file outside
    await Deno.symlink(`${dir}/outside/x.jpeg`, `${dir}/data/b.jpeg`);
    await Deno.writeTextFile(`${dir}/data/trainLabels.csv`, "image,level\na,0\nb,1\n");
    await assert.rejects(
      () => listDataset(`${dir}/data`),
      /line 3: path 'b' resolves to .*outside\/x\.jpeg, outside the CSV's folder/,
    );
    assert.equal((await listDataset(`${dir}/data`, { allowOutsidePaths: true })).items.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache: a manifest whose shard names a file outside its shards folder is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const photos = `${dir}/photos`;
    await Deno.mkdir(photos);
    const { synthFundus } = await import("../../lib/data/synth.ts");
    await synthFundus({ out: photos, count: 6, seed: 1, width: 96, gradeWeights: [1, 1, 1, 1, 1] });
    await preprocessDataset({ data: photos, out: `${dir}/cache`, size: 16, workers: 0, testFraction: 0.34 });
    const { openCache } = await import("../../lib/data/cache.ts");
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/cache/manifest.json`));
    const good = manifest.shards[0].file;
    (await openCache(`${dir}/cache`)).close();
    manifest.shards[0].file = "../../secret.u8";
    await Deno.writeTextFile(`${dir}/cache/manifest.json`, JSON.stringify(manifest));
    await assert.rejects(
      () => openCache(`${dir}/cache`),
      /shard file "\.\.\/\.\.\/secret\.u8" is not a file name of .*\/shards/,
    );
    // a shard that is a link out of the folder
    manifest.shards[0].file = good;
    await Deno.writeTextFile(`${dir}/cache/manifest.json`, JSON.stringify(manifest));
    await Deno.rename(`${dir}/cache/shards/${good}`, `${dir}/moved.u8`);
    await Deno.symlink(`${dir}/moved.u8`, `${dir}/cache/shards/${good}`);
    const c = await openCache(`${dir}/cache`);
    assert.throws(() => c.image(0), /is a link to .*moved\.u8, outside the cache's shards folder/);
    c.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
