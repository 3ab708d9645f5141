import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { centerCropResize, preprocessImage, resizeCenterCrop } from "../../lib/data/fundus.ts";
import { readInputImages } from "../../lib/train/predict.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../../lib/data/batch.ts";
import { readNpy } from "../../lib/util/npy.ts";

// Made by scripts/golden_center_crop.py: torchvision 0.14's Resize(round(S·256/224)) + CenterCrop(S) of four
// generated PNGs, on the PIL image and on the uint8 tensor with antialias=True.
const DIR = fileURLToPath(new URL("../../fixtures/golden/center_crop/", import.meta.url));
const { cases } = JSON.parse(await Deno.readTextFile(`${DIR}cases.json`)) as {
  cases: { photo: string; size: number; resize: number; width: number; height: number }[];
};

async function golden(kind: "pil" | "tensor", size: number): Promise<Uint8Array> {
  const a = await readNpy(`${DIR}${kind}_${size}.npy`);
  return a.data as Uint8Array;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("crop center: torchvision's eval transform, equal to PIL's and within 1 of the tensor path", async () => {
  assert.ok(cases.length >= 8);
  for (const c of cases) {
    assert.equal(centerCropResize(c.size), c.resize);
    const per = c.size * c.size * 3, k = cases.filter((d) => d.size === c.size).indexOf(c);
    const bytes = await Deno.readFile(`${DIR}${c.photo}`);
    const img = await preprocessImage(bytes, { size: c.size, crop: "center" }, c.photo);
    assert.equal(img.circle, null);
    assert.deepEqual([img.width, img.height], [c.width, c.height]);
    const pil = (await golden("pil", c.size)).subarray(k * per, (k + 1) * per);
    const tensor = (await golden("tensor", c.size)).subarray(k * per, (k + 1) * per);
    // PIL's fixed-point arithmetic reproduced: every byte equal
    assert.equal(maxDiff(img.data, pil), 0, `${c.photo} at ${c.size} vs PIL`);
    // the tensor path rounds once, in float: within one grey level
    assert.ok(maxDiff(img.data, tensor) <= 1, `${c.photo} at ${c.size} vs tensor`);
  }
});

Deno.test("crop center: 224 resizes to 256 and 299 to 342 (torchvision's weights' transforms); ties round to even", () => {
  assert.equal(centerCropResize(224), 256);
  assert.equal(centerCropResize(299), 342);
  const w = 8, h = 3, rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.fill(i, 3 * i, 3 * i + 3);
  // size 3: the shorter side is already round(3·256/224) = 3, no resize; the left offset is Python's
  // round((8 − 3) / 2) = round(2.5) = 2, where Math.round would give 3
  const out = resizeCenterCrop(rgb, w, h, 3);
  assert.deepEqual(Array.from(out.filter((_, i) => i % 3 === 0)), [2, 3, 4, 10, 11, 12, 18, 19, 20]);
});

Deno.test("predict reads a photo folder with --crop center, normalised as ImageNet's", async () => {
  const size = 24;
  const input = await readInputImages(DIR, size, "center");
  assert.deepEqual(input.names, [...new Set(cases.map((c) => c.photo))].sort());
  const pil = await golden("pil", size), per = size * size;
  // first photo, first pixel, each channel: (byte / 255 − mean) / std, channels first
  for (let ch = 0; ch < 3; ch++) {
    const want = (pil[ch] / 255 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch];
    assert.ok(Math.abs(input.x[ch * per] - want) < 1e-5);
  }
});

Deno.test("predict --crop center runs the vendored SqueezeNet on photos; an unknown --crop is one line", async () => {
  const dir = await Deno.makeTempDir();
  const predict = async (crop: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        "tasks/predict.ts",
        ...[
          "--model",
          "squeezenet1_1",
          "--weights",
          "vendor/squeezenet1_1-imagenet.safetensors",
          "--keep-head",
        ],
        ...["--crop", crop, "--input", DIR, "--out", `${dir}/logits.csv`],
      ],
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  try {
    const bad = await predict("centre");
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), "predict: --crop must be one of fundus, none, center, got 'centre'");
    const ok = await predict("center");
    assert.equal(ok.code, 0, ok.stderr);
    const rows = (await Deno.readTextFile(`${dir}/logits.csv`)).trim().split("\n");
    assert.equal(rows.length, 5);
    assert.equal(rows[1].split(",").length, 1001);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
