/**
 * A mutation check: does a test notice when the code is wrong? Copies the repository (node_modules linked,
 * not copied) to a temporary folder, replaces one exact piece of text in one file there, runs the given
 * test files in the copy and says whether they killed the mutant (a test failed) or let it survive. The
 * working tree is never touched.
 *
 *   deno run -A scripts/mutate.ts lib/stats/summary.ts "ss / (n - 1)" "ss / n" tests/stats/golden_test.ts
 *
 * Leading flags go to `deno test` (`--no-check` to skip type checking, `--filter NAME` for one test).
 * `--all [PREFIX]` runs instead every mutant listed in scripts/mutants.ts (those whose id starts with PREFIX),
 * each against its own tests, and prints one line each; `--list` prints them and whether each still applies.
 *
 * Exit code: 0 when the mutant was killed (with `--all`: every one), 1 when one survived, 2 on a usage error
 * (the text must occur exactly once in the file; with `--all`, a listed mutant whose text does not).
 * @module
 */
import { join, resolve } from "node:path";
import { type Mutant, MUTANTS } from "./mutants.ts";

const TEST_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
];
const SKIP = new Set(["node_modules", ".git", "out"]);

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (SKIP.has(e.name)) continue;
    const [a, b] = [join(from, e.name), join(to, e.name)];
    if (e.isDirectory) await copyTree(a, b);
    else if (e.isSymlink) await Deno.symlink(await Deno.readLink(a), b);
    else await Deno.copyFile(a, b);
  }
}

/** How many times `from` occurs in `file` (a listed mutant applies only where it is exactly once). */
async function occurrences(root: string, file: string, from: string): Promise<number> {
  return (await Deno.readTextFile(join(root, file))).split(from).length - 1;
}

/** Applies one mutant in a copy of `root` and runs `tests` there; the working tree is never touched. */
async function runMutant(
  root: string,
  m: Pick<Mutant, "file" | "from" | "to" | "tests">,
  flags: string[],
): Promise<{ killed: boolean; failed: string[]; why?: string; tail: string }> {
  const text = await Deno.readTextFile(join(root, m.file));
  const dir = await Deno.makeTempDir({ prefix: "mutant-" });
  try {
    await copyTree(root, dir);
    await Deno.symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await Deno.writeTextFile(join(dir, m.file), text.replace(m.from, () => m.to));
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", ...TEST_FLAGS, ...flags, ...m.tests],
      cwd: dir,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    return {
      killed: !run.success,
      failed: out.split("\n").filter((l) => / \.\.\. FAILED/.test(l)).map((l) => l.trim()),
      why: out.split("\n").find((l) => l.startsWith("error: ") && l !== "error: Test failed"),
      tail: out.trim().split("\n").at(-1) ?? "",
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function report(r: Awaited<ReturnType<typeof runMutant>>): void {
  for (const l of r.failed) console.log(`  ${l}`);
  if (r.killed && r.why) console.log(`  ${r.why.slice(0, 300)}`);
  if (r.killed && r.failed.length === 0) console.log(`  (no test failed: ${r.tail})`);
}

/** `--all [PREFIX]` and `--list`: the listed mutants of scripts/mutants.ts. */
async function listed(root: string, prefix: string, run: boolean, flags: string[]): Promise<number> {
  const chosen = MUTANTS.filter((m) => m.id.startsWith(prefix));
  if (chosen.length === 0) {
    console.error(`mutate: no listed mutant's id starts with "${prefix}"`);
    return 2;
  }
  let survived = 0, stale = 0;
  for (const m of chosen) {
    const n = await occurrences(root, m.file, m.from);
    if (n !== 1) {
      stale++;
      console.log(`STALE ${m.id}: ${m.what}: its text occurs ${n} times in ${m.file}; rebuild it`);
      continue;
    }
    if (!run) {
      console.log(`${m.id}: ${m.what} (${m.file}) → ${m.tests.join(" ")}`);
      continue;
    }
    const r = await runMutant(root, m, flags);
    if (!r.killed) survived++;
    console.log(`${r.killed ? "killed" : "SURVIVED"} ${m.id}: ${m.what} (${m.file})`);
    report(r);
  }
  if (run) console.log(`${chosen.length - survived - stale} killed, ${survived} survived, ${stale} stale`);
  return stale ? 2 : survived ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  // leading flags (e.g. --no-check, --filter NAME) go to `deno test` as they are
  const flags: string[] = [];
  let args = argv;
  while (args[0]?.startsWith("--") && args[0] !== "--all" && args[0] !== "--list") {
    const take = args[0] === "--filter" ? 2 : 1;
    flags.push(...args.slice(0, take));
    args = args.slice(take);
  }
  const root = resolve(".");
  if (args[0] === "--all" || args[0] === "--list") {
    return await listed(root, args[1] ?? "", args[0] === "--all", flags);
  }
  const [file, from, to, ...tests] = args;
  if (!file || from === undefined || to === undefined || tests.length === 0) {
    console.error(
      "usage: mutate.ts [--no-check] [--filter NAME] FILE FROM TO TEST_FILE... (FROM must occur exactly once in FILE)\n" +
        "       mutate.ts [--no-check] --all [ID_PREFIX]   (the mutants of scripts/mutants.ts)\n" +
        "       mutate.ts --list [ID_PREFIX]",
    );
    return 2;
  }
  const count = await occurrences(root, file, from);
  if (count !== 1) {
    console.error(`mutate: "${from}" occurs ${count} times in ${file}, expected exactly once`);
    return 2;
  }
  const r = await runMutant(root, { file, from, to, tests }, flags);
  console.log(`${r.killed ? "killed" : "SURVIVED"}: ${file}: "${from}" → "${to}"`);
  report(r);
  return r.killed ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
