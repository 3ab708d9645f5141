"""Golden for Ben Graham's normalisation (lib/data/fundus.ts grahamNormalise), made with scipy.

A fixed 48x48 RGB crop (smooth waves plus noise, seeded) and 4*(img - GaussianBlur(img, sigma)) + 128,
clipped to [0, 255] (not rounded), with sigma = radius / 30 = 48 / 60 and everything outside 90 % of the
radius set to 128. The blur is scipy's exact Gaussian (truncated at 4 sigma, edges repeat the border
pixel as libvips does). Writes fixtures/golden/graham.json: the input and the expected output as base64.
Run with /usr/bin/python3 scripts/golden_graham.py.
"""
import base64
import json

import numpy as np
from scipy.ndimage import gaussian_filter

size = 48
rng = np.random.default_rng(2015)
yy, xx = np.mgrid[0:size, 0:size]
base = np.stack([120 + 60 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in range(3)], -1)
img = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).round().astype(np.uint8)
sigma = max(0.3, size / 2 / 30)
blur = np.stack(
    [gaussian_filter(img[..., k].astype(np.float64), sigma, mode="nearest", truncate=4.0) for k in range(3)], -1
)
out = np.clip(4 * (img.astype(np.float64) - blur) + 128, 0, 255)
c = (size - 1) / 2
outside = (xx - c) ** 2 + (yy - c) ** 2 > (0.9 * size / 2) ** 2
out[outside] = 128
json.dump(
    {
        "size": size,
        "sigma": sigma,
        "input": base64.b64encode(img.tobytes()).decode(),
        # float32, unrounded: the test measures how far the uint8 result is from the exact value
        "expected": base64.b64encode(out.astype("<f4").tobytes()).decode(),
    },
    open("fixtures/golden/graham.json", "w"),
)
