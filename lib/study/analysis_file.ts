/**
 * The study's `analysis.json`: its type, where it lives, and how to read it back. Kept apart from the
 * analysis itself so that the report step loads neither the similarity code nor onnxruntime.
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { readJson } from "../util/fs.ts";
import type { StudyResults } from "./results.ts";
import type { StudyConfig } from "./config.ts";

/** Bumped whenever the analysis computes something differently, so stored analyses are redone. */
export const ANALYSIS_VERSION = 4;

/** What `analysis.json` holds: the report's input plus how and from what it was computed. */
export interface AnalysisFile extends StudyResults {
  /** how and from what the analysis was computed */
  analysis: {
    /** {@linkcode ANALYSIS_VERSION} of the code that wrote it */
    version: number;
    /** sha256 over the analysis settings and every run file's size and modification time */
    fingerprint: string;
    /** ISO time of the analysis */
    createdAt: string;
    /** seconds the analysis took */
    seconds: number;
    /** bootstrap resamples per comparison */
    bootstrapReps: number;
    /** confidence level of the bootstrap intervals */
    level: number;
  };
}

/** The path of a study's analysis: `<out>/analysis.json`. */
export function analysisPath(config: Pick<StudyConfig, "out">): string {
  return join(config.out, "analysis.json");
}

/** JSON turns NaN and ±Infinity into null; these are the number fields where null means "not a number". */
const NUMERIC = new Set([
  "mean",
  "std",
  "aucA",
  "aucB",
  "z",
  "p",
  "ciLow",
  "ciHigh",
  "aucReferable",
  "aucMacro",
  "kappa",
  "testAucReferable",
  "testAucMacro",
  "testKappa",
  "valAucReferable",
  "valAucMacro",
  "valKappa",
  "trainLoss",
  "imagesPerSec",
  "wallSec",
]);

function revive(v: unknown, key = ""): unknown {
  if (v === null) return NUMERIC.has(key) ? NaN : null;
  if (Array.isArray(v)) return v.map((x) => revive(x));
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "config" && k !== "provenance") o[k] = revive(o[k], k);
    }
  }
  return v;
}

/**
 * The analysis as `analysis.json` stores it: every path inside the study folder relative to that folder
 * (`config.out` is "."), so that a moved or copied study folder reads and writes where it is.
 */
export function storedAnalysis(a: AnalysisFile): AnalysisFile {
  const out = resolve(a.config.out);
  const rel = (p: string) => {
    const r = relative(out, resolve(p));
    return r === "" ? "." : r.startsWith("..") || isAbsolute(r) ? p : r;
  };
  const p = a.provenance;
  return {
    ...a,
    config: { ...a.config, out: "." },
    ...(p
      ? {
        provenance: {
          ...p,
          config: p.config ? { ...p.config, out: "." } : p.config,
          // the rerun command names the folder too; run from inside it, "." is the same folder
          command: typeof p.command === "string" ? p.command.split(out).join(".") : p.command,
          dataManifest: p.dataManifest
            ? { ...p.dataManifest, path: rel(p.dataManifest.path) }
            : p.dataManifest,
        },
      }
      : {}),
  };
}

/**
 * Reads an `analysis.json` written by {@linkcode analyzeStudy}, turning the nulls that JSON wrote for NaN
 * (an sd over one seed, a measure that could not be computed) back into NaN. The study folder is the one the
 * file is in, whatever folder it was written in (analyses written before paths were stored relative
 * included): a copied study folder's report goes into the copy.
 */
export async function loadAnalysis(path: string): Promise<AnalysisFile> {
  const raw = await readJson<AnalysisFile>(path);
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.runs) || !raw.config) {
    throw new RangeError(`${path} is not an analysis file (no runs or config)`);
  }
  const out = dirname(resolve(path));
  raw.config.out = out;
  const p = raw.provenance;
  if (p?.config) p.config.out = out;
  if (p?.dataManifest && !isAbsolute(p.dataManifest.path)) {
    p.dataManifest.path = join(out, p.dataManifest.path);
  }
  return revive(raw) as AnalysisFile;
}
