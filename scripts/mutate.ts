/**
 * A mutation check: does a test notice when the code is wrong? Copies the repository (node_modules linked,
 * not copied) to a temporary folder, replaces one exact piece of text in one file there, runs the given
 * test files in the copy and says whether they killed the mutant (a test failed) or let it survive. The
 * working tree is never touched.
 *
 *   deno run -A scripts/mutate.ts lib/stats/summary.ts "ss / (n - 1)" "ss / n" tests/stats/golden_test.ts
 *
 * Leading flags go to `deno test` (`--no-check` to skip type checking, `--filter NAME` for one test).
 *
 * Exit code: 0 when the mutant was killed, 1 when it survived, 2 on a usage error (the text must occur
 * exactly once in the file).
 * @module
 */
import { join, resolve } from "node:path";

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

async function main(argv: string[]): Promise<number> {
  // leading flags (e.g. --no-check, --filter NAME) go to `deno test` as they are
  const flags: string[] = [];
  let args = argv;
  while (args[0]?.startsWith("--")) {
    const take = args[0] === "--filter" ? 2 : 1;
    flags.push(...args.slice(0, take));
    args = args.slice(take);
  }
  const [file, from, to, ...tests] = args;
  if (!file || from === undefined || to === undefined || tests.length === 0) {
    console.error(
      "usage: mutate.ts [--no-check] [--filter NAME] FILE FROM TO TEST_FILE... (FROM must occur exactly once in FILE)",
    );
    return 2;
  }
  const root = resolve(".");
  const text = await Deno.readTextFile(join(root, file));
  const count = text.split(from).length - 1;
  if (count !== 1) {
    console.error(`mutate: "${from}" occurs ${count} times in ${file}, expected exactly once`);
    return 2;
  }
  const dir = await Deno.makeTempDir({ prefix: "mutant-" });
  try {
    await copyTree(root, dir);
    await Deno.symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await Deno.writeTextFile(join(dir, file), text.replace(from, () => to));
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", ...TEST_FLAGS, ...flags, ...tests],
      cwd: dir,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    const failed = out.split("\n").filter((l) => / \.\.\. FAILED/.test(l)).map((l) => l.trim());
    const killed = !run.success;
    console.log(`${killed ? "killed" : "SURVIVED"}: ${file}: "${from}" → "${to}"`);
    for (const l of failed) console.log(`  ${l}`);
    const why = out.split("\n").find((l) => l.startsWith("error: ") && l !== "error: Test failed");
    if (killed && why) console.log(`  ${why.slice(0, 300)}`);
    if (killed && failed.length === 0) console.log(`  (no test failed: ${out.trim().split("\n").at(-1)})`);
    return killed ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
