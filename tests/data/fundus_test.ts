import assert from "node:assert/strict";
import sharp from "npm:sharp@0.35.5";
import {
  cropCircle,
  findFundus,
  grahamNormalise,
  padSquare,
  preprocessImage,
} from "../../lib/data/fundus.ts";
import { fundusSvg } from "../../lib/data/synth.ts";
import { Rng } from "../../lib/util/random.ts";

/** A flat-coloured disc on black, optionally with a notch, JPEG-like noise, and cut off top and bottom. */
function disc(
  w: number,
  h: number,
  cx: number,
  cy: number,
  r: number,
  o: { level?: number; notch?: boolean; noise?: number } = {},
) {
  const img = new Uint8Array(w * h * 3), rng = new Rng(1);
  const lv = o.level ?? 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      // a vignetted field, brighter in the middle, like real photos
      if (d < r) img.set([lv * (170 - 60 * (d / r) ** 2), lv * (80 - 30 * (d / r) ** 2), lv * 30], p);
      // a notch mark: a small bright tab sticking out of the right edge
      if (o.notch && x > cx + r - 2 && x < cx + r + 0.06 * r && Math.abs(y - cy) < 0.03 * r) {
        img.set([200, 200, 200], p);
      }
      if (o.noise) {
        for (let k = 0; k < 3; k++) img[p + k] = Math.max(0, Math.min(255, img[p + k] + rng.int(o.noise)));
      }
    }
  }
  return img;
}

Deno.test("findFundus: fits the field of clean, dark, noisy, notched and cut-off discs", () => {
  const cases = [
    { w: 600, h: 400, cx: 300, cy: 200, r: 180, o: {} },
    { w: 600, h: 400, cx: 310, cy: 195, r: 170, o: { level: 0.25 } }, // dark photo
    { w: 600, h: 400, cx: 300, cy: 200, r: 180, o: { noise: 12 } }, // noisy black border
    { w: 600, h: 400, cx: 290, cy: 200, r: 175, o: { notch: true } },
    { w: 600, h: 400, cx: 300, cy: 200, r: 230, o: {} }, // field cut off at top and bottom
  ];
  for (const c of cases) {
    const f = findFundus(disc(c.w, c.h, c.cx, c.cy, c.r, c.o), c.w, c.h);
    assert.ok(f, JSON.stringify(c));
    assert.equal(f.kind, "disc");
    const tol = 0.015 * c.r;
    assert.ok(
      Math.abs(f.cx - c.cx) < tol && Math.abs(f.cy - c.cy) < tol,
      `centre ${f.cx},${f.cy} for ${JSON.stringify(c)}`,
    );
    assert.ok(Math.abs(f.r - c.r) < tol, `radius ${f.r} for ${JSON.stringify(c)}`);
  }
});

Deno.test("findFundus: no field in blank, black or random images; a full-frame field is 'frame'", () => {
  const w = 200, h = 150;
  assert.equal(findFundus(new Uint8Array(w * h * 3), w, h), null);
  assert.equal(findFundus(new Uint8Array(w * h * 3).fill(128), w, h), null);
  const rng = new Rng(3), noise = Uint8Array.from({ length: w * h * 3 }, () => rng.int(256));
  assert.equal(findFundus(noise, w, h), null);
  const full = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) full.set([180, 90, 40], p * 3);
  assert.equal(findFundus(full, w, h)?.kind, "frame");
  assert.throws(() => findFundus(new Uint8Array(10), w, h), /needs 90000/);
});

Deno.test("cropCircle and padSquare: square around the circle, black outside it and outside the photo", () => {
  const w = 100, h = 60, img = new Uint8Array(w * h * 3).fill(200);
  const { data, side, x0, y0 } = cropCircle(img, w, h, { cx: 50, cy: 30, r: 40 });
  assert.equal(side, 80);
  assert.equal(x0, 10);
  assert.equal(y0, -10);
  const at = (x: number, y: number) => data[(y * side + x) * 3];
  assert.equal(at(40, 40), 200); // centre
  assert.equal(at(40, 5), 0); // above the photo
  assert.equal(at(1, 12), 0); // outside the circle, inside the photo
  assert.equal(at(2, 40), 200); // on the circle's left edge row
  const p = padSquare(new Uint8Array(4 * 2 * 3).fill(9), 4, 2);
  assert.equal(p.side, 4);
  assert.deepEqual([p.data[0], p.data[4 * 3], p.data[2 * 4 * 3 - 1], p.data[3 * 4 * 3]], [0, 9, 9, 0]);
});

async function jpeg(svg: string): Promise<Uint8Array> {
  const b = await sharp(new TextEncoder().encode(svg)).flatten({ background: "#000" }).jpeg({ quality: 90 })
    .toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

Deno.test("preprocessImage: synthetic photos come out centred on the field at the requested size", async () => {
  for (const [seed, W, size] of [[1, 900, 64], [2, 600, 96], [3, 1200, 128]]) {
    const { svg, circle } = fundusSvg(seed, 2, { width: W, height: (W * 2) / 3, eye: "left" });
    const r = await preprocessImage(await jpeg(svg), { size }, `synth${seed}.jpeg`);
    assert.equal(r.data.length, size * size * 3);
    assert.equal(r.width, W);
    assert.ok(r.circle && r.circle.kind === "disc");
    assert.ok(Math.abs(r.circle.cx - circle.cx) < 0.02 * circle.r, `cx ${r.circle.cx} vs ${circle.cx}`);
    assert.ok(Math.abs(r.circle.cy - circle.cy) < 0.02 * circle.r, `cy ${r.circle.cy} vs ${circle.cy}`);
    assert.ok(Math.abs(r.circle.r - circle.r) < 0.02 * circle.r, `r ${r.circle.r} vs ${circle.r}`);
    // The field touches the output's left and right edges on the middle row and its centre is bright.
    const mid = Math.floor(size / 2), px = (x: number, y: number) => r.data[(y * size + x) * 3];
    assert.ok(px(1, mid) > 20 && px(size - 2, mid) > 20, "field spans the width");
    assert.ok(px(1, 1) < 10 && px(size - 2, size - 2) < 10, "corners are black");
  }
});

Deno.test("preprocessImage: graham, crop none, and bad inputs", async () => {
  const { svg } = fundusSvg(5, 0, { width: 300, height: 200, eye: "right" });
  const bytes = await jpeg(svg);
  const g = await preprocessImage(bytes, { size: 48, graham: true });
  assert.equal(g.data[0], 128); // outside 90 % of the radius
  const n = await preprocessImage(bytes, { size: 40, crop: "none" });
  assert.equal(n.circle, null);
  assert.equal(n.data.length, 40 * 40 * 3);
  await assert.rejects(
    () => preprocessImage(new Uint8Array([1, 2, 3, 4]), { size: 32 }, "junk.jpeg"),
    /junk\.jpeg cannot be decoded/,
  );
  const grey = await jpeg(
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><rect width="200" height="150" fill="#808080"/></svg>`,
  );
  await assert.rejects(
    () => preprocessImage(grey, { size: 32 }, "grey.jpeg"),
    /grey\.jpeg: no fundus field found/,
  );
  await assert.rejects(() => preprocessImage(bytes, { size: 3 }), /Size must be 8-8192/);
});

Deno.test("grahamNormalise: 4·(img − Gaussian blur) + 128 equals scipy's on a fixed crop", async () => {
  // scripts/golden_graham.py: exact Gaussian (σ = 48/60), unrounded float result
  const g = JSON.parse(
    await Deno.readTextFile(new URL("../../fixtures/golden/graham.json", import.meta.url)),
  );
  const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const input = bytes(g.input), want = new Float32Array(bytes(g.expected).buffer);
  const got = await grahamNormalise(input, g.size);
  assert.equal(got.length, want.length);
  let max = 0, sum = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    max = Math.max(max, d);
    sum += d;
  }
  // the blur is rounded to uint8 before the ×4 (blur within 1.03 of scipy's): measured max 4.17, mean 1.15;
  // a wrong gain, offset or σ moves pixels by tens of levels (the deterministic input cannot flake)
  assert.ok(max <= 4.5, `max |graham − scipy| = ${max}`);
  assert.ok(sum / got.length < 1.5, `mean |graham − scipy| = ${sum / got.length}`);
});
