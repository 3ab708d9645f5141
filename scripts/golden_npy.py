"""Golden files for lib/util/npy.ts and the MedMNIST ingest: arrays written by NumPy itself.

Run: /usr/bin/python3 scripts/golden_npy.py  (writes fixtures/golden/data/, about 40 KB)
"""
import json
import os

import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden", "data")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(6)

cases = {
    "f4_2x3": np.arange(6, dtype="<f4").reshape(2, 3) / 7,
    "f8_be": (np.arange(5, dtype=">f8") - 2.5),
    "i8_3": np.array([-(2**40), 0, 2**40 + 1], dtype="<i8"),
    "u1_2x2x3": rng.integers(0, 256, size=(2, 2, 3), dtype=np.uint8),
    "i4_fortran": np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)),
    "bool_4": np.array([True, False, False, True]),
    "scalar_f4": np.array(3.5, dtype="<f4"),
    "u2_empty": np.zeros((0, 3), dtype="<u2"),
}
expect = {}
for name, a in cases.items():
    np.save(os.path.join(out, f"{name}.npy"), a)
    expect[name] = {"shape": list(a.shape), "data": np.ascontiguousarray(a).ravel().astype(float).tolist()}
# int64 values beyond 2**53 do not survive JSON floats; keep them as strings.
expect["i8_3"]["data"] = [str(int(v)) for v in cases["i8_3"]]

np.savez(os.path.join(out, "stored.npz"), a=cases["f4_2x3"], b=cases["i8_3"])
np.savez_compressed(os.path.join(out, "deflate.npz"), a=cases["f4_2x3"], b=cases["i8_3"])

# A RetinaMNIST look-alike (28x28 RGB, grades 0-4, labels N x 1 uint8), laid out exactly as MedMNIST's files.
mm = {}
for split, n in (("train", 10), ("val", 3), ("test", 4)):
    mm[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28, 3), dtype=np.uint8)
    mm[f"{split}_labels"] = (np.arange(n) % 5).astype(np.uint8).reshape(n, 1)
np.savez_compressed(os.path.join(out, "retinamnist.npz"), **mm)
expect["retinamnist"] = {
    k: {"shape": list(v.shape), "sum": int(v.astype(np.int64).sum())} for k, v in mm.items()
}

with open(os.path.join(out, "npy_expected.json"), "w") as f:
    json.dump(expect, f, indent=1)
