"""Golden gradients for tests/autodiff/golden_test.ts: a residual conv block with fan-out (conv -> BN (train)
-> ReLU -> 1x7 conv -> + skip -> ReLU -> [1x1 stride-2 conv, 3x3/2 max-pool, 3x3 avg-pool] -> concat), loss
sum(seed * y). Inputs are float32-representable; torch computes in float64, so the reference is exact to
~1e-15 and the test measures only the engine's float32 error.

Run: /usr/bin/python3 scripts/golden_autodiff_residual.py  (writes fixtures/golden/autodiff_residual.json)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261126)
shapes = {"x": [2, 3, 7, 7], "w1": [4, 3, 3, 3], "g1": [4], "b1": [4], "w2": [3, 4, 1, 7], "wd": [5, 3, 1, 1],
          "seed": [2, 11, 4, 4]}
data = {k: rng.standard_normal(int(np.prod(s))).astype(np.float32) for k, s in shapes.items()}
t = {k: torch.tensor(v.astype(np.float64)).reshape(shapes[k]).requires_grad_(True) for k, v in data.items()}

h = F.conv2d(t["x"], t["w1"], padding=1)
rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
h = F.relu(F.batch_norm(h, rm, rv, t["g1"], t["b1"], training=True, momentum=0.1, eps=1e-5))
h = F.conv2d(h, t["w2"], padding=(0, 3))
s = F.relu(h + t["x"])
y = torch.cat([
    F.conv2d(s, t["wd"], stride=2),
    F.max_pool2d(s, 3, 2, 1),
    F.avg_pool2d(s, 3, 2, 1, count_include_pad=True),
], 1)
loss = (y * t["seed"]).sum()
loss.backward()

out = {
    "shapes": shapes,
    "inputs": {k: v.tolist() for k, v in data.items()},
    "loss": loss.item(),
    "running_mean": rm.tolist(),
    "running_var": rv.tolist(),
    "grads": {k: t[k].grad.flatten().tolist() for k in ["x", "w1", "g1", "b1", "w2", "wd"]},
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden", "autodiff_residual.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))
