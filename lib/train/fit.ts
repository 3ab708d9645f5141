/**
 * One training run, resumable: epochs of training steps, evaluation on the held-out split after each epoch,
 * an atomic checkpoint per epoch, the final test predictions and the probe activations the CCA reads.
 * A run directory holds `config.json`, `metrics.csv`, `checkpoint.safetensors`, `predictions.csv`,
 * `activations.safetensors`, `weights.safetensors` (the final state dict) and, last of all, `done.json` (a
 * finished run is skipped on rerun). With a model-selection split (`valBatches`, MedMNIST's val) it also
 * holds `predictions-best.csv`, the test predictions of the epoch with the best val macro AUC (the files:
 * lib/train/run_files.ts).
 *
 * The loop itself is short: it steps the trainer through each epoch's batches and calls its hooks
 * (lib/train/fit_hooks.ts) at the run's start, after every step, at each epoch's end and at the run's end;
 * the hooks do the rest, each one job, in the order of {@linkcode fitHooks}.
 * @module
 */
import { join } from "node:path";
import { exists, removeLeftoverTmp, writeJsonAtomic } from "../util/fs.ts";
import { acquireLock } from "../util/lock.ts";
import { Trainer } from "./trainer.ts";
import { resolveBackend } from "./backend.ts";
import {
  bestEpochHook,
  checkpointHook,
  type EpochState,
  type FitHook,
  probesHook,
  progressHook,
  type RunState,
  scoresHook,
  summaryHook,
} from "./fit_hooks.ts";
import { readRunSummary, type RunSummary } from "./run_files.ts";
import type { RunOptions } from "./run_options.ts";

/**
 * The hooks of a run, in the order they are called at each moment: the checkpoint restores before the probes
 * ask whether the run resumed; an epoch's scores come before its best-epoch predictions, and both before the
 * checkpoint that makes the epoch count as done; the summary's `done.json` is the last file; progress last.
 */
export function fitHooks(log: (line: string) => void): FitHook[] {
  return [scoresHook, bestEpochHook, checkpointHook(log), probesHook, summaryHook, progressHook];
}

/**
 * Runs (or resumes, or skips when finished) one training run in `o.dir`, holding the folder's lock
 * (`<dir>/.lock`, see lib/util/lock.ts) while it writes there.
 */
export async function runTraining(o: RunOptions): Promise<RunSummary> {
  const donePath = join(o.dir, "done.json");
  if (await exists(donePath)) return await readRunSummary(o.dir);
  const log = o.log ?? ((line: string) => console.error(line));
  const lock = await acquireLock(o.dir, { log });
  try {
    // another process may have finished it while this one waited for its turn
    if (await exists(donePath)) return await readRunSummary(o.dir);
    return await trainLocked(o, log);
  } finally {
    await lock.release();
  }
}

async function trainLocked(o: RunOptions, log: (line: string) => void): Promise<RunSummary> {
  const gone = await removeLeftoverTmp(o.dir);
  if (gone.length) log(`${o.dir}: removed ${gone.length} temp file(s) left by an interrupted write`);
  if (o.config) await writeJsonAtomic(join(o.dir, "config.json"), o.config);
  const state = await o.init();
  // the backend, resolved once for the trainer
  const backend = o.backend ?? await resolveBackend(o);
  const trainer = await Trainer.create(o.model, state, { ...o, backend });
  try {
    const run: RunState = { o, trainer, state, metrics: [], epoch: 0, step: 0, priorWall: 0, t0: 0 };
    await fit(run, fitHooks(log));
    return { ...run.summary!, dir: o.dir };
  } finally {
    await trainer.release();
  }
}

/** The loop: the run's remaining epochs of steps, with `hooks` called at each moment in list order. */
export async function fit(run: RunState, hooks: readonly FitHook[]): Promise<void> {
  const { o, trainer } = run;
  for (const h of hooks) await h.runStart?.(run);
  run.t0 = performance.now();
  for (let epoch = run.epoch + 1; epoch <= o.epochs; epoch++) {
    const ep: EpochState = {
      epoch,
      k: 0,
      lossSum: 0,
      seen: 0,
      loss: NaN,
      t0: performance.now(),
      evalMs: 0,
      trainSec: 0,
    };
    for await (const b of o.trainBatches(epoch)) {
      ep.loss = (await trainer.step(b.x, b.y)).loss;
      run.step++;
      ep.k++;
      ep.lossSum += ep.loss * b.n;
      ep.seen += b.n;
      for (const h of hooks) await h.afterStep?.(run, ep);
    }
    ep.trainSec = (performance.now() - ep.t0 - ep.evalMs) / 1000;
    for (const h of hooks) h.stepsDone?.(run, ep);
    for (const h of hooks) await h.epochEnd?.(run, ep);
    run.epoch = epoch;
  }
  for (const h of hooks) await h.runEnd?.(run);
}
