/**
 * Renders the montages of the synthetic data: docs/images/synth_fundus.png (three photographs per DR grade,
 * columns 0-4, as generated; shown in README.md) and docs/images/synth_natural.png (two pictures per source
 * class).
 * Run: deno run --allow-read --allow-write --allow-env --allow-ffi scripts/data_montage.ts
 */
import sharp from "npm:sharp@0.35.5";
import { fundusSvg, NATURAL_CLASSES, naturalSvg } from "../lib/data/synth.ts";

async function tile(svg: string, w: number, h: number): Promise<Uint8Array> {
  const b = await sharp(new TextEncoder().encode(svg)).flatten({ background: "#000" }).resize(w, h).raw()
    .toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

async function montage(tiles: Uint8Array[], cols: number, w: number, h: number, file: string): Promise<void> {
  const gap = 4, rows = Math.ceil(tiles.length / cols);
  const W = cols * (w + gap) + gap, H = rows * (h + gap) + gap;
  const out = new Uint8Array(W * H * 3).fill(255);
  tiles.forEach((t, i) => {
    const ox = gap + (i % cols) * (w + gap), oy = gap + Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) out.set(t.subarray(y * w * 3, (y + 1) * w * 3), ((oy + y) * W + ox) * 3);
  });
  await sharp(out, { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
}

const fundus: Uint8Array[] = [];
for (let row = 0; row < 3; row++) {
  for (let g = 0; g <= 4; g++) {
    const { svg } = fundusSvg(`2019:${row}:${g}`, g, {
      width: 768,
      height: 512,
      eye: row % 2 ? "left" : "right",
    });
    fundus.push(await tile(svg, 240, 160));
  }
}
await montage(fundus, 5, 240, 160, "docs/images/synth_fundus.png");
const natural: Uint8Array[] = [];
for (let row = 0; row < 2; row++) {
  for (let c = 0; c < NATURAL_CLASSES.length; c++) {
    natural.push(await tile(naturalSvg(`2019:n${row}:${c}`, c, 96), 96, 96));
  }
}
await montage(natural, NATURAL_CLASSES.length, 96, 96, "docs/images/synth_natural.png");
