/**
 * Refreshes the committed default report, the one source of the findings README quotes: runs the default
 * study (`deno task reproduce`, the `demo` preset) into a folder, copies its `analysis.json` to
 * `docs/demo-report/analysis.json` (paths made relative to the repository), renders `docs/demo-report.md`
 * and its figures (`docs/demo-report/figures/`) from that copy alone, and writes the report's answer block
 * into README.md between the `demo-answers` markers. tests/report/demo_report_test.ts re-renders the
 * committed analysis and fails when the report, its figures or README's block no longer match.
 *
 *   deno run -A scripts/demo_report.ts [--out DIR] [--no-run] [--root DIR]
 *
 * `--out DIR`: the study folder (default out/demo-report; finished runs there are reused, as reproduce
 * does); `--no-run`: take DIR's analysis as it is, without running the study; `--root DIR`: the checkout
 * that study ran from (default this one), whose absolute paths are made relative (a run timed on a fresh
 * clone).
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAnalysis, storedAnalysis } from "../lib/study/analysis_file.ts";
import type { AnalysisFile } from "../lib/study/analysis_file.ts";
import { gitCommit } from "../lib/study/provenance.ts";
import { answers, buildReport, type BuiltReport } from "../lib/report/report.ts";
import { writeFileAtomic } from "../lib/util/fs.ts";

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The committed report, relative to the root. */
export const REPORT = "docs/demo-report.md";
/** Its analysis and figures, relative to the root. */
export const REPORT_DIR = "docs/demo-report";
/** README's lines that enclose the answer block. */
export const MARKERS = ["<!-- demo-answers:start -->", "<!-- demo-answers:end -->"] as const;

/** The committed analysis as the report reads it: paths relative to its folder, as stored. */
export async function committedAnalysis(root = ROOT): Promise<AnalysisFile> {
  return storedAnalysis(await loadAnalysis(join(root, REPORT_DIR, "analysis.json")));
}

/** The report and figures the current code renders from the committed analysis. */
export async function renderCommitted(root = ROOT): Promise<BuiltReport> {
  const analysis = await committedAnalysis(root);
  return await buildReport(analysis, { figures: relative(dirname(REPORT), join(REPORT_DIR, "figures")) });
}

/** The answer block as README holds it (before `deno fmt` wraps its lines). */
export function readmeBlock(analysis: AnalysisFile): string {
  return answers(analysis).map((l) => `- ${l}`).join("\n");
}

/**
 * The analysis with the study folder written "." and the repository's own absolute paths (data, weights,
 * the rerun command) relative to it, so the committed copy names no machine's folders.
 */
function portable(a: AnalysisFile, studyDir: string, root: string): AnalysisFile {
  const text = JSON.stringify(storedAnalysis(a), null, 2).split(resolve(studyDir)).join(".")
    .split(`${root}/`).join("");
  return JSON.parse(text);
}

async function run(args: string[]): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT }).spawn().status;
  if (code !== 0) throw new Error(`deno ${args.join(" ")} failed with exit code ${code}`);
}

async function main(argv: string[]): Promise<void> {
  let out = "out/demo-report", runStudy = true, from = ROOT;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && argv[i + 1]) out = argv[++i];
    else if (argv[i] === "--root" && argv[i + 1]) from = resolve(argv[++i]);
    else if (argv[i] === "--no-run") runStudy = false;
    else {
      throw new RangeError(
        `scripts/demo_report.ts: unknown argument "${argv[i]}" (--out DIR, --no-run, --root DIR)`,
      );
    }
  }
  const study = resolve(ROOT, out);
  if (runStudy) await run(["task", "reproduce", "--out", study]);
  const analysis = await loadAnalysis(join(study, "analysis.json"));
  const copy = portable(analysis, study, from);
  if (copy.provenance.gitCommit === "unknown") {
    // the analyze step's sandbox cannot read a worktree's git folder outside the checkout; this script can
    const { commit, branch } = await gitCommit(ROOT);
    copy.provenance = { ...copy.provenance, gitCommit: commit, gitBranch: branch };
  }
  await Deno.remove(join(ROOT, REPORT_DIR), { recursive: true }).catch(() => {});
  await writeFileAtomic(join(ROOT, REPORT_DIR, "analysis.json"), JSON.stringify(copy, null, 2) + "\n");
  const built = await renderCommitted();
  for (const f of built.figures) {
    const base = join(ROOT, REPORT_DIR, "figures", f.name);
    await writeFileAtomic(`${base}.vl.json`, JSON.stringify(f.spec, null, 2) + "\n");
    await writeFileAtomic(`${base}.svg`, f.svg);
  }
  await writeFileAtomic(join(ROOT, REPORT), built.markdown);
  const readmePath = join(ROOT, "README.md");
  const readme = await Deno.readTextFile(readmePath);
  const [a, b] = [readme.indexOf(MARKERS[0]), readme.indexOf(MARKERS[1])];
  if (a < 0 || b < a) throw new RangeError(`README.md lacks the ${MARKERS.join(" … ")} markers`);
  await writeFileAtomic(
    readmePath,
    `${readme.slice(0, a + MARKERS[0].length)}\n\n${readmeBlock(await committedAnalysis())}\n\n${
      readme.slice(b)
    }`,
  );
  await run(["fmt", "README.md"]);
  console.log(`${REPORT}, ${REPORT_DIR}/ and README.md's answer block refreshed from ${study}`);
}

if (import.meta.main) await main(Deno.args);
