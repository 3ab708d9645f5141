"""Pillow baseline for bench/data_preprocess.ts: decode + find the fundus field + crop square + resize.

Usage: /usr/bin/python3 bench/data_pillow.py SIZE MODE PROCS FILE...
MODE: "full" decodes every pixel (the usual Image.open/convert/crop/resize script);
      "draft" lets libjpeg decode at 1/2, 1/4 or 1/8 scale first (Image.draft), Pillow's fastest route.
Prints photos/s as JSON.
"""
import json
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image


def process(args):
    path, size, mode = args
    im = Image.open(path)
    if mode == "draft":
        w, h = im.size
        s = max([f for f in (8, 4, 2, 1) if min(w, h) / f >= size])
        im.draft("RGB", (w // s, h // s))
    im = im.convert("RGB")
    # Field: threshold the max channel against the corners' level on a coarse grid, bounding box of the rest.
    a = np.asarray(im)
    g = max(1, max(a.shape[:2]) // 300)
    v = a[::g, ::g].max(axis=2)
    c = max(2, v.shape[0] // 16)
    bg = np.median(np.concatenate([v[:c, :c].ravel(), v[:c, -c:].ravel(), v[-c:, :c].ravel(), v[-c:, -c:].ravel()]))
    fg = np.percentile(v, 90)
    mask = v > bg + max(8, 0.1 * (fg - bg))
    cols = np.where(mask.any(axis=0))[0]
    rows = np.where(mask.any(axis=1))[0]
    x0, x1 = cols[0] * g, (cols[-1] + 1) * g
    cx, cy = (x0 + x1) / 2, (rows[0] * g + (rows[-1] + 1) * g) / 2
    r = (x1 - x0) / 2  # fields are cut off at top and bottom, never at the sides
    box = (round(cx - r), round(cy - r), round(cx + r), round(cy + r))
    out = im.crop(box).resize((size, size), Image.LANCZOS)
    return out.tobytes()[:1]


def main():
    size, mode, procs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    files = sys.argv[4:]
    jobs = [(f, size, mode) for f in files]
    process(jobs[0])  # warm-up
    t = time.perf_counter()
    if procs > 1:
        with Pool(procs) as p:
            p.map(process, jobs, chunksize=1)
    else:
        for j in jobs:
            process(j)
    dt = time.perf_counter() - t
    print(json.dumps({"photos_per_s": len(files) / dt, "seconds": dt, "n": len(files)}))


if __name__ == "__main__":
    main()
