/**
 * Synthetic data for the default run, deterministic by seed: fundus-like photographs by DR grade in the
 * Kaggle layout (JPEGs + `trainLabels.csv`), and a "natural image" source task (12 classes of shapes,
 * textures and scenes, `labels.csv` with `path,label`) that stands in for ImageNet. Each picture is an
 * SVG composed here and rasterised by sharp (librsvg); each one's draws come from a generator forked by its
 * own id, so a picture does not depend on how many others are made.
 * @module
 */
import sharp from "npm:sharp@0.35.5";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Rng } from "../util/random.ts";
import { exists, readJson, writeFileAtomic, writeJsonAtomic } from "../util/fs.ts";

/** Kaggle 2015's grade frequencies (25 810 / 2 443 / 5 292 / 873 / 708 of 35 126). */
export const KAGGLE_GRADE_FREQ: readonly number[] = [25810, 2443, 5292, 873, 708].map((c) => c / 35126);

const f = (v: number) => Math.round(v * 10) / 10;
const rgb = (r: number, g: number, b: number) =>
  `rgb(${[r, g, b].map((v) => Math.max(0, Math.min(255, Math.round(v)))).join(",")})`;

function pick(rng: Rng, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.float() * total;
  for (let i = 0; i < weights.length; i++) if ((u -= weights[i]) < 0) return i;
  return weights.length - 1;
}

/** Geometry of a synthetic fundus photograph. */
export interface FundusSvgOptions {
  /** photo width in pixels */
  width: number;
  /** photo height in pixels */
  height: number;
  /** which eye: the optic disc is on the nasal side */
  eye: "left" | "right";
}

type Point = { x: number; y: number };
type Vessel = { pts: number[][]; w: number };

/** One photo's drawing state: its generator, geometry and colours, shared by the part painters below. */
interface Fundus {
  rng: Rng;
  cx: number;
  cy: number;
  R: number;
  disc: Point;
  discR: number;
  macula: Point;
  base: number[];
  /** lesion sizes are given in pixels of a 200-px-radius field */
  scale: number;
  /** the dark red of haemorrhages, microaneurysms and beading */
  dark: string;
  /** SVG elements of the lesions, painted above the vessels and disc */
  lesion: string[];
}

const inField = (o: Fundus, x: number, y: number, m = 0.92) =>
  (x - o.cx) ** 2 + (y - o.cy) ** 2 < (m * o.R) ** 2;

/** A uniform point of the field, away from the optic disc. */
function randomPoint(o: Fundus, m = 0.88): Point {
  for (;;) {
    const a = o.rng.float() * 2 * Math.PI, d = Math.sqrt(o.rng.float()) * m * o.R;
    const x = o.cx + d * Math.cos(a), y = o.cy + d * Math.sin(a);
    if ((x - o.disc.x) ** 2 + (y - o.disc.y) ** 2 > (o.discR * 1.6) ** 2) return { x, y };
  }
}

const count = (o: Fundus, lo: number, hi: number) => lo + o.rng.int(hi - lo + 1);

/** A branching vessel from (x, y): `len` steps of curling path, side branches down to `depth` levels. */
function vesselTree(
  o: Fundus,
  start: { x: number; y: number; ang: number; w: number; len: number; curl: number; depth: number },
  out: Vessel[],
): void {
  let { x, y, ang, w } = start;
  const { len, curl, depth } = start;
  const pts: number[][] = [[x, y]];
  const step = o.R * 0.035;
  for (let s = 0; s < len; s++) {
    ang += curl + o.rng.normal(0, 0.12);
    x += step * Math.cos(ang);
    y += step * Math.sin(ang);
    if (!inField(o, x, y, 0.97)) break;
    pts.push([x, y]);
    if (depth > 0 && s > 2 && o.rng.float() < 0.17) {
      const dir = o.rng.float() < 0.5 ? -1 : 1;
      vesselTree(o, {
        x,
        y,
        ang: ang + dir * o.rng.uniform(0.4, 1.0),
        w: w * 0.68,
        len: len * 0.55,
        curl: curl * 0.6 + dir * 0.02,
        depth: depth - 1,
      }, out);
      w *= 0.88;
    }
  }
  if (pts.length > 1) out.push({ pts, w });
}

/** Veins (darker, wider) and arteries, four trunks each leaving the disc; returns the vein paths. */
function vessels(o: Fundus, parts: string[]): Vessel[] {
  const { base, disc, macula, R } = o;
  const veins: Vessel[] = [];
  for (
    const [kind, wMul, colour] of [
      ["vein", 1, rgb(base[0] * 0.45, base[1] * 0.2, base[2] * 0.35)],
      ["artery", 0.7, rgb(base[0] * 0.75, base[1] * 0.35, base[2] * 0.4)],
    ] as const
  ) {
    const out: Vessel[] = [];
    const toMacula = Math.atan2(macula.y - disc.y, macula.x - disc.x);
    for (const up of [-1, 1]) {
      const off = kind === "vein" ? 0.1 : -0.1;
      const trunk = { x: disc.x, y: disc.y };
      vesselTree(o, {
        ...trunk,
        ang: toMacula + up * (1.0 + off),
        w: R * 0.022 * wMul,
        len: 26,
        curl: -up * 0.045,
        depth: 4,
      }, out);
      vesselTree(o, {
        ...trunk,
        ang: toMacula + Math.PI + up * (0.6 + off),
        w: R * 0.016 * wMul,
        len: 14,
        curl: up * 0.02,
        depth: 3,
      }, out);
    }
    for (const p of out) {
      const d = p.pts.map((q, i) => `${i ? "L" : "M"}${f(q[0])} ${f(q[1])}`).join("");
      parts.push(
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${
          f(Math.max(0.6, p.w))
        }" stroke-linecap="round" stroke-linejoin="round"/>`,
      );
    }
    if (kind === "vein") veins.push(...out);
  }
  return veins;
}

/** Grade ≥ 1: microaneurysms, small dark dots (more with each grade). */
function microaneurysms(o: Fundus, grade: number): void {
  const n = count(o, 6, 12) + (grade - 1) * 6;
  for (let i = 0; i < n; i++) {
    const p = randomPoint(o);
    o.lesion.push(
      `<circle cx="${f(p.x)}" cy="${f(p.y)}" r="${f(o.rng.uniform(1.4, 2.6) * o.scale)}" fill="${o.dark}"/>`,
    );
  }
}

/** Grade ≥ 2: dot-blot and flame haemorrhages (many from grade 3). */
function haemorrhages(o: Fundus, grade: number): void {
  const nh = grade === 2 ? count(o, 5, 10) : count(o, 18, 30);
  for (let i = 0; i < nh; i++) {
    const p = randomPoint(o), rx = o.rng.uniform(3, grade === 2 ? 7 : 9) * o.scale;
    const ry = rx * o.rng.uniform(0.4, 1), rot = f(o.rng.uniform(0, 180));
    o.lesion.push(
      `<ellipse cx="${f(p.x)}" cy="${f(p.y)}" rx="${f(rx)}" ry="${f(ry)}" transform="rotate(${rot} ${
        f(p.x)
      } ${f(p.y)})" fill="${o.dark}" opacity="${f(o.rng.uniform(0.75, 0.95))}"/>`,
    );
  }
}

/** Grade ≥ 2: hard exudates, clusters of small yellow-white flecks, often around the macula. */
function hardExudates(o: Fundus, grade: number): void {
  const { rng, macula, R, scale } = o;
  const nc = grade === 2 ? count(o, 2, 4) : count(o, 4, 7);
  for (let c = 0; c < nc; c++) {
    const centre = rng.float() < 0.5
      ? { x: macula.x + rng.normal(0, 0.25 * R), y: macula.y + rng.normal(0, 0.2 * R) }
      : randomPoint(o);
    if (!inField(o, centre.x, centre.y, 0.85)) continue;
    for (let i = count(o, 5, 12); i > 0; i--) {
      const x = centre.x + rng.normal(0, 10 * scale), y = centre.y + rng.normal(0, 10 * scale);
      o.lesion.push(
        `<circle cx="${f(x)}" cy="${f(y)}" r="${f(rng.uniform(1.2, 3) * scale)}" fill="${
          rgb(250, rng.uniform(220, 245), rng.uniform(120, 170))
        }"/>`,
      );
    }
  }
}

/** Grade ≥ 3: cotton-wool spots, soft pale patches. */
function cottonWoolSpots(o: Fundus): void {
  for (let i = count(o, 3, 7); i > 0; i--) {
    const p = randomPoint(o, 0.7);
    o.lesion.push(
      `<ellipse cx="${f(p.x)}" cy="${f(p.y)}" rx="${f(o.rng.uniform(7, 13) * o.scale)}" ry="${
        f(o.rng.uniform(5, 9) * o.scale)
      }" fill="rgb(248,240,225)" opacity="0.85" filter="url(#soft)"/>`,
    );
  }
}

/** Grade ≥ 3: venous beading, swellings strung along the larger veins. */
function venousBeading(o: Fundus, veins: Vessel[]): void {
  for (const v of veins.filter((p) => p.w > o.R * 0.012).slice(0, 3)) {
    for (let i = 2; i < v.pts.length; i += 2) {
      const [x, y] = v.pts[i];
      o.lesion.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${f(v.w * 1.1)}" fill="${o.dark}"/>`);
    }
  }
}

/** Grade 4: neovascularisation, tufts of fine tortuous vessels on the disc and elsewhere. */
function neovascularisation(o: Fundus): void {
  const { rng, scale, base } = o;
  for (let t = count(o, 2, 3); t > 0; t--) {
    const c = t === 1 ? o.disc : randomPoint(o, 0.75);
    let d = "";
    for (let i = count(o, 14, 22); i > 0; i--) {
      let x = c.x + rng.normal(0, 9 * scale), y = c.y + rng.normal(0, 9 * scale), a = rng.float() * 6.3;
      d += `M${f(x)} ${f(y)}`;
      for (let s = 0; s < 6; s++) {
        a += rng.normal(0, 0.9);
        x += 4 * scale * Math.cos(a);
        y += 4 * scale * Math.sin(a);
        d += `L${f(x)} ${f(y)}`;
      }
    }
    o.lesion.push(
      `<path d="${d}" fill="none" stroke="${
        rgb(base[0] * 0.7, base[1] * 0.15, base[2] * 0.3)
      }" stroke-width="${f(Math.max(0.6, 1.1 * scale))}"/>`,
    );
  }
}

/** Grade 4: laser scars, rows of pigmented burns around the periphery. */
function laserScars(o: Fundus): void {
  const { rng, cx, cy, R } = o;
  for (let i = count(o, 35, 60); i > 0; i--) {
    const a = rng.float() * 2 * Math.PI, d = R * rng.uniform(0.6, 0.88);
    const x = cx + d * Math.cos(a), y = cy + d * Math.sin(a), r = rng.uniform(4, 6.5) * o.scale;
    o.lesion.push(
      `<circle cx="${f(x)}" cy="${f(y)}" r="${
        f(r)
      }" fill="rgb(235,215,150)" stroke="rgb(70,35,20)" stroke-width="${f(r * 0.45)}" opacity="0.9"/>`,
    );
  }
}

/** The gradients and blur filter the painted parts refer to. */
function fundusDefs({ cx, cy, R, base }: Fundus): string {
  return `<defs>` +
    `<radialGradient id="bg" cx="${f(cx)}" cy="${f(cy)}" r="${f(R)}" gradientUnits="userSpaceOnUse">` +
    `<stop offset="0" stop-color="${rgb(base[0], base[1], base[2])}"/>` +
    `<stop offset="0.8" stop-color="${rgb(base[0] * 0.85, base[1] * 0.8, base[2] * 0.85)}"/>` +
    `<stop offset="1" stop-color="${rgb(base[0] * 0.45, base[1] * 0.35, base[2] * 0.4)}"/></radialGradient>` +
    `<radialGradient id="light"><stop offset="0" stop-color="rgb(255,235,200)"/>` +
    `<stop offset="1" stop-color="rgb(255,235,200)" stop-opacity="0"/></radialGradient>` +
    `<radialGradient id="mac"><stop offset="0" stop-color="${
      rgb(base[0] * 0.5, base[1] * 0.35, base[2] * 0.4)
    }"/>` +
    `<stop offset="0.35" stop-color="${
      rgb(base[0] * 0.7, base[1] * 0.6, base[2] * 0.65)
    }" stop-opacity="0.7"/>` +
    `<stop offset="1" stop-color="${rgb(base[0] * 0.9, base[1] * 0.9, base[2] * 0.9)}" stop-opacity="0"/>` +
    `</radialGradient>` +
    `<radialGradient id="disc"><stop offset="0" stop-color="rgb(255,250,225)"/>` +
    `<stop offset="0.4" stop-color="rgb(250,225,160)"/><stop offset="1" stop-color="${
      rgb(base[0] * 1.1, base[1] * 1.5, base[2] * 1.6)
    }"/></radialGradient>` +
    `<filter id="soft" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="${
      f(Math.max(0.5, R * 0.006))
    }"/></filter>` +
    `</defs>`;
}

/**
 * The SVG of one fundus-like photograph of DR grade `grade` (0-4), deterministic by `seed`: circular field on black (sometimes cut
 * off at top and bottom), orange-red background with uneven illumination, optic disc, macula, two
 * branching vessel trees, and lesions that grow in number and size with the grade (1 microaneurysms; 2 +
 * haemorrhages, hard exudates; 3 + many haemorrhages, cotton-wool spots, venous beading; 4 +
 * neovascularisation, laser scars). Also returns the field circle, for geometry tests.
 */
export function fundusSvg(
  seed: number | string,
  grade: number,
  opts: FundusSvgOptions,
): { svg: string; circle: { cx: number; cy: number; r: number } } {
  if (!Number.isInteger(grade) || grade < 0 || grade > 4) {
    throw new RangeError(`Grade must be 0-4, got ${grade}`);
  }
  // The draws below happen in a fixed order: each photo is a function of its seed alone.
  const rng = new Rng(seed);
  const { width: W, height: H } = opts;
  const R = H * rng.uniform(0.44, 0.56);
  const cx = W / 2 + rng.uniform(-0.03, 0.03) * W, cy = H / 2 + rng.uniform(-0.02, 0.02) * H;
  // Some Kaggle photos are mirrored/upside down ("inverted"); so are ~10 % of these.
  const inverted = rng.float() < 0.1;
  const side = (opts.eye === "right" ? 1 : -1) * (inverted ? -1 : 1);
  const bright = rng.uniform(0.55, 1.1);
  const base = [rng.uniform(185, 235) * bright, rng.uniform(75, 120) * bright, rng.uniform(25, 55) * bright];
  const disc = { x: cx + side * R * rng.uniform(0.38, 0.5), y: cy + rng.uniform(-0.08, 0.08) * R };
  const macula = { x: cx - side * R * rng.uniform(0.05, 0.15), y: cy + rng.uniform(-0.05, 0.05) * R };
  const discR = R * rng.uniform(0.075, 0.095);
  const o: Fundus = {
    rng,
    cx,
    cy,
    R,
    disc,
    discR,
    macula,
    base,
    scale: R / 200,
    dark: rgb(base[0] * 0.42, base[1] * 0.12, base[2] * 0.2),
    lesion: [],
  };
  const parts: string[] = [];

  // Background, macula and illumination.
  const lx = cx + rng.uniform(-0.4, 0.4) * R, ly = cy + rng.uniform(-0.4, 0.4) * R;
  parts.push(`<circle cx="${f(cx)}" cy="${f(cy)}" r="${f(R)}" fill="url(#bg)"/>`);
  parts.push(
    `<circle cx="${f(lx)}" cy="${f(ly)}" r="${f(R * rng.uniform(0.5, 0.9))}" fill="url(#light)" opacity="${
      f(rng.uniform(0.15, 0.45))
    }"/>`,
  );
  parts.push(`<circle cx="${f(macula.x)}" cy="${f(macula.y)}" r="${f(R * 0.22)}" fill="url(#mac)"/>`);
  const veins = vessels(o, parts);
  // Optic disc with its cup, above the vessels' roots.
  parts.push(
    `<circle cx="${f(disc.x)}" cy="${f(disc.y)}" r="${f(discR)}" fill="url(#disc)" filter="url(#soft)"/>`,
  );

  if (grade >= 1) microaneurysms(o, grade);
  if (grade >= 2) {
    haemorrhages(o, grade);
    hardExudates(o, grade);
  }
  if (grade >= 3) {
    cottonWoolSpots(o);
    venousBeading(o, veins);
  }
  if (grade >= 4) {
    neovascularisation(o);
    laserScars(o);
  }
  parts.push(`<g>${o.lesion.join("")}</g>`);

  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    fundusDefs(o) + `<rect width="${W}" height="${H}" fill="black"/>` +
    // Black outside the field by an even-odd mask path: librsvg's clipPath costs more than the whole picture.
    parts.join("") +
    `<path fill="black" fill-rule="evenodd" d="M-1 -1H${W + 1}V${H + 1}H-1Z` +
    `M${f(cx - R)} ${f(cy)}a${f(R)} ${f(R)} 0 1 0 ${f(2 * R)} 0a${f(R)} ${f(R)} 0 1 0 ${
      f(-2 * R)
    } 0Z"/></svg>`;
  return { svg, circle: { cx, cy, r: R } };
}

/** Options for {@linkcode synthFundus}. */
export interface SynthFundusOptions {
  /** output folder (Kaggle layout: `<id>_<eye>.jpeg` + `trainLabels.csv`) */
  out: string;
  /** number of photographs (two per patient; an odd count leaves one patient with one eye) */
  count: number;
  /** seed of the pictures (any integer or string) */
  seed: number | string;
  /** photo width in pixels, height = ⅔ width; default 512 */
  width?: number;
  /** relative grade frequencies; default {@linkcode KAGGLE_GRADE_FREQ} */
  gradeWeights?: readonly number[];
  /** JPEG quality; default 90 */
  quality?: number;
  /** photos rendered at once; default 2 × cores */
  concurrency?: number;
  /** sensor noise, standard deviation in grey levels; default 0 (makes JPEGs as large as real ones) */
  noise?: number;
}

/** What a synthesis run wrote. */
export interface SynthReport {
  /** output folder */
  out: string;
  /** pictures in the dataset */
  count: number;
  /** images per class / grade */
  perClass: number[];
  /** images rendered now (the rest already existed from an identical earlier run) */
  rendered: number;
  /** wall time in seconds */
  seconds: number;
}

/** Adds sensor-like noise (sum of two uniforms, standard deviation `std`) from a seeded 32-bit hash. */
function addNoise(px: Uint8Array, std: number, seed: string): void {
  let h = new Rng(seed).u32() | 1;
  // Two uniforms on ±a sum to a triangular law with standard deviation a·√(2/3).
  const a = std / Math.sqrt(2 / 3), scale = a / 2147483648;
  for (let i = 0; i < px.length; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    const u = h;
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    const v = px[i] + (u + h) * 0.5 * scale;
    px[i] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
  }
}

async function renderAll(
  jobs: {
    file: string;
    svg: () => string;
    kind: "jpeg" | "png";
    quality: number;
    noise?: { std: number; seed: string };
  }[],
  concurrency: number,
  reuse: boolean,
): Promise<number> {
  let next = 0, rendered = 0;
  const run = async () => {
    while (next < jobs.length) {
      const j = jobs[next++];
      if (reuse && await exists(j.file)) continue;
      let img = sharp(new TextEncoder().encode(j.svg()));
      if (j.noise) {
        const { data, info } = await img.flatten({ background: "#000" }).raw().toBuffer({
          resolveWithObject: true,
        });
        addNoise(data, j.noise.std, j.noise.seed);
        img = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
      }
      const buf = j.kind === "jpeg"
        ? await img.flatten({ background: "#000" }).jpeg({ quality: j.quality, chromaSubsampling: "4:2:0" })
          .toBuffer()
        : await img.flatten({ background: "#000" }).png().toBuffer();
      await writeFileAtomic(j.file, new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
      rendered++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, run));
  return rendered;
}

/**
 * Writes `count` synthetic fundus photographs in the Kaggle layout, deterministic by seed. Both eyes of a
 * patient get the same grade 70 % of the time. A rerun with the same settings only renders what is missing.
 */
export async function synthFundus(opts: SynthFundusOptions): Promise<SynthReport> {
  const t0 = performance.now();
  const width = opts.width ?? 512, quality = opts.quality ?? 90;
  const weights = opts.gradeWeights ?? KAGGLE_GRADE_FREQ;
  if (!Number.isInteger(opts.count) || opts.count < 1) {
    throw new RangeError(`Count must be ≥ 1, got ${opts.count}`);
  }
  if (!Number.isInteger(width) || width < 64 || width > 8192) {
    throw new RangeError(`Width must be 64-8192, got ${width}`);
  }
  if (weights.length !== 5 || weights.some((w) => !(w >= 0)) || !(weights.reduce((a, b) => a + b, 0) > 0)) {
    throw new RangeError(`Grade weights must be 5 non-negative numbers, got ${weights.join(",")}`);
  }
  const height = Math.round((width * 2) / 3);
  const noise = opts.noise ?? 0;
  const params = { kind: "fundus", seed: opts.seed, width, quality, weights: [...weights], noise };
  const paramsPath = join(opts.out, "synth.json");
  const reuse = (await exists(paramsPath)) &&
    JSON.stringify((await readJson<{ params: unknown }>(paramsPath)).params) === JSON.stringify(params);
  const root = new Rng(opts.seed);
  const rows = ["image,level"];
  const perClass = [0, 0, 0, 0, 0];
  const jobs: Parameters<typeof renderAll>[0] = [];
  for (let p = 0; p * 2 < opts.count; p++) {
    const id = p + 1;
    const pr = root.fork(`patient:${id}`);
    const g0 = pick(pr, weights);
    const g1 = pr.float() < 0.7 ? g0 : pick(pr, weights);
    for (const [k, eye] of (["left", "right"] as const).entries()) {
      if (p * 2 + k >= opts.count) break;
      const grade = k === 0 ? g0 : g1;
      const name = `${id}_${eye}`;
      rows.push(`${name},${grade}`);
      perClass[grade]++;
      const seed = `${opts.seed}:image:${name}`;
      jobs.push({
        file: join(opts.out, `${name}.jpeg`),
        svg: () => fundusSvg(seed, grade, { width, height, eye }).svg,
        kind: "jpeg",
        quality,
        noise: noise > 0 ? { std: noise, seed } : undefined,
      });
    }
  }
  if (!reuse) await writeJsonAtomic(paramsPath, { params, complete: false });
  const rendered = await renderAll(jobs, opts.concurrency ?? 2 * availableParallelism(), reuse);
  await writeFileAtomic(join(opts.out, "trainLabels.csv"), rows.join("\n") + "\n");
  await writeJsonAtomic(paramsPath, { params, complete: true, count: opts.count, perClass });
  return { out: opts.out, count: opts.count, perClass, rendered, seconds: (performance.now() - t0) / 1000 };
}

/** The classes of the synthetic natural-image source task, in label order. */
export const NATURAL_CLASSES: readonly string[] = [
  "circles",
  "rectangles",
  "triangles",
  "stars",
  "stripes",
  "checkerboard",
  "polka-dots",
  "rings",
  "waves",
  "landscape",
  "night-sky",
  "city-skyline",
];

/**
 * The SVG of one picture of class `cls` (an index into {@linkcode NATURAL_CLASSES}), `size`×`size`,
 * deterministic by `seed`.
 */
export function naturalSvg(seed: number | string, cls: number, size: number): string {
  const rng = new Rng(seed);
  const S = size, hue = () => rng.uniform(0, 360);
  const hsl = (h: number, s: number, l: number) => `hsl(${f(h)},${f(s)}%,${f(l)}%)`;
  const bgHue = hue();
  const bg = hsl(bgHue, rng.uniform(10, 60), rng.uniform(15, 85));
  const fg = () => hsl((bgHue + rng.uniform(90, 270)) % 360, rng.uniform(40, 90), rng.uniform(25, 75));
  const p: string[] = [`<rect width="${S}" height="${S}" fill="${bg}"/>`];
  const rot = () => f(rng.uniform(0, 360));
  const at = () => [rng.uniform(0.15, 0.85) * S, rng.uniform(0.15, 0.85) * S];
  const many = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
  switch (NATURAL_CLASSES[cls]) {
    case "circles":
      for (let i = many(1, 4); i > 0; i--) {
        const [x, y] = at();
        p.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${f(rng.uniform(0.08, 0.2) * S)}" fill="${fg()}"/>`);
      }
      break;
    case "rectangles":
      for (let i = many(1, 4); i > 0; i--) {
        const [x, y] = at(), w = rng.uniform(0.12, 0.35) * S, h = rng.uniform(0.12, 0.35) * S;
        p.push(
          `<rect x="${f(x - w / 2)}" y="${f(y - h / 2)}" width="${f(w)}" height="${
            f(h)
          }" fill="${fg()}" transform="rotate(${rot()} ${f(x)} ${f(y)})"/>`,
        );
      }
      break;
    case "triangles":
    case "stars": {
      const star = NATURAL_CLASSES[cls] === "stars";
      for (let i = many(1, 3); i > 0; i--) {
        const [x, y] = at(), r = rng.uniform(0.12, 0.25) * S, a0 = rng.float() * 6.3;
        const n = star ? 10 : 3;
        const pts = Array.from({ length: n }, (_, k) => {
          const rr = star && k % 2 ? r * 0.42 : r, a = a0 + (k * 2 * Math.PI) / n;
          return `${f(x + rr * Math.cos(a))},${f(y + rr * Math.sin(a))}`;
        });
        p.push(`<polygon points="${pts.join(" ")}" fill="${fg()}"/>`);
      }
      break;
    }
    case "stripes": {
      const w = rng.uniform(0.04, 0.1) * S, c = fg();
      let d = "";
      for (let x = -S; x < 2 * S; x += 2 * w) d += `M${f(x)} ${-S}h${f(w)}v${3 * S}h${f(-w)}z`;
      p.push(`<path d="${d}" fill="${c}" transform="rotate(${rot()} ${S / 2} ${S / 2})"/>`);
      break;
    }
    case "checkerboard": {
      const w = rng.uniform(0.08, 0.18) * S, c = fg();
      let d = "";
      for (let i = -12; i < 12; i++) {
        for (let j = -12; j < 12; j++) {
          if ((i + j) % 2 === 0) d += `M${f(i * w)} ${f(j * w)}h${f(w)}v${f(w)}h${f(-w)}z`;
        }
      }
      p.push(`<path d="${d}" fill="${c}" transform="rotate(${rot()} ${S / 2} ${S / 2})"/>`);
      break;
    }
    case "polka-dots": {
      const w = rng.uniform(0.1, 0.2) * S, r = w * rng.uniform(0.2, 0.35), c = fg();
      for (let x = w / 2; x < S; x += w) {
        for (let y = w / 2; y < S; y += w) {
          p.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${f(r)}" fill="${c}"/>`);
        }
      }
      break;
    }
    case "rings": {
      const [x, y] = at(), c = fg(), w = rng.uniform(0.03, 0.06) * S;
      for (let r = w; r < S; r += 2.5 * w) {
        p.push(
          `<circle cx="${f(x)}" cy="${f(y)}" r="${f(r)}" fill="none" stroke="${c}" stroke-width="${f(w)}"/>`,
        );
      }
      break;
    }
    case "waves": {
      const c = fg(),
        amp = rng.uniform(0.03, 0.08) * S,
        per = rng.uniform(0.2, 0.45) * S,
        gap = rng.uniform(0.1, 0.18) * S;
      for (let y0 = 0; y0 < S + gap; y0 += gap) {
        let d = `M0 ${f(y0)}`;
        for (let x = 0; x <= S; x += S / 24) {
          d += `L${f(x)} ${f(y0 + amp * Math.sin((2 * Math.PI * x) / per))}`;
        }
        p.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="${f(gap * 0.35)}"/>`);
      }
      break;
    }
    case "landscape": {
      const horizon = rng.uniform(0.45, 0.7) * S;
      p[0] = `<rect width="${S}" height="${S}" fill="${
        hsl(rng.uniform(190, 225), 70, rng.uniform(55, 80))
      }"/>`;
      p.push(
        `<circle cx="${f(rng.uniform(0.15, 0.85) * S)}" cy="${f(horizon * rng.uniform(0.2, 0.6))}" r="${
          f(S * 0.08)
        }" fill="hsl(50,95%,65%)"/>`,
      );
      let d = `M0 ${f(horizon)}`;
      for (let x = 0; x <= S; x += S / 8) d += `L${f(x)} ${f(horizon - rng.uniform(0, 0.3) * S)}`;
      p.push(
        `<path d="${d}L${S} ${f(horizon)}z" fill="${hsl(rng.uniform(200, 280), 20, rng.uniform(30, 50))}"/>`,
      );
      p.push(
        `<rect y="${f(horizon)}" width="${S}" height="${f(S - horizon)}" fill="${
          hsl(rng.uniform(80, 140), 50, rng.uniform(25, 45))
        }"/>`,
      );
      break;
    }
    case "night-sky": {
      p[0] = `<rect width="${S}" height="${S}" fill="${
        hsl(rng.uniform(220, 260), 50, rng.uniform(4, 14))
      }"/>`;
      for (let i = many(25, 60); i > 0; i--) {
        p.push(
          `<circle cx="${f(rng.float() * S)}" cy="${f(rng.float() * S)}" r="${
            f(rng.uniform(0.004, 0.012) * S)
          }" fill="white"/>`,
        );
      }
      const [x, y] = at();
      p.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${f(S * 0.1)}" fill="hsl(55,30%,88%)"/>`);
      break;
    }
    case "city-skyline": {
      p[0] = `<rect width="${S}" height="${S}" fill="${hsl(rng.uniform(0, 360), 40, rng.uniform(50, 80))}"/>`;
      for (let x = 0; x < S;) {
        const w = rng.uniform(0.07, 0.16) * S, h = rng.uniform(0.25, 0.75) * S;
        p.push(
          `<rect x="${f(x)}" y="${f(S - h)}" width="${f(w + 1)}" height="${f(h)}" fill="${
            hsl(0, 0, rng.uniform(10, 35))
          }"/>`,
        );
        for (let wy = S - h + 4; wy < S - 4; wy += 0.06 * S) {
          for (let wx = x + 0.15 * w; wx < x + w - 0.25 * w; wx += 0.3 * w) {
            if (rng.float() < 0.6) {
              p.push(
                `<rect x="${f(wx)}" y="${f(wy)}" width="${f(0.15 * w)}" height="${
                  f(0.025 * S)
                }" fill="hsl(50,90%,70%)"/>`,
              );
            }
          }
        }
        x += w;
      }
      break;
    }
    default:
      throw new RangeError(`Class must be 0-${NATURAL_CLASSES.length - 1}, got ${cls}`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}" viewBox="0 0 ${S} ${S}">${
    p.join("")
  }</svg>`;
}

/** Options for {@linkcode synthNatural}. */
export interface SynthNaturalOptions {
  /** output folder: `images/<class>_<n>.jpeg`, `labels.csv` (`path,label`), `classes.json` */
  out: string;
  /** number of pictures, classes balanced round robin */
  count: number;
  /** seed of the pictures (any integer or string) */
  seed: number | string;
  /** side in pixels; default 96 */
  size?: number;
  /** pictures rendered at once; default 2 × cores */
  concurrency?: number;
}

/**
 * Writes the synthetic natural-image source task (12 balanced classes) in the generic CSV layout, so it
 * goes through the same ingest as the fundus data (`--format csv --crop none --classes 12`).
 */
export async function synthNatural(opts: SynthNaturalOptions): Promise<SynthReport> {
  const t0 = performance.now();
  const size = opts.size ?? 96;
  if (!Number.isInteger(opts.count) || opts.count < 1) {
    throw new RangeError(`Count must be ≥ 1, got ${opts.count}`);
  }
  if (!Number.isInteger(size) || size < 16 || size > 4096) {
    throw new RangeError(`Size must be 16-4096, got ${size}`);
  }
  const params = { kind: "natural", seed: opts.seed, size };
  const paramsPath = join(opts.out, "synth.json");
  const reuse = (await exists(paramsPath)) &&
    JSON.stringify((await readJson<{ params: unknown }>(paramsPath)).params) === JSON.stringify(params);
  const rows = ["path,label"];
  const perClass = NATURAL_CLASSES.map(() => 0);
  const jobs: Parameters<typeof renderAll>[0] = [];
  for (let i = 0; i < opts.count; i++) {
    const cls = i % NATURAL_CLASSES.length;
    const name = `images/${NATURAL_CLASSES[cls]}_${
      String(Math.floor(i / NATURAL_CLASSES.length)).padStart(5, "0")
    }.jpeg`;
    rows.push(`${name},${cls}`);
    perClass[cls]++;
    const seed = `${opts.seed}:natural:${i}`;
    jobs.push({
      file: join(opts.out, name),
      svg: () => naturalSvg(seed, cls, size),
      kind: "jpeg",
      quality: 92,
    });
  }
  if (!reuse) await writeJsonAtomic(paramsPath, { params, complete: false });
  const rendered = await renderAll(jobs, opts.concurrency ?? 2 * availableParallelism(), reuse);
  await writeFileAtomic(join(opts.out, "labels.csv"), rows.join("\n") + "\n");
  await writeJsonAtomic(join(opts.out, "classes.json"), NATURAL_CLASSES);
  await writeJsonAtomic(paramsPath, { params, complete: true, count: opts.count, perClass });
  return { out: opts.out, count: opts.count, perClass, rendered, seconds: (performance.now() - t0) / 1000 };
}
