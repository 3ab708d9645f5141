import assert from "node:assert/strict";
import { fundusSvg, NATURAL_CLASSES, naturalSvg, synthFundus, synthNatural } from "../../lib/data/synth.ts";
import { listDataset } from "../../lib/data/formats.ts";
import sharp from "npm:sharp@0.35.5";

Deno.test("fundusSvg: deterministic by seed; lesions grow with the grade", () => {
  const o = { width: 600, height: 400, eye: "left" as const };
  assert.equal(fundusSvg(7, 3, o).svg, fundusSvg(7, 3, o).svg);
  assert.notEqual(fundusSvg(7, 3, o).svg, fundusSvg(8, 3, o).svg);
  // Elements in the lesion group, averaged over a few pictures per grade.
  const lesions = [0, 1, 2, 3, 4].map((g) => {
    let n = 0;
    for (let s = 0; s < 5; s++) {
      const svg = fundusSvg(s, g, o).svg;
      n += (svg.split("<g>")[1].split("</g>")[0].match(/<(circle|ellipse|path)/g) ?? []).length;
    }
    return n / 5;
  });
  assert.equal(lesions[0], 0);
  for (let g = 1; g < 5; g++) assert.ok(lesions[g] > lesions[g - 1], `grade ${g}: ${lesions}`);
  assert.throws(() => fundusSvg(1, 5, o), /Grade must be 0-4/);
});

Deno.test("naturalSvg: at least 10 classes, all renderable; deterministic", async () => {
  assert.ok(NATURAL_CLASSES.length >= 10);
  for (let c = 0; c < NATURAL_CLASSES.length; c++) {
    const svg = naturalSvg(c, c, 64);
    assert.ok(svg.startsWith("<svg") && svg.length > 100, NATURAL_CLASSES[c]);
    assert.equal(svg, naturalSvg(c, c, 64));
    // renderable: librsvg (through sharp) draws it at its size, and draws something (not one flat colour)
    const { data, info } = await sharp(new TextEncoder().encode(svg)).removeAlpha().raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3], NATURAL_CLASSES[c]);
    const levels = new Set<number>();
    for (let i = 0; i < data.length; i += 3) levels.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    assert.ok(levels.size >= 8, `${NATURAL_CLASSES[c]}: ${levels.size} colours`);
  }
  assert.throws(() => naturalSvg(1, 99, 64), /Class must be/);
});

Deno.test("synthFundus and synthNatural: Kaggle and CSV layouts that the ingest lists", async () => {
  const dir = await Deno.makeTempDir();
  const r = await synthFundus({ out: `${dir}/f`, count: 7, seed: 3, width: 120 });
  assert.equal(r.count, 7);
  assert.equal(r.perClass.reduce((a, b) => a + b, 0), 7);
  const csv = (await Deno.readTextFile(`${dir}/f/trainLabels.csv`)).trim().split("\n");
  assert.equal(csv[0], "image,level");
  assert.equal(csv.length, 8);
  assert.match(csv[1], /^1_left,[0-4]$/);
  const ds = await listDataset(`${dir}/f`);
  assert.equal(ds.format, "kaggle");
  assert.equal(ds.items.length, 7);
  assert.equal(ds.items[0].patient, ds.items[1].patient);
  const before = await Deno.readFile(`${dir}/f/2_left.jpeg`);
  const again = await synthFundus({ out: `${dir}/f`, count: 7, seed: 3, width: 120 });
  assert.equal(again.rendered, 0);
  const fresh = await synthFundus({ out: `${dir}/g`, count: 4, seed: 3, width: 120 });
  assert.equal(fresh.rendered, 4);
  assert.deepEqual(await Deno.readFile(`${dir}/g/2_left.jpeg`), before); // same seed, same picture
  const n = await synthNatural({ out: `${dir}/n`, count: 24, seed: 1, size: 32 });
  assert.equal(n.perClass.length, NATURAL_CLASSES.length);
  const nd = await listDataset(`${dir}/n`, { classes: NATURAL_CLASSES.length });
  assert.equal(nd.format, "csv");
  assert.equal(nd.items.length, 24);
  assert.equal(nd.missing.length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("listDataset: a Kaggle id's patient is the id without _left/_right, whatever its digits", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ids = ["10_left", "10_right", "1003_left", "1003_right", "7_left", "99_right", "100_left", "odd"];
    await Deno.writeTextFile(
      `${dir}/trainLabels.csv`,
      `image,level\n${ids.map((id) => `${id},0`).join("\n")}\n`,
    );
    for (const id of ids) await Deno.writeFile(`${dir}/${id}.jpeg`, new Uint8Array([0xff, 0xd8]));
    const ds = await listDataset(dir);
    assert.equal(ds.format, "kaggle");
    assert.deepEqual(
      ds.items.map((it) => [it.id, it.patient]),
      [
        ["10_left", "10"],
        ["10_right", "10"],
        ["1003_left", "1003"],
        ["1003_right", "1003"],
        ["7_left", "7"],
        ["99_right", "99"],
        ["100_left", "100"],
        ["odd", "odd"],
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
