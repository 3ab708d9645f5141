/**
 * The mutants of the mutation checks so far, each with the tests that must kill it: rerun them all with
 * `deno run -A scripts/mutate.ts --all` (or those whose id starts with a prefix: `--all 24.1`) after a change
 * to the code they mutate or to the tests. A `from` text that no longer occurs exactly once is reported as
 * stale: rebuild the mutant from its description against the new code.
 * @module
 */

/** One planted bug: replace `from` by `to` in `file`; some test of `tests` must then fail. */
export interface Mutant {
  /** `<issue>.<item>[letter]`, e.g. "24.1a" */
  id: string;
  /** the bug in words */
  what: string;
  /** the file changed, from the repository root */
  file: string;
  /** text that occurs exactly once in `file` */
  from: string;
  /** what it becomes */
  to: string;
  /** the test files that kill it */
  tests: string[];
}

const VAL = "tests/study/val_selection_test.ts";

/** Issue 24 (second mutation check): each passed the whole suite at ed360c3. */
export const MUTANTS: readonly Mutant[] = [
  {
    id: "24.1a",
    what: "the val loader built over the test indices",
    file: "lib/study/pipeline.ts",
    from: "new Loader(cache, val, { batch, seed: 0, shuffle: false })",
    to: "new Loader(cache, test, { batch, seed: 0, shuffle: false })",
    tests: [VAL],
  },
  {
    id: "24.1b",
    what: "the val metrics computed from the test predictions",
    file: "lib/train/fit_hooks.ts",
    from: "const sel = o.valBatches ? await valScores(run.trainer, o.valBatches(), o) : {};",
    to: "const sel = o.valBatches ? await valScores(run.trainer, o.testBatches(), o) : {};",
    tests: [VAL],
  },
  {
    id: "24.1c",
    what: "the best epoch picked by test macro AUC",
    file: "lib/train/run_files.ts",
    from: "if (!best || r.valAucMacro > best.valAucMacro!) best = r;",
    to: "if (!best || r.testAucMacro > best.testAucMacro) best = r;",
    tests: [VAL],
  },
  {
    id: "24.1d",
    what: "val photos added to the training set",
    file: "lib/study/pipeline.ts",
    from: 'let train = cache.indices("train");',
    to: 'let train = [...cache.indices("train"), ...cache.indices("val")];',
    tests: [VAL],
  },
  {
    id: "24.1e",
    what: "predictions-best.csv rewritten every epoch (it holds the last)",
    file: "lib/train/fit_hooks.ts",
    from: "if (run.o.valBatches && bestRow(run.metrics) === run.metrics.at(-1)) {",
    to: "if (run.o.valBatches) {",
    tests: [VAL],
  },
  {
    id: "24.1f",
    what: "the analysis reads predictions.csv although a best-epoch file exists",
    file: "lib/study/analyze.ts",
    from: 'const predPath = best ? bestPath : join(dir, "predictions.csv");',
    to: 'const predPath = join(dir, "predictions.csv");',
    tests: [VAL],
  },
  {
    id: "24.1g",
    what: "the report's headline model chosen by test AUC",
    file: "lib/report/report.ts",
    from: "return scored.sort((a, b) => b.val.mean - a.val.mean)[0];",
    to: "return scored.sort((a, b) => b.test.mean - a.test.mean)[0];",
    tests: [VAL],
  },
  {
    id: "24.1h",
    what: 'the report\'s "test macro AUC at best-val epoch" column showing the val AUC',
    file: "lib/report/report.ts",
    from: "meanSd(best.map((b) => b.testAucMacro), 1, 3),",
    to: "meanSd(best.map((b) => b.valAucMacro), 1, 3),",
    tests: [VAL, "tests/report/report_test.ts"],
  },
  {
    id: "24.1i",
    what: "a published MedMNIST number mistyped",
    file: "lib/report/published.ts",
    from: '{ method: "ResNet-50 (28)", auc: 0.726, acc: 0.528 },',
    to: '{ method: "ResNet-50 (28)", auc: 0.762, acc: 0.528 },',
    tests: ["tests/report/report_test.ts"],
  },
  {
    id: "24.2a",
    what: "the gradient gate checks only the first parameter's gradient sum",
    file: "lib/train/host_stepper.ts",
    from: "if (!sums || !Number.isFinite(sums[i++]))",
    to: "if (!sums || !Number.isFinite(sums[0]))",
    tests: ["tests/train/finite_test.ts"],
  },
  {
    id: "24.2b",
    what: "the gradient gate checks only for NaN",
    file: "lib/train/host_stepper.ts",
    from: "if (!sums || !Number.isFinite(sums[i++]))",
    to: "if (!sums || Number.isNaN(sums[i++]))",
    tests: ["tests/train/finite_test.ts"],
  },
  {
    id: "24.3",
    what: "SqueezeNet's classifier Dropout(0.5) removed",
    file: "lib/models/squeezenet.ts",
    from: "x = net.dropout(x, 0.5);",
    to: "",
    tests: ["tests/models/squeezenet_test.ts"],
  },
  {
    id: "24.4",
    what: "a holder whose lock file was deleted and taken since removes the new holder's lock on release",
    file: "lib/util/lock.ts",
    from: "if (cur && cur.ino === mine.ino && cur.dev === mine.dev) await Deno.remove(path)",
    to: "if (cur) await Deno.remove(path)",
    tests: ["tests/study/lock_test.ts"],
  },
  {
    id: "23.3a",
    what: "the lock judged by its heartbeat instead of the kernel's file lock (a stopped holder loses it)",
    file: "lib/util/lock.ts",
    from: "if (!locked) throw new FolderLockedError(folder, await holderOf(path));",
    to: 'if (!locked) { f.close(); f = await Deno.open(path + ".x", { write: true, create: true }); }',
    tests: ["tests/study/lock_test.ts"],
  },
  {
    id: "23.2",
    what: "a rerun with other settings reuses the old runs (the identity check dropped)",
    file: "lib/study/run_identity.ts",
    from: "if (diff.length) changed.push({ dir, diff });",
    to: "",
    tests: ["tests/study/own_data_test.ts"],
  },
  {
    id: "23.4a",
    what: "a Kaggle id that leaves the listing's folder is read",
    file: "lib/data/formats.ts",
    from: "if (!opts.allowOutsidePaths && (!inside(root, file) || isAbsolute(id))) {",
    to: "if (false) {",
    tests: ["tests/data/csv_paths_test.ts"],
  },
  {
    id: "23.4b",
    what: "a cache shard named '../../x' in an edited manifest is opened",
    file: "lib/data/cache.ts",
    from: "!/^[\\w-][\\w.-]*$/.test(s.file)",
    to: "false",
    tests: ["tests/data/csv_paths_test.ts"],
  },
  {
    id: "23.1",
    what:
      "the vendored check reads a manifest.json beside any file (the user's folder outside the step's reads)",
    file: "lib/util/vendored.ts",
    from: "dirname(file) !== dir",
    to: "false",
    tests: ["tests/weights/vendored_test.ts"],
  },
  {
    id: "24.5",
    what: "weight decay dropped on Adam's two-thread path",
    file: "lib/optim/optimizers.ts",
    from: "if (this.weightDecay !== 0 || total < PARALLEL_MIN_ELEMENTS)",
    to: "if (total < PARALLEL_MIN_ELEMENTS)",
    tests: ["tests/optim/adam_test.ts"],
  },
  {
    id: "24.6",
    what: "the vendored weights' sha256 check removed from the train step",
    file: "lib/study/pipeline.ts",
    from: "  await verifyVendored(path, opts.vendorDir);\n",
    to: "",
    tests: [VAL],
  },
  {
    id: "24.7",
    what: "the tuner's choices given to the Trainer but not used (since the tuner moved to bench/)",
    file: "lib/train/trainer.ts",
    from: "if (opts.convChoice) graphOpts.grad = { ...graphOpts.grad, convChoice: opts.convChoice };",
    to: "",
    tests: ["tests/bench/tune_test.ts"],
  },
  {
    id: "24.8a",
    what: "metrics.csv's val_auc_macro column holding the test split's AUC",
    file: "lib/train/run_files.ts",
    from: '["val_auc_macro", "valAucMacro"],',
    to: '["val_auc_macro", "testAucMacro"],',
    tests: [VAL, "tests/train/old_names_test.ts"],
  },
  {
    id: "24.8b",
    what: "an old run folder's rows read without mapping the old names",
    file: "lib/train/run_files.ts",
    from: 'if (!("kappa" in o) || "testKappa" in o) return row;',
    to: "return row;",
    tests: ["tests/train/old_names_test.ts"],
  },
];
