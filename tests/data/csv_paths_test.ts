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
