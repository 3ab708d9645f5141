// No import cycle under lib/ (issue 25, item 6). Type-only imports count: a cycle through `import type` runs,
// since the types are erased, but it still ties two modules' concepts into one (neither can be read, moved or
// replaced without the other), which is what the layering is for; and without them no cycle was left to find.
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

// a static import or re-export at the start of a line (doc examples sit behind ` * `), multi-line braces included
const STATIC =
  /^[ \t]*(?:import|export)\b[^;"']*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']|^[ \t]*import\s*["'](\.{1,2}\/[^"']+)["']/gm;

/** The relative modules `source` imports statically (values and types alike). */
export function importsOf(source: string): string[] {
  return [...source.matchAll(STATIC)].map((m) => m[1] ?? m[2]);
}

/** The cycles of a module graph (each strongly connected component of more than one module, or a self-import). */
export function cycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [];
  const on = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || edges.get(v)!.includes(v)) found.push(scc.reverse());
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) tsFiles(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

Deno.test("imports: no cycle under lib/, type-only imports included", () => {
  const edges = new Map<string, string[]>();
  for (const f of tsFiles(join(ROOT, "lib"))) {
    edges.set(f, importsOf(Deno.readTextFileSync(f)).map((s) => resolve(dirname(f), s)));
  }
  // the reader sees the imports (a broken pattern would find no cycle because it finds no edge)
  const graph = join(ROOT, "lib/graph/graph.ts");
  assert.ok(edges.get(graph)!.includes(join(ROOT, "lib/graph/ops.ts")), "graph.ts → ops.ts not read");
  assert.ok(edges.get(graph)!.includes(join(ROOT, "lib/graph/types.ts")), "graph.ts → types.ts not read");
  const named = cycles(edges).map((c) => c.map((f) => relative(ROOT, f)).join(" → "));
  assert.deepEqual(named, [], `import cycles under lib/:\n${named.join("\n")}`);
});

Deno.test("imports: the check finds a cycle through a type-only or multi-line import", () => {
  const src: Record<string, string> = {
    "a.ts": 'import { b } from "./b.ts";\nexport const a = 1;\n',
    "b.ts": 'import type {\n  C,\n} from "./c.ts";\nexport const b = 2;\n',
    "c.ts": '/**\n * import { a } from "./d.ts";\n */\nexport type { A } from "./a.ts";\n',
    "d.ts": 'import "./d.ts";\n',
  };
  assert.deepEqual(importsOf(src["b.ts"]), ["./c.ts"]);
  assert.deepEqual(importsOf(src["c.ts"]), ["./a.ts"], "a doc example is not an import");
  const edges = new Map(Object.entries(src).map(([f, s]) => [f, importsOf(s).map((i) => i.slice(2))]));
  assert.deepEqual(cycles(edges), [["a.ts", "b.ts", "c.ts"], ["d.ts"]]);
});
