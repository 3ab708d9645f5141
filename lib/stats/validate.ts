/** Argument checks shared by the statistics: each error names the argument and the problem. */

/** Numbers a statistic accepts: any array-like of numbers. */
export type Numbers = ArrayLike<number>;

export function checkScores(name: string, scores: Numbers, n?: number): void {
  if (scores.length === 0) throw new RangeError(`${name} is empty`);
  if (n !== undefined && scores.length !== n) {
    throw new RangeError(`${name} has ${scores.length} entries, expected ${n} (one per label)`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`${name}[${i}] is ${scores[i]}, not a finite number`);
    }
  }
}

/** Binary labels: 0/1 numbers or booleans; returns them as 0/1 bytes. */
export function binaryLabels(name: string, labels: ArrayLike<number | boolean>): Uint8Array {
  if (labels.length === 0) throw new RangeError(`${name} is empty`);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 1 || v === true) out[i] = 1;
    else if (v !== 0 && v !== false) {
      throw new RangeError(`${name}[${i}] is ${v}, outside the label set {0, 1}`);
    }
  }
  return out;
}

/** Class labels: integers in [0, numClasses). */
export function classLabels(name: string, labels: Numbers, numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(`numClasses must be an integer of at least 2, got ${numClasses}`);
  }
  if (labels.length === 0) throw new RangeError(`${name} is empty`);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(`${name}[${i}] is ${v}, outside the label set 0..${numClasses - 1}`);
    }
    out[i] = v;
  }
  return out;
}
