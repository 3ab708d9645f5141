/**
 * The training step of this checkout against another checkout of the project (an older commit), cell by cell
 * and alternately in one run, so that both see the same machine: for a refactor that must lose no speed.
 * Each measurement is bench/train.ts's child mode in its own process (median ms per step after 2 warm-ups,
 * the Conv rule's fixed choices), old and new taking turns first.
 *
 * Usage: deno run -A bench/ab.ts OLD_CHECKOUT [--cells cbr-small@28:64,resnet50@64:32] [--rounds 3]
 *        [--steps 5] [--threads 2] [--out bench/results/ab.md] [--no-write]
 * OLD_CHECKOUT is a folder holding the other commit with its dependencies installed, e.g.
 * `git worktree add /tmp/old COMMIT && (cd /tmp/old && deno install --frozen)`.
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { median, writeLatest } from "./common.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    cells: { type: "string", default: "cbr-small@28:64,resnet50@28:64,cbr-small@64:32,squeezenet1_1@64:32" },
    rounds: { type: "string", default: "3" },
    steps: { type: "string", default: "5" },
    threads: { type: "string", default: "2" },
    out: { type: "string", default: "bench/results/ab.md" },
    "no-write": { type: "boolean", default: false },
  },
});
if (positionals.length !== 1) throw new TypeError("Usage: deno run -A bench/ab.ts OLD_CHECKOUT [flags]");
const OLD = resolve(positionals[0]);
const NEW = resolve(new URL("..", import.meta.url).pathname);

const cells = values.cells!.split(",").map((c) => {
  const m = /^([\w-]+)@(\d+):(\d+)$/.exec(c.trim());
  if (!m) throw new RangeError(`--cells: "${c}" is not MODEL@SIZE:BATCH`);
  return { model: m[1], size: Number(m[2]), batch: Number(m[3]) };
});

/** One child measurement of `root`'s bench/train.ts: ms per step. */
async function measure(root: string, cell: typeof cells[number]): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(root, "bench", "train.ts"),
      "--child",
      cell.model,
      "--batch",
      String(cell.batch),
      "--size",
      String(cell.size),
      "--steps",
      values.steps!,
      "--threads",
      values.threads!,
      "--no-tune",
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) throw new Error(`${root}: ${cell.model} failed: ${new TextDecoder().decode(out.stderr)}`);
  return (JSON.parse(text) as { ms_per_step: number }).ms_per_step;
}

const rows: string[] = [];
const rounds = Number(values.rounds);
for (const [i, cell] of cells.entries()) {
  const old: number[] = [], now: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which side goes first, round by round and cell by cell
    const order = (r + i) % 2 === 0 ? [OLD, NEW] : [NEW, OLD];
    for (const root of order) (root === OLD ? old : now).push(await measure(root, cell));
  }
  const ratio = median(now) / median(old);
  const tag = `${cell.model} ${cell.size}² ×${cell.batch}`;
  console.error(`${tag}: old ${old.map((x) => x.toFixed(0))} ms, new ${now.map((x) => x.toFixed(0))} ms`);
  rows.push(
    `| ${tag} | ${median(old).toFixed(1)} | ${median(now).toFixed(1)} | ${ratio.toFixed(3)} | ${
      old.map((x) => x.toFixed(0)).join(" / ")
    } | ${now.map((x) => x.toFixed(0)).join(" / ")} |`,
  );
}
const table = [
  `\`deno run -A bench/ab.ts ${positionals[0]} --cells ${values.cells} --rounds ${rounds}\`, ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC, ${navigator.hardwareConcurrency} cores, ${values.threads} threads; ms per training step (median)`,
  "",
  "| cell | old ms | new ms | new / old | old rounds | new rounds |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows,
].join("\n");
console.log(table);
if (!values["no-write"]) {
  await writeLatest(values.out!, table, "Training step: this checkout against another");
}
