#!/usr/bin/python3
"""Golden file for tests/models/squeezenet_test.ts (issue 13): torchvision's squeezenet1_1.

Run with Debian's python3 (torch 1.13, torchvision 0.14; nothing downloaded):

    /usr/bin/python3 scripts/golden_squeezenet.py [--weights vendor/squeezenet1_1-imagenet.safetensors]
                                                  [--out fixtures/golden]

Writes squeezenet.json:
  state_dict   names and shapes of squeezenet1_1() (1000 classes), in order, and the trainable count
  forward      eval-mode logits and the spatial mean of features.12 (first 16) with every tensor filled by
               golden_models.fill (random weights): 1000 classes at 224², a 5-class head at odd sizes where
               ceil_mode pooling keeps a partial window
  imagenet     the vendored ImageNet weights: all 1000 logits of two generated tensors (golden_models.image
               streams) at 224², and the top-5 classes of three generated uint8 "photos" (the integer
               formula `photo` below, which the test repeats to write PNGs), normalised as torchvision does
"""
import argparse
import json
import os
import struct
import sys
import warnings

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_models import fill, image  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
PHOTO = 112


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", k
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy().reshape(v["shape"]))
    return out


def photo(t):
    """An H×W×3 uint8 photo (t = 0, 1, 2): integer stripes and blobs, exact in any language."""
    i = np.arange(PHOTO, dtype=np.int64)[:, None, None]
    j = np.arange(PHOTO, dtype=np.int64)[None, :, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    v = i * (3 + t) + j * (5 + 2 * t) + c * 40 * (t + 1) + ((i * j) >> (t + 2))
    return (v & 255).astype(np.uint8)


def normalise(px):
    x = (px.astype(np.float32) / np.float32(255) - MEAN.astype(np.float32)) / STD.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None].astype(np.float32))


def feats_mean(model, x):
    return model.features(x).mean(dim=(2, 3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="vendor/squeezenet1_1-imagenet.safetensors")
    ap.add_argument("--out", default="fixtures/golden")
    a = ap.parse_args()
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__}

    model = torchvision.models.squeezenet1_1().eval()
    out["state_dict"] = {
        "trainable": sum(p.numel() for p in model.parameters()),
        "tensors": [[k, list(v.shape)] for k, v in model.state_dict().items()],
    }

    cases = []
    for classes, shape, stream in [(1000, [2, 3, 224, 224], 2001), (5, [2, 3, 37, 45], 2002),
                                   (5, [1, 3, 64, 64], 2003), (5, [1, 3, 25, 25], 2004)]:
        m = torchvision.models.squeezenet1_1(num_classes=classes).eval()
        fill(m, 2.0)
        x = image(stream, shape)
        with torch.no_grad():
            y = m(x)
            f = feats_mean(m, x)
        cases.append({
            "classes": classes,
            "gain": 2.0,
            "input": {"shape": shape, "stream": stream},
            "logits": y.tolist(),
            "features_first16": f[:, :16].tolist(),
        })
    out["forward"] = cases

    sd = read_safetensors(a.weights)
    model.load_state_dict(sd)
    imagenet = {"tensors": [], "photos": []}
    for stream in [3001, 3002]:
        # a smooth image: the generated stream, averaged over 8×8 blocks and scaled to the normalised range
        x = image(stream, [1, 3, 28, 28]) * 2.0
        x = torch.nn.functional.interpolate(x, size=224, mode="nearest")
        with torch.no_grad():
            y = model(x)[0]
        imagenet["tensors"].append({"stream": stream, "logits": [round(v, 6) for v in y.tolist()]})
    for t in range(3):
        with torch.no_grad():
            y = model(normalise(photo(t)))[0]
        top = torch.topk(y, 5)
        imagenet["photos"].append({
            "t": t,
            "size": PHOTO,
            "top5": top.indices.tolist(),
            "top5_logits": top.values.tolist(),
        })
        print(f"photo {t}: top5 {top.indices.tolist()} margin {float(top.values[0] - top.values[1]):.3f}")
    out["imagenet"] = imagenet

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "squeezenet.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", os.path.join(a.out, "squeezenet.json"))


if __name__ == "__main__":
    main()
