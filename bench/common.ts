/**
 * Pieces the benchmark scripts share: torch's names for our models, the median, and the rewrite of a results
 * file's `<!-- latest -->` section.
 * @module
 */
import { writeFileAtomic } from "../lib/util/fs.ts";

/** The step shape every engine benchmark takes (node:util parseArgs options): the batch 16, 128², 2 threads. */
export const STEP_OPTIONS = {
  models: { type: "string", default: "cbr-small,resnet50,inception_v3" },
  batch: { type: "string", default: "16" },
  size: { type: "string", default: "128" },
  threads: { type: "string", default: "2" },
  "no-write": { type: "boolean", default: false },
} as const;

/** bench/torch_train.py's model names where they differ from ours. */
export const TORCH_NAME: Readonly<Record<string, string>> = {
  "cbr-small": "cbr_small",
  "cbr-tiny": "cbr_tiny",
};

/** Median (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const v = [...xs].sort((a, b) => a - b), h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

/**
 * Replaces the text between the two `<!-- latest -->` markers of `path` with `body` (atomically), or starts
 * the file with `title` and the marked body when it has no markers yet; then formats it with `deno fmt`, so
 * that a committed results file passes `deno task check` as written.
 */
export async function writeLatest(path: string, body: string, title: string): Promise<void> {
  let prev = "";
  try {
    prev = await Deno.readTextFile(path);
  } catch { /* first run */ }
  const marker = "<!-- latest -->";
  const marked = `${marker}\n\n${body}\n\n${marker}`;
  const re = new RegExp(`${marker}[\\s\\S]*${marker}`);
  await writeFileAtomic(
    path,
    re.test(prev) ? prev.replace(re, () => marked) : `# ${title}\n\n${marked}\n${prev}`,
  );
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!fmt.success) {
    console.error(`${path}: written, but deno fmt failed: ${new TextDecoder().decode(fmt.stderr).trim()}`);
  }
}
