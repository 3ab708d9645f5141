/**
 * The worker client of Adam's two-thread update (`Adam.stepAsync`, lib/optim/optimizers.ts): starts the worker
 * (lib/optim/adam_worker.ts), posts a job with its arrays transferred, hands each tensor back as the worker
 * finishes it, and stops the worker when it has been idle a while.
 * @module
 */

// An idle worker keeps the process alive (a caller that never closes it waits this long at exit): it stops
// after four times the last interval between its jobs, at least 5 s and at most 60 s (ResNet-50's steps at
// 587² take 12 s); a later step starts another, which costs about 0.4 s.
const WORKER_IDLE_MS = [5_000, 60_000];

/** The message {@linkcode AdamWorker} sends and gets back (the arrays transferred both ways). */
export interface AdamJob {
  b1: number;
  b2: number;
  stepSize: number;
  bc2Sqrt: number;
  eps: number;
  /** gradients in; the steps −step·m̂/(√v̂ + ε) back */
  g: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
}

/** One tensor back from the worker: its index in the job, its step (in g) and its moments. */
export interface AdamResult {
  i: number;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** A worker thread that runs {@linkcode AdamJob}s (lib/optim/adam_worker.ts); it stops itself when idle. */
export class AdamWorker {
  readonly ready: Promise<boolean>;
  #w: Worker | undefined;
  #pending?: { each: (r: AdamResult) => void; reject: (e: Error) => void };
  #idle?: number;
  #lastJob?: number;
  #interval = 0;

  constructor() {
    let started: (ok: boolean) => void;
    this.ready = new Promise((r) => started = r);
    try {
      this.#w = new Worker(new URL("./adam_worker.ts", import.meta.url).href, { type: "module" });
    } catch {
      started!(false);
      return;
    }
    this.#w.onmessage = (e: MessageEvent) => {
      if (e.data === "ready") {
        this.#arm();
        return started(true);
      }
      this.#pending?.each(e.data as AdamResult);
    };
    this.#w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      started(false);
      const p = this.#pending;
      this.close();
      p?.reject(new Error(`Adam's worker thread failed: ${e.message}`));
    };
  }

  /** Whether the worker runs (false once closed, when idle or after a failure). */
  get alive(): boolean {
    return this.#w !== undefined;
  }

  /** Posts `job`; `each` gets every tensor back as the worker finishes it; settles after the last. */
  run(
    job: AdamJob,
    each: (i: number, g: Float32Array, m: Float32Array, v: Float32Array) => void,
  ): Promise<void> {
    clearTimeout(this.#idle);
    const now = performance.now();
    if (this.#lastJob !== undefined) this.#interval = now - this.#lastJob;
    this.#lastJob = now;
    const w = this.#w;
    if (!w) return Promise.reject(new Error("Adam's worker thread has stopped"));
    let left = job.g.length;
    return new Promise<void>((resolve, reject) => {
      this.#pending = {
        each: (r) => {
          each(r.i, r.g, r.m, r.v);
          if (--left > 0) return;
          this.#pending = undefined;
          this.#arm();
          resolve();
        },
        reject,
      };
      w.postMessage(job, [...job.g, ...job.m, ...job.v].map((a) => a.buffer as ArrayBuffer));
    });
  }

  // an idle worker keeps the process alive: stop it after a while unused (the timer itself does not)
  #arm(): void {
    clearTimeout(this.#idle);
    const [least, most] = WORKER_IDLE_MS;
    const ms = Math.min(most, Math.max(least, 4 * this.#interval));
    this.#idle = setTimeout(() => this.close(), ms) as unknown as number;
    Deno.unrefTimer(this.#idle);
  }

  close(): void {
    clearTimeout(this.#idle);
    this.#w?.terminate();
    this.#w = undefined;
  }
}
