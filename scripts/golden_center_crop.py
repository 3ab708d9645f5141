"""Golden for `predict --crop center` (lib/data/fundus.ts resizeCenterCrop): torchvision's evaluation transform.

Four small generated photos (landscape, portrait, square, and a greyscale one smaller than the resize, so it is
upscaled), written as PNG to fixtures/golden/center_crop/. For each photo and crop size S in (24, 32), torchvision
0.14's `Resize(round(S * 256 / 224))` (shorter side; bilinear) then `CenterCrop(S)`, once on the PIL image (the
ImageNet reference path: PIL's antialiased bilinear in fixed point) and once on the uint8 tensor with
`antialias=True`. Writes cases.json (photo, size, resize) and the two results as uint8 .npy [cases, S, S, 3]
(one file per size). Run with /usr/bin/python3 scripts/golden_center_crop.py.
"""
import json
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

out = "fixtures/golden/center_crop"
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(224)


def photo(w, h, grey=False):
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / (4.0 + c) + c) * np.cos(yy / (6.0 - c)) for c in range(3)], -1)
    # a sharp-edged bright square and a dark bar: edges are where interpolation rules differ most
    base[h // 4 : h // 2, w // 3 : w // 2] = (250, 240, 30)
    base[:, (2 * w) // 3 : (2 * w) // 3 + 2] = 5
    img = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).round().astype(np.uint8)
    return Image.fromarray(img[..., 0] if grey else img, "L" if grey else "RGB")


photos = {"wide.png": photo(97, 61), "tall.png": photo(45, 83), "square.png": photo(50, 50),
          "small_grey.png": photo(30, 22, grey=True)}
for name, im in photos.items():
    im.save(f"{out}/{name}", optimize=True)

cases = []
for size in (24, 32):
    resize = round(size * 256 / 224)
    pil, tensor = [], []
    for name in sorted(photos):
        im = Image.open(f"{out}/{name}").convert("RGB")
        a = T.CenterCrop(size)(T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR)(im))
        pil.append(np.asarray(a))
        t = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
        b = T.CenterCrop(size)(T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR, antialias=True)(t))
        tensor.append(b.permute(1, 2, 0).numpy())
        cases.append({"photo": name, "size": size, "resize": resize, "width": im.width, "height": im.height})
    np.save(f"{out}/pil_{size}.npy", np.stack(pil))
    np.save(f"{out}/tensor_{size}.npy", np.stack(tensor))
json.dump({"torchvision": torchvision.__version__, "cases": cases}, open(f"{out}/cases.json", "w"), indent=1)
