/**
 * Dataset listings: Kaggle EyePACS 2015, APTOS 2019, a generic `path,label[,patient]` CSV, and MedMNIST
 * RetinaMNIST `.npz`. Each becomes a list of {@linkcode DatasetItem}s; malformed listings fail with a
 * message naming the file (and line), missing image files are collected for the report.
 * @module
 */
import { parse } from "npm:csv-parse@7.0.3/sync";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { readdir, realpath, stat } from "node:fs/promises";
import { readNpz } from "../util/npy.ts";
import { errorMessage } from "../util/errors.ts";

/** The dataset layouts understood by the ingest. */
export type DatasetFormat = "kaggle" | "aptos" | "csv" | "medmnist";

/** All of {@linkcode DatasetFormat}, for CLI validation. */
export const DATASET_FORMATS: readonly DatasetFormat[] = ["kaggle", "aptos", "csv", "medmnist"];

/** One labelled image of a dataset. */
export interface DatasetItem {
  /** unique id (Kaggle `10_left`, APTOS `id_code`, the CSV path, MedMNIST `train/17`) */
  id: string;
  /** absolute path of the image file; for MedMNIST the `.npz` path */
  file: string;
  /** grade / class */
  label: number;
  /** patient id (both eyes of a patient share it) */
  patient: string;
  /** a split fixed by the dataset itself (MedMNIST) */
  split?: "train" | "val" | "test";
  /** decoded pixels for datasets stored as arrays (MedMNIST): H×W×3 */
  raw?: { data: Uint8Array; width: number; height: number };
}

/** A listed dataset. */
export interface Dataset {
  /** the detected or named layout */
  format: DatasetFormat;
  /** folder that relative sources are reported against */
  root: string;
  /** the listing file (CSV or NPZ) */
  listing: string;
  /** images whose file exists, in listing order */
  items: DatasetItem[];
  /** listed images whose file does not exist */
  missing: { id: string; file: string }[];
}

/** Options for {@linkcode listDataset}. */
export interface ListOptions {
  /** skip detection */
  format?: DatasetFormat;
  /** labels must lie in [0, classes); default 5 (DR grades 0-4) */
  classes?: number;
  /**
   * let a listing (Kaggle, APTOS or a generic CSV) name files outside its own folder (absolute paths, `..`,
   * links that lead out); default false: such a row is refused, so that a listing cannot pull arbitrary
   * files into a cache
   */
  allowOutsidePaths?: boolean;
}

/** Whether `path` lies inside the folder `root` (both absolute). */
function inside(root: string, path: string): boolean {
  const r = relative(root, path);
  return r === "" || (!r.startsWith(`..${sep}`) && r !== ".." && !isAbsolute(r));
}

const OUTSIDE_HINT = "pass --allow-outside-paths to read it anyway";

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Detects the layout of `path`: a folder with `trainLabels.csv` (Kaggle), `train.csv` with `id_code`
 * (APTOS), `retinamnist*.npz` (MedMNIST) or one CSV with `path,label` columns; or such a file itself.
 */
export async function detectFormat(path: string): Promise<{ format: DatasetFormat; listing: string }> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new Error(`Dataset ${path} does not exist`);
  }
  if (st.isFile()) {
    if (path.endsWith(".npz")) return { format: "medmnist", listing: path };
    const header = (await Deno.readTextFile(path)).split(/\r?\n/, 1)[0].toLowerCase();
    const cols = header.split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
    if (cols.includes("image") && cols.includes("level")) return { format: "kaggle", listing: path };
    if (cols.includes("id_code") && cols.includes("diagnosis")) return { format: "aptos", listing: path };
    return { format: "csv", listing: path };
  }
  const names = (await readdir(path)).sort();
  if (names.includes("trainLabels.csv")) return { format: "kaggle", listing: join(path, "trainLabels.csv") };
  if (names.includes("train.csv")) return { format: "aptos", listing: join(path, "train.csv") };
  const npz = names.filter((n) => /^retinamnist.*\.npz$/i.test(n));
  if (npz.length === 1) return { format: "medmnist", listing: join(path, npz[0]) };
  const csvs = names.filter((n) => n.endsWith(".csv"));
  if (csvs.length === 1) return { format: "csv", listing: join(path, csvs[0]) };
  throw new Error(
    `Cannot detect the dataset format of ${path}: expected trainLabels.csv (Kaggle), train.csv (APTOS), ` +
      `one retinamnist*.npz (MedMNIST) or one path,label CSV; name it with --format`,
  );
}

function readCsv(
  file: string,
  text: string,
  need: string[],
): { row: Record<string, string>; line: number }[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, info: true });
  } catch (e) {
    throw new TypeError(`${file} is not valid CSV: ${errorMessage(e)}`);
  }
  const header = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0];
  const cols = header.split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
  const lack = need.filter((c) => !cols.includes(c));
  if (lack.length) {
    throw new TypeError(`${file} lacks column(s) ${lack.join(", ")} (has: ${cols.join(", ")})`);
  }
  return records.map((r) => ({ row: r.record, line: r.info.lines }));
}

function parseLabel(file: string, line: number, text: string, classes: number): number {
  // digits only: Number() would also read 0x3, 3e0, 3.0 and +3 as 3, which no grade column means
  const v = Number(text);
  if (!/^\d+$/.test(text) || v >= classes) {
    throw new RangeError(
      `${file} line ${line}: label '${text}' is not an integer in 0-${classes - 1} (plain decimal digits)`,
    );
  }
  return v;
}

/**
 * Lists a dataset: validates the listing (columns, labels in range, unique ids, not empty) and resolves
 * image files; files that do not exist are returned in `missing`, not dropped silently.
 */
export async function listDataset(path: string, opts: ListOptions = {}): Promise<Dataset> {
  const classes = opts.classes ?? 5;
  let listing: string, format: DatasetFormat;
  if (opts.format) {
    format = opts.format;
    if (!DATASET_FORMATS.includes(format)) throw new RangeError(`Unknown dataset format '${format}'`);
    const st = await stat(path).catch(() => null);
    if (!st) throw new Error(`Dataset ${path} does not exist`);
    if (st.isFile()) listing = path;
    else {
      const names = (await readdir(path)).sort();
      const pick = format === "kaggle"
        ? names.find((n) => n === "trainLabels.csv")
        : format === "aptos"
        ? names.find((n) => n === "train.csv")
        : format === "medmnist"
        ? names.find((n) => /\.npz$/i.test(n))
        : names.find((n) => n.endsWith(".csv"));
      if (!pick) throw new Error(`${path} has no ${format} listing file`);
      listing = join(path, pick);
    }
  } else {
    ({ format, listing } = await detectFormat(path));
  }
  listing = resolve(listing);
  const root = dirname(listing);
  const items: DatasetItem[] = [];
  if (format === "medmnist") {
    const z = await readNpz(listing);
    for (const split of ["train", "val", "test"] as const) {
      const im = z.get(`${split}_images`), lb = z.get(`${split}_labels`);
      if (!im && !lb) continue;
      if (!im || !lb) throw new TypeError(`${listing} has ${split}_images or ${split}_labels but not both`);
      if (im.dtype !== "uint8" || (im.shape.length !== 4 && im.shape.length !== 3)) {
        throw new TypeError(
          `${listing}: ${split}_images must be uint8 N×H×W×3 or N×H×W, got ${im.dtype} [${im.shape}]`,
        );
      }
      const [n, h, w] = im.shape, c = im.shape[3] ?? 1;
      if (c !== 3 && c !== 1) throw new TypeError(`${listing}: ${split}_images has ${c} channels`);
      if (lb.data.length !== n) {
        throw new TypeError(`${listing}: ${split}_labels has ${lb.data.length} labels for ${n} images`);
      }
      for (let i = 0; i < n; i++) {
        const v = Number(lb.data[i]);
        if (!Number.isInteger(v) || v < 0 || v >= classes) {
          throw new RangeError(`${listing}: ${split}_labels[${i}] = ${v} is not in 0-${classes - 1}`);
        }
        const src = (im.data as Uint8Array).subarray(i * h * w * c, (i + 1) * h * w * c);
        let data = src;
        if (c === 1) {
          data = new Uint8Array(h * w * 3);
          for (let p = 0; p < h * w; p++) data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = src[p];
        }
        const id = `${split}/${i}`;
        items.push({ id, file: listing, label: v, patient: id, split, raw: { data, width: w, height: h } });
      }
    }
    if (!items.length) throw new TypeError(`${listing} has no train_images/val_images/test_images arrays`);
    return { format, root, listing, items, missing: [] };
  }

  let text: string;
  try {
    text = await Deno.readTextFile(listing);
  } catch (e) {
    throw new Error(`Cannot read ${listing}: ${errorMessage(e)}`);
  }
  const seen = new Map<string, number>();
  const addId = (id: string, line: number) => {
    const prev = seen.get(id);
    if (prev !== undefined) {
      throw new TypeError(`${listing} line ${line}: duplicate id '${id}' (first on line ${prev})`);
    }
    seen.set(id, line);
  };
  if (format === "kaggle" || format === "aptos") {
    const [idCol, labelCol, exts, subdirs] = format === "kaggle"
      ? ["image", "level", [".jpeg", ".jpg", ".png"], ["", "train"]]
      : ["id_code", "diagnosis", [".png", ".jpg", ".jpeg"], ["", "train_images"]];
    const rows = readCsv(listing, text, [idCol, labelCol]);
    // Find the image folder and extension once, from the first row whose file exists.
    let where: { sub: string; ext: string } | null = null;
    for (const { row } of rows.slice(0, 50)) {
      for (const sub of subdirs) {
        for (const ext of exts) {
          if (!where && await isFile(join(root, sub, row[idCol] + ext))) where = { sub, ext };
        }
      }
      if (where) break;
    }
    where ??= { sub: subdirs[0], ext: exts[0] };
    for (const { row, line } of rows) {
      const id = row[idCol];
      if (!id) throw new TypeError(`${listing} line ${line}: empty ${idCol}`);
      addId(id, line);
      const label = parseLabel(listing, line, row[labelCol], classes);
      const m = /^(.+)_(left|right)$/i.exec(id);
      const patient = format === "kaggle" && m ? m[1] : id;
      const file = join(root, where.sub, id + where.ext);
      if (!opts.allowOutsidePaths && (!inside(root, file) || isAbsolute(id))) {
        throw new RangeError(
          `${listing} line ${line}: ${idCol} '${id}' leaves the CSV's folder ${root} (${OUTSIDE_HINT})`,
        );
      }
      items.push({ id, file, label, patient });
    }
  } else {
    const rows = readCsv(listing, text, ["path", "label"]);
    for (const { row, line } of rows) {
      if (!row.path) throw new TypeError(`${listing} line ${line}: empty path`);
      addId(row.path, line);
      const label = parseLabel(listing, line, row.label, classes);
      const file = resolve(root, row.path);
      if (!opts.allowOutsidePaths) {
        if (isAbsolute(row.path)) {
          throw new RangeError(
            `${listing} line ${line}: path '${row.path}' is absolute; paths are read relative to the CSV's folder ${root} (${OUTSIDE_HINT})`,
          );
        }
        if (!inside(root, file)) {
          throw new RangeError(
            `${listing} line ${line}: path '${row.path}' leaves the CSV's folder ${root} (${OUTSIDE_HINT})`,
          );
        }
      }
      items.push({ id: row.path, file, label, patient: row.patient || row.path });
    }
  }
  if (!items.length) throw new TypeError(`${listing} lists no images`);
  const missing: { id: string; file: string }[] = [];
  const present: DatasetItem[] = [];
  // links are followed: one that leads out of the folder reads outside it as surely as "../"
  const realRoot = opts.allowOutsidePaths ? null : await realpath(root);
  for (const it of items) {
    if (!(await isFile(it.file))) {
      missing.push({ id: it.id, file: it.file });
      continue;
    }
    if (realRoot !== null) {
      const real = await realpath(it.file);
      if (!inside(realRoot, real)) {
        throw new RangeError(
          `${listing} line ${
            seen.get(it.id)
          }: path '${it.id}' resolves to ${real}, outside the CSV's folder ${realRoot} (${OUTSIDE_HINT})`,
        );
      }
    }
    present.push(it);
  }
  return { format, root, listing, items: present, missing };
}

/** The path of `file` relative to `root` when inside it (manifests stay portable), else absolute. */
export function relativeTo(root: string, file: string): string {
  const r = resolve(root) + "/";
  return file.startsWith(r) ? file.slice(r.length) : file === resolve(root) ? basename(file) : file;
}
