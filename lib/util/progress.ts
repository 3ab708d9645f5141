/**
 * Training progress for one run: on a terminal a single live line (epoch, step, loss, images/s, ETA)
 * redrawn with `\r` at most every `minIntervalMs`; elsewhere (CI logs, files) plain lines at most every
 * `lineIntervalMs` and at each epoch end, so logs stay short and readable.
 * @module
 */

/**
 * One progress event, shaped like the training loop's `onProgress` payload (lib/train/fit.ts), so
 * `onProgress: (p) => bar.update(p)` is all the wiring a run needs.
 */
export interface ProgressUpdate {
  /** the epoch under way, from 1 */
  epoch: number;
  /** epochs of the whole run */
  epochs: number;
  /** steps done in this epoch */
  step: number;
  /** optimizer steps per epoch */
  stepsPerEpoch: number;
  /** the latest training loss (the epoch's mean at "eval") */
  loss: number;
  /** training throughput; computed from elapsed time when absent */
  imagesPerSec?: number;
  /** "train" while stepping, "eval" after an epoch's steps, "done" at the end; default "train" */
  phase?: "train" | "eval" | "done";
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** shown at the start of every line, e.g. the run id */
  label: string;
  /** "stderr" (default) keeps stdout clean for results; or "stdout" */
  stream?: "stdout" | "stderr";
  /** live bar or plain lines; default: whether the stream is a terminal */
  tty?: boolean;
  /** where text goes; default the stream */
  write?: (text: string) => void;
  /** terminal redraw throttle; default 100 ms */
  minIntervalMs?: number;
  /** plain-line period; default 30 s */
  lineIntervalMs?: number;
  /** the clock in ms; default `performance.now` */
  now?: () => number;
  /** line width on a terminal; default the console's columns (80 if unknown) */
  columns?: number;
}

/** "1:02:03" or "2:03"; "?" while unknown. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/**
 * One line of a counted job's progress, e.g. `preprocess: 7/8 images done, 1 skipped`: `done` counts only
 * finished items, never skipped ones, so a line reading n/n means every item made it.
 *
 * @example
 * ```ts
 * import { countLine } from "./progress.ts";
 * if (countLine("preprocess", 7, 8, 1, "images") !== "preprocess: 7/8 images done, 1 skipped") throw new Error();
 * ```
 */
export function countLine(label: string, done: number, total: number, skipped: number, unit: string): string {
  return `${label}: ${done}/${total} ${unit} done${skipped > 0 ? `, ${skipped} skipped` : ""}`;
}

const encoder = new TextEncoder();

function writeAll(file: typeof Deno.stdout, text: string): void {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/**
 * The progress display of one run.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const lines: string[] = [];
 * const bar = new ProgressBar({ label: "demo", tty: false, write: (s) => lines.push(s) });
 * bar.update({ epoch: 1, epochs: 1, step: 1, stepsPerEpoch: 2, loss: 0.9, imagesPerSec: 50 });
 * bar.message("epoch 1: val AUC 0.81");
 * bar.done();
 * ```
 */
export class ProgressBar {
  readonly #o: Required<Omit<ProgressOptions, "stream">>;
  #start = NaN;
  #startStep = 0;
  #lastDraw = -Infinity;
  #lastLine = -Infinity;
  #last: ProgressUpdate | null = null;
  #drawn = false;
  #plainAt = -1;

  /** Nothing is written until the first update; the ETA clock starts there (so a resumed run counts right). */
  constructor(opts: ProgressOptions) {
    const file = opts.stream === "stdout" ? Deno.stdout : Deno.stderr;
    const tty = opts.tty ?? file.isTerminal();
    let columns = opts.columns ?? 80;
    if (opts.columns === undefined && tty) {
      try {
        columns = Deno.consoleSize().columns;
      } catch {
        // not a console after all: keep 80
      }
    }
    this.#o = {
      label: opts.label,
      tty,
      write: opts.write ?? ((s) => writeAll(file, s)),
      minIntervalMs: opts.minIntervalMs ?? 100,
      lineIntervalMs: opts.lineIntervalMs ?? 30_000,
      now: opts.now ?? (() => performance.now()),
      columns,
    };
  }

  #globalStep(p: ProgressUpdate): number {
    return (p.epoch - 1) * p.stepsPerEpoch + p.step;
  }

  /** Seconds left at this process's pace so far (NaN before two updates). */
  get etaSec(): number {
    const p = this.#last;
    if (!p) return NaN;
    if (p.phase === "done") return 0;
    const done = this.#globalStep(p) - this.#startStep;
    const sec = (this.#o.now() - this.#start) / 1000;
    if (done <= 0 || !(sec > 0)) return NaN;
    return (sec / done) * Math.max(0, p.epochs * p.stepsPerEpoch - this.#globalStep(p));
  }

  /** The status text of the latest update (without `\r` or newline). */
  status(): string {
    const p = this.#last;
    const label = this.#o.label;
    if (!p) return `${label} starting`;
    const loss = Number.isFinite(p.loss) ? p.loss.toFixed(4) : "—";
    const ips = p.imagesPerSec;
    const rate = ips !== undefined && Number.isFinite(ips) && ips > 0
      ? `${ips >= 100 ? ips.toFixed(0) : ips.toFixed(1)} img/s`
      : "— img/s";
    const phase = p.phase === "eval"
      ? "evaluating"
      : p.phase === "done"
      ? "done"
      : `ETA ${formatDuration(this.etaSec)}`;
    const total = p.epochs * p.stepsPerEpoch;
    const step = p.phase === "done" ? p.stepsPerEpoch : Math.min(p.step, p.stepsPerEpoch);
    const global = p.phase === "done" ? total : this.#globalStep(p);
    if (!this.#o.tty) {
      return `${label} epoch ${p.epoch}/${p.epochs} step ${step}/${p.stepsPerEpoch} (${global}/${total}) ` +
        `loss ${loss} ${rate} ${phase}`;
    }
    const width = 16;
    const full = Math.max(0, Math.min(width, Math.round((global / Math.max(1, total)) * width)));
    const bar = "█".repeat(full) + "░".repeat(width - full);
    const line =
      `${label}  ep ${p.epoch}/${p.epochs} ${bar} ${step}/${p.stepsPerEpoch}  loss ${loss}  ${rate}  ${phase}`;
    return line.length > this.#o.columns - 1 ? line.slice(0, this.#o.columns - 1) : line;
  }

  /** Takes a progress event; redraws (terminal) or prints a line when one is due (plain). */
  update(p: ProgressUpdate): void {
    const t = this.#o.now();
    if (this.#last === null) {
      // ETA counts from the first event this process sees: a resumed run's earlier steps took no time here
      this.#start = t;
      this.#startStep = this.#globalStep(p);
      this.#lastLine = t;
    }
    this.#last = p;
    const forced = p.phase === "eval" || p.phase === "done";
    if (this.#o.tty) {
      if (forced || t - this.#lastDraw >= this.#o.minIntervalMs) {
        this.#o.write(`\r${this.status()}\x1b[K`);
        this.#lastDraw = t;
        this.#drawn = true;
      }
    } else if (p.phase !== "done" && (t - this.#lastLine >= this.#o.lineIntervalMs)) {
      this.#o.write(`${this.status()}\n`);
      this.#lastLine = t;
      this.#plainAt = this.#globalStep(p);
    }
  }

  /** Prints a whole line (e.g. an epoch's validation metrics) above the live bar, or as a plain line. */
  message(text: string): void {
    if (this.#o.tty && this.#drawn) {
      this.#o.write(`\r\x1b[K${text}\n${this.status()}`);
    } else {
      this.#o.write(`${text}\n`);
    }
    this.#lastLine = this.#o.now();
    this.#plainAt = -1;
  }

  /** Ends the display: `text`, or the final status, on its own line. */
  done(text?: string): void {
    const p = this.#last;
    // a plain log that just printed this very status need not repeat it
    if (text === undefined && !this.#o.tty && p && this.#plainAt === this.#globalStep(p)) return;
    const line = text ?? this.status();
    this.#o.write(this.#o.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    this.#drawn = false;
  }
}
