import assert from "node:assert/strict";
import { formatDuration, ProgressBar, type ProgressUpdate } from "../../lib/util/progress.ts";

function fake(tty: boolean) {
  let t = 0;
  const out: string[] = [];
  const bar = new ProgressBar({
    label: "cbr_small-random-s0",
    tty,
    write: (s) => out.push(s),
    now: () => t,
    minIntervalMs: 100,
    lineIntervalMs: 5000,
    columns: 200,
  });
  return { bar, out, tick: (ms: number) => (t += ms) };
}

const ev = (epoch: number, step: number, extra: Partial<ProgressUpdate> = {}): ProgressUpdate => ({
  epoch,
  epochs: 2,
  step,
  stepsPerEpoch: 10,
  loss: 1 / ((epoch - 1) * 10 + step),
  imagesPerSec: 32,
  phase: "train",
  ...extra,
});

Deno.test("progress: plain lines at most every lineIntervalMs when not a terminal", () => {
  const { bar, out, tick } = fake(false);
  for (let e = 1; e <= 2; e++) {
    for (let s = 1; s <= 10; s++) {
      tick(1000);
      bar.update(ev(e, s));
    }
    bar.update(ev(e, 10, { phase: "eval" }));
    if (e === 1) bar.message("epoch 1: val AUC 0.812");
  }
  bar.update(ev(2, 0, { phase: "done", loss: 0.05 }));
  bar.done();
  assert.ok(out.every((l) => l.endsWith("\n") && !l.includes("\r") && !l.includes("\x1b")), "plain lines");
  assert.deepEqual(out, [
    // the clock starts at the first step: 1 s per step, 14 steps to go
    "cbr_small-random-s0 epoch 1/2 step 6/10 (6/20) loss 0.1667 32.0 img/s ETA 0:14\n",
    "epoch 1: val AUC 0.812\n",
    // the message restarts the period, so the next line comes 5 s later
    "cbr_small-random-s0 epoch 2/2 step 5/10 (15/20) loss 0.0667 32.0 img/s ETA 0:05\n",
    "cbr_small-random-s0 epoch 2/2 step 10/10 (20/20) loss 0.0500 32.0 img/s ETA 0:00\n",
    "cbr_small-random-s0 epoch 2/2 step 10/10 (20/20) loss 0.0500 32.0 img/s done\n",
  ]);
  bar.done("finished");
  assert.equal(out[out.length - 1], "finished\n");
});

Deno.test("progress: a throttled live line with \\r on a terminal", () => {
  const { bar, out, tick } = fake(true);
  for (let s = 1; s <= 10; s++) {
    tick(30);
    bar.update(ev(2, s, { loss: 0.5, imagesPerSec: 533.3 }));
  }
  assert.ok(out.length >= 3 && out.length <= 5, `throttled to ~every 100 ms: ${out.length} draws`);
  assert.ok(out.every((l) => l.startsWith("\r") && !l.includes("\n")));
  bar.update(ev(2, 10, { loss: 0.4, phase: "eval", imagesPerSec: 533.3 }));
  assert.ok(
    out[out.length - 1].endsWith("ep 2/2 ████████████████ 10/10  loss 0.4000  533 img/s  evaluating\x1b[K"),
    out[out.length - 1],
  );
  bar.message("epoch 2 done");
  assert.ok(out[out.length - 1].startsWith("\r\x1b[Kepoch 2 done\ncbr_small"));
  bar.done("finished");
  assert.equal(out[out.length - 1], "\r\x1b[Kfinished\n");
});

Deno.test("progress: ETA of a resumed run counts only this process's steps", () => {
  const { bar, tick } = fake(false);
  bar.update(ev(2, 2)); // resumed at step 12 of 20
  assert.ok(Number.isNaN(bar.etaSec));
  tick(2000);
  bar.update(ev(2, 4));
  assert.equal(bar.etaSec, 6); // 1 s per step, 6 steps left
  const lines: string[] = [];
  const narrow = new ProgressBar({
    label: "x".repeat(100),
    tty: true,
    columns: 40,
    write: (s) => lines.push(s),
  });
  narrow.update(ev(1, 1));
  assert.ok(lines[0].length <= 1 + 39 + 3, "fits the terminal");
});

Deno.test("progress: durations", () => {
  assert.equal(formatDuration(5), "0:05");
  assert.equal(formatDuration(125), "2:05");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(NaN), "?");
});
