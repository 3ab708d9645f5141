/**
 * Where a study's steps read and write: everything under its `out` folder except the user's own data.
 * Kept apart from the pipeline so that light steps (the report) need not load the training stack.
 * @module
 */
import { join, resolve } from "node:path";
import type { StudyConfig } from "./config.ts";

/** The folders of a study, all under its `out` folder except user-given data. */
export interface StudyPaths {
  /** the study's output folder */
  out: string;
  /** the photos (synthetic ones are generated under out/data/fundus) */
  data: string;
  /** the preprocessed cache of the photos */
  cache: string;
  /** the cache the random-only baselines train on (`cache` unless `baselineSize` differs from `size`) */
  baselineCache: string;
  /** the photos of the demo's synthetic source task */
  sourceData: string;
  /** the preprocessed cache of the source task's photos */
  sourceCache: string;
  /** the run folder of the source model's pretraining */
  pretrainRun: string;
  /** the folder holding one folder per run of the grid (`<out>/<model>-<init>-s<seed>`) */
  runs: string;
}

/** Where each step reads and writes, under the study's `out` folder. */
export function studyPaths(c: StudyConfig): StudyPaths {
  const out = resolve(c.out);
  const data = c.data.kind === "synthetic" ? join(out, "data", "fundus") : resolve(c.data.path);
  const cache = (size: number) => join(out, "cache", `fundus-${size}${c.limit ? `-limit${c.limit}` : ""}`);
  return {
    out,
    data,
    cache: cache(c.size),
    baselineCache: cache(c.baselineSize ?? c.size),
    sourceData: join(out, "data", "source"),
    sourceCache: join(out, "cache", `source-${c.size}`),
    pretrainRun: join(out, "pretrain", c.source?.model ?? "none"),
    runs: out,
  };
}
