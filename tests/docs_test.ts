import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DOCS = [
  "README.md",
  "BENCHMARKS.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
/** Top-level folders whose paths the pages name from the repository root. */
const TOP = new Set(["lib", "tasks", "tests", "bench", "scripts", "fixtures", "vendor", "docs", ".ci"]);
/** Bare file names of these kinds must be some file of the repository (a `report.json` is an output). */
const BARE = /^[\w.-]+\.(ts|py|md|sh|wat)$/;

function walk(dir: string, out: Set<string>): Set<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (["node_modules", "out", ".git"].includes(e.name)) continue;
    if (e.isDirectory()) walk(join(dir, e.name), out);
    else out.add(e.name);
  }
  return out;
}
const BASENAMES = walk(ROOT, new Set());

/** What a page names that must exist: links, paths in code spans, paths in code blocks. */
function named(page: string): { what: string; ok: boolean }[] {
  const text = readFileSync(join(ROOT, page), "utf8"), dir = dirname(join(ROOT, page));
  const found: { what: string; ok: boolean }[] = [];
  const inRepo = (p: string) => !relative(ROOT, p).startsWith("..") && existsSync(p);
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1].replace(/#.*$/, "");
    if (/^[a-z]+:/.test(target) || target === "") continue;
    found.push({ what: `link ${m[1]}`, ok: inRepo(resolve(dir, target)) });
  }
  const blocks = [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, "");
  const spans = [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1].trim());
  const tokens = blocks.flatMap((b) => b.split(/[\s=,"'()]+/));
  for (const t of [...spans, ...tokens]) {
    if (!/^[\w./-]+$/.test(t)) continue;
    const first = t.split("/")[0];
    // `../outside.jpeg` is an example of a bad path, not a reference; `../shared/x.md` is one, and outside
    if (t.startsWith("../")) {
      if (/\.(ts|py|md|sh|wat)$/.test(t)) found.push({ what: t, ok: inRepo(resolve(dir, t)) });
    } else if (t.includes("/") && TOP.has(first)) found.push({ what: t, ok: existsSync(join(ROOT, t)) });
    else if (!t.includes("/") && BARE.test(t)) found.push({ what: t, ok: BASENAMES.has(t) });
  }
  return found;
}

Deno.test("docs: every file README.md, BENCHMARKS.md and docs/*.md link or name exists", () => {
  let checked = 0;
  for (const page of DOCS) {
    const missing = named(page).filter((n) => (checked++, !n.ok)).map((n) => n.what);
    assert.deepEqual(missing, [], `${page} names what is not in the repository`);
  }
  assert.ok(checked > 100, `only ${checked} names checked`);
});

Deno.test("docs: README is a five-minute read whose commands are this repository's tasks", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.ok(readme.split("\n").length <= 220, "README.md is longer than 220 lines");
  const tasks = Object.keys(JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).tasks);
  const used = [...readme.matchAll(/deno(?:@[\d.]+)? task ([\w-]+)/g)].map((m) => m[1]);
  assert.ok(used.length >= 5);
  assert.deepEqual(used.filter((t) => !tasks.includes(t)), []);
});

Deno.test("docs: README's speed ratios are BENCHMARKS.md's CPU table's", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const bench = readFileSync(join(ROOT, "BENCHMARKS.md"), "utf8");
  const cpu = bench.slice(bench.indexOf("## CPU"), bench.indexOf("\n## ", bench.indexOf("## CPU") + 1));
  const table = new Set([...cpu.matchAll(/\| (\d\.\d\d)× +\|/g)].map((m) => m[1]));
  assert.ok(table.size >= 9);
  const quoted = [...readme.matchAll(/(\d\.\d\d)(?:–(\d\.\d\d))?×/g)].flatMap((m) =>
    m.slice(1).filter(Boolean)
  );
  assert.ok(quoted.length >= 5);
  assert.deepEqual(quoted.filter((r) => !table.has(r)), []);
});
