/**
 * The hooks of the training loop (lib/train/fit.ts), each one job, called in list order (as PyTorch
 * Lightning's callbacks): the checkpoint (restore at the start, save at each epoch's end), the scores of the
 * mid-epoch and epoch-end evaluations (the rows of `metrics.csv`, the test predictions), the best epoch
 * (`predictions-best.csv`), the probes' activations, the run's summary (final weights, `done.json`) and
 * progress.
 * @module
 */
import { basename, join } from "node:path";
import { rename } from "node:fs/promises";
import { evaluatePredictions } from "../stats/mod.ts";
import { exists, writeFileAtomic, writeJsonAtomic } from "../util/fs.ts";
import { writeSafetensors } from "../weights/safetensors.ts";
import type { StateDict } from "../weights/state_dict.ts";
import { DamagedCheckpointError, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { Batch, RunOptions } from "./run_options.ts";
import {
  bestRow,
  type EpochMetrics,
  metricsCsv,
  metricsRow,
  predictionsCsv,
  type RunSummary,
  upgradeEpochMetrics,
  writeTaps,
} from "./run_files.ts";
import type { Trainer } from "./trainer.ts";

/** Where the run stands, shared by the loop and its hooks. */
export interface RunState {
  /** the run's options */
  o: RunOptions;
  /** the trainer, over `state` */
  trainer: Trainer;
  /** the weights and BN buffers trained in place */
  state: StateDict;
  /** the rows of `metrics.csv` so far (a resumed run's restored from its checkpoint) */
  metrics: EpochMetrics[];
  /** the last epoch done (a resumed run's checkpoint epoch, then each epoch as it ends) */
  epoch: number;
  /** training steps over the whole run */
  step: number;
  /** wall-clock seconds of earlier sessions */
  priorWall: number;
  /** `performance.now()` when this session's loop began */
  t0: number;
  /** the epoch a resumed run went on after */
  resumedFrom?: number;
  /** the last epoch's test predictions (none yet in a run resumed after its last epoch) */
  last?: { probs: Float32Array; labels: Int32Array };
  /** the final model's test scores, once known */
  final?: { aucReferable: number; aucMacroOvr: number; kappa: number };
  /** what `done.json` holds, once written */
  summary?: RunSummary;
}

/** Where the epoch under way stands. */
export interface EpochState {
  /** the epoch, from 1 */
  epoch: number;
  /** steps done in it */
  k: number;
  /** the sum of its steps' losses, weighted by the images of each */
  lossSum: number;
  /** images trained on */
  seen: number;
  /** the latest step's loss */
  loss: number;
  /** `performance.now()` at its start */
  t0: number;
  /** ms spent in mid-epoch evaluations */
  evalMs: number;
  /** seconds of training alone, known once its steps are done */
  trainSec: number;
}

/** One hook: any of the loop's moments, each awaited in the hooks' list order. */
export interface FitHook {
  /** before the first epoch of this session */
  runStart?(run: RunState): Promise<void>;
  /** after every training step */
  afterStep?(run: RunState, ep: EpochState): Promise<void> | void;
  /** after an epoch's steps, before its evaluation */
  stepsDone?(run: RunState, ep: EpochState): void;
  /** after an epoch's steps and `stepsDone` */
  epochEnd?(run: RunState, ep: EpochState): Promise<void>;
  /** after the last epoch */
  runEnd?(run: RunState): Promise<void>;
}

// a small held-out split can lack a grade: average the macro AUC over the grades present
const scoring = (o: RunOptions) => ({ numClasses: o.classes ?? 5, absentClass: "skip" as const });

/** The trainer's predictions over `batches`, with their labels. */
async function predict(trainer: Trainer, batches: AsyncIterable<Batch>) {
  const labels: number[] = [];
  async function* tee() {
    for await (const b of batches) {
      for (let i = 0; i < b.n; i++) labels.push(b.y[i]);
      yield b;
    }
  }
  const r = await trainer.evaluate(tee());
  return { probs: r.probs, labels: Int32Array.from(labels), classes: r.classes };
}

/** The model-selection split's three scores, in the `val*` fields of a metrics row. */
async function valScores(
  trainer: Trainer,
  batches: AsyncIterable<Batch>,
  o: RunOptions,
): Promise<Pick<EpochMetrics, "valAucReferable" | "valAucMacro" | "valKappa">> {
  const v = await predict(trainer, batches);
  const s = evaluatePredictions(v.probs, v.labels, scoring(o));
  return { valAucReferable: s.aucReferable, valAucMacro: s.aucMacroOvr, valKappa: s.kappa };
}

/**
 * The checkpoint: restores a run from `checkpoint.safetensors` at the start (one that is damaged is set
 * aside and the run starts afresh) and saves one at each epoch's end, after that epoch's other files.
 */
export function checkpointHook(log: (line: string) => void): FitHook {
  const paths = (o: RunOptions) => [join(o.dir, "checkpoint.safetensors"), join(o.dir, "metrics.csv")];
  return {
    async runStart(run) {
      const [ckptPath, metricsPath] = paths(run.o);
      if (!(await exists(ckptPath))) return;
      try {
        const meta = await loadCheckpoint(ckptPath, run.state, run.trainer.optimizer);
        run.epoch = meta.epoch;
        run.step = meta.step;
        run.metrics = ((meta.extra.metrics as EpochMetrics[]) ?? []).map(upgradeEpochMetrics);
        run.priorWall = Number(meta.extra.wallSec ?? 0);
        run.resumedFrom = meta.epoch;
        // the checkpoint holds every row up to its epoch: a death between it and metrics.csv lost none
        await writeFileAtomic(metricsPath, metricsCsv(run.metrics));
      } catch (e) {
        if (!(e instanceof DamagedCheckpointError)) throw e;
        // nothing was restored from it (loadCheckpoint checks the whole file first): start afresh
        const aside = `${ckptPath}.damaged`;
        await rename(ckptPath, aside);
        // its rows went with it: the restart's rows replace them
        await writeFileAtomic(metricsPath, metricsCsv([]));
        log(`${e.message}; moved to ${basename(aside)}, restarting ${basename(run.o.dir)} from scratch`);
      }
    },
    async epochEnd(run, ep) {
      const [ckptPath, metricsPath] = paths(run.o);
      await run.trainer.sync(); // webgpu: the device-resident state comes down once per epoch
      await saveCheckpoint(ckptPath, run.state, run.trainer.optimizer, {
        epoch: ep.epoch,
        step: run.step,
        extra: { metrics: run.metrics, wallSec: run.metrics.at(-1)!.wallSec },
      });
      await writeFileAtomic(metricsPath, metricsCsv(run.metrics));
    },
  };
}

/**
 * The scores: every `evalEvery` steps within an epoch a row of test scores; at each epoch's end the test
 * predictions and a row of test and (with a val split) val scores; at the run's end `predictions.csv`.
 */
export const scoresHook: FitHook = {
  async afterStep(run, ep) {
    const { o } = run;
    if (!o.evalEvery || run.step % o.evalEvery !== 0 || ep.k >= o.stepsPerEpoch) return;
    const te0 = performance.now();
    const mid = await predict(run.trainer, o.testBatches());
    const m = evaluatePredictions(mid.probs, mid.labels, scoring(o));
    run.metrics.push(metricsRow(ep.epoch - 1 + ep.k / o.stepsPerEpoch, run.step, ep.lossSum / ep.seen, m, {
      imagesPerSec: ep.seen / ((te0 - ep.t0 - ep.evalMs) / 1000),
      wallSec: run.priorWall + (performance.now() - run.t0) / 1000,
      // the convergence target is chosen on val curves, so they need the test curves' resolution
      ...(o.valBatches ? await valScores(run.trainer, o.valBatches(), o) : {}),
    }));
    ep.evalMs += performance.now() - te0;
  },
  async epochEnd(run, ep) {
    const { o } = run;
    run.last = await predict(run.trainer, o.testBatches());
    const m = evaluatePredictions(run.last.probs, run.last.labels, scoring(o));
    const sel = o.valBatches ? await valScores(run.trainer, o.valBatches(), o) : {};
    run.metrics.push(metricsRow(ep.epoch, run.step, ep.lossSum / Math.max(1, ep.seen), m, {
      imagesPerSec: ep.seen / ep.trainSec,
      wallSec: run.priorWall + (performance.now() - run.t0) / 1000,
      ...sel,
    }));
  },
  async runEnd(run) {
    // a run resumed after its last epoch has no predictions in hand
    const { probs, labels } = run.last ?? await predict(run.trainer, run.o.testBatches());
    await writeFileAtomic(join(run.o.dir, "predictions.csv"), predictionsCsv(probs, labels));
    run.final = evaluatePredictions(probs, labels, scoring(run.o));
  },
};

/** The best epoch on val: its test predictions in `predictions-best.csv`, written before the checkpoint. */
export const bestEpochHook: FitHook = {
  async epochEnd(run) {
    // so that a resumed run's best predictions are those of its best epoch
    if (run.o.valBatches && bestRow(run.metrics) === run.metrics.at(-1)) {
      await writeFileAtomic(
        join(run.o.dir, "predictions-best.csv"),
        predictionsCsv(run.last!.probs, run.last!.labels),
      );
    }
  },
};

/** The probe images' activations, at initialisation (a run that did not resume) and at the end. */
export const probesHook: FitHook = {
  async runStart(run) {
    if (run.resumedFrom !== undefined || !run.o.probeBatches) return;
    // the activations at initialisation, for "similarity to its own init" (Raghu Fig. 5)
    const probe = await run.trainer.evaluate(run.o.probeBatches());
    await writeTaps(join(run.o.dir, "activations-init.safetensors"), probe.taps);
  },
  async runEnd(run) {
    if (!run.o.probeBatches) return;
    const probe = await run.trainer.evaluate(run.o.probeBatches());
    await writeTaps(join(run.o.dir, "activations.safetensors"), probe.taps);
  },
};

/** The run's end: the final weights, then `done.json` (last of all: a finished run is skipped on rerun). */
export const summaryHook: FitHook = {
  async runEnd(run) {
    const { o, metrics } = run, fin = run.final!;
    const b = bestRow(metrics);
    await run.trainer.sync();
    // the input side and head the weights were trained for: config.json, which export reads, can be edited
    await writeSafetensors(join(o.dir, "weights.safetensors"), run.state, {
      format: "transfusion-weights",
      size: String(o.size),
      classes: String(o.classes ?? 5),
    });
    const summary: RunSummary = {
      dir: basename(o.dir),
      epochs: o.epochs,
      steps: run.step,
      metrics,
      final: { aucReferable: fin.aucReferable, aucMacro: fin.aucMacroOvr, kappa: fin.kappa },
      wallSec: metrics.at(-1)?.wallSec ?? run.priorWall,
      ...(run.resumedFrom !== undefined ? { resumedFrom: run.resumedFrom } : {}),
      ...(b
        ? {
          best: {
            epoch: b.epoch,
            valAucMacro: b.valAucMacro!,
            testAucReferable: b.testAucReferable,
            testAucMacro: b.testAucMacro,
            testKappa: b.testKappa,
          },
        }
        : {}),
    };
    await writeJsonAtomic(join(o.dir, "done.json"), summary);
    run.summary = summary;
  },
};

/** One progress callback of the run (`RunOptions.onProgress`). */
function report(
  run: RunState,
  epoch: number,
  step: number,
  loss: number,
  imagesPerSec: number,
  phase: "train" | "eval" | "done",
): void {
  const { o } = run;
  o.onProgress?.({
    epoch,
    epochs: o.epochs,
    step,
    stepsPerEpoch: o.stepsPerEpoch,
    loss,
    imagesPerSec,
    phase,
  });
}

/** Progress (`RunOptions.onProgress`): after every step, before each epoch's evaluation and at the end. */
export const progressHook: FitHook = {
  afterStep(run, ep) {
    report(run, ep.epoch, ep.k, ep.loss, ep.seen / ((performance.now() - ep.t0) / 1000), "train");
  },
  stepsDone(run, ep) {
    report(run, ep.epoch, ep.k, ep.lossSum / Math.max(1, ep.seen), ep.seen / ep.trainSec, "eval");
  },
  runEnd(run) {
    const last = run.metrics.at(-1);
    report(run, run.o.epochs, 0, last?.trainLoss ?? NaN, last?.imagesPerSec ?? 0, "done");
    return Promise.resolve();
  },
};
