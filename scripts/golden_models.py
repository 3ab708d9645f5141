#!/usr/bin/python3
"""Golden files for tests/models and tests/weights (issue 5).

Run with Debian's python3 (torch 1.13, torchvision 0.14; random weights, nothing downloaded):

    /usr/bin/python3 scripts/golden_models.py [--out fixtures/golden]

Writes
  models_state_dict.json  state_dict names, shapes, dtypes (in order) and trainable counts of torchvision's
                          resnet50 and inception_v3(aux_logits=True, init_weights=True), 1000 classes
  models_forward.json     eval-mode logits (and the first pooled features) of resnet50, inception_v3 and a
                          CBR-Small defined here, every state_dict tensor filled by `fill` below
  models_tiny_bn.onnx     a tiny conv-bn-relu-pool-fc net exported with BN kept (PRESERVE, no folding)
  models_tiny_folded.onnx the same net exported the default way (BN folded into the conv)
  models_tiny.json        the tiny net's weights, input and logits
  models_npy_*.npy        small arrays written by np.save (float32/float64/uint8/int64, one big-endian)

The fill formula is written so that TypeScript reproduces it bit for bit (32-bit integer hash, float64
arithmetic, one rounding to float32): tests/models/golden_fill.ts is its twin.
"""
import argparse
import io
import json
import os
import warnings

import numpy as np
import torch
import torch.nn as nn
import torchvision

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def hash32(x):
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def uniform(t, n):
    """n values in [-1, 1) from stream t: exact multiples of 2**-23."""
    base = np.uint32((t * 0x9E3779B9) & 0xFFFFFFFF)
    h = hash32(np.arange(n, dtype=np.uint32) + base)
    return (h >> np.uint32(8)).astype(np.float64) * 2.0**-23 - 1.0


def fill(model, gain):
    """Tensor t of the state_dict (in order) gets uniform(t, numel) mapped by its role."""
    sd = model.state_dict()
    for t, (k, v) in enumerate(sd.items()):
        n = v.numel()
        u = uniform(t, n)
        if k.endswith("num_batches_tracked"):
            v.zero_()
            continue
        if k.endswith("running_var"):
            val = 1.0 + 0.5 * u
        elif k.endswith("running_mean"):
            val = 0.1 * u
        elif v.dim() >= 2:
            val = u * np.sqrt(gain / (n // v.shape[0]))
        elif k.endswith("bias"):
            val = 0.1 * u
        else:  # BN weight
            val = 1.0 + 0.25 * u
        v.copy_(torch.from_numpy(val.astype(np.float32).reshape(tuple(v.shape))))


def image(t, shape):
    return torch.from_numpy(uniform(t, int(np.prod(shape))).astype(np.float32).reshape(shape))


def spec(model):
    trainable = sum(p.numel() for p in model.parameters())
    return {
        "trainable": trainable,
        "tensors": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()],
    }


class CBR(nn.Module):
    """The CBR family (Raghu et al. appendix): conv(k, stride 1, 'same') -> BN -> ReLU blocks, 3x3/2 max-pools."""

    SPECS = {
        "largeT": (7, [(32, True), (64, True), (128, True), (256, True), (512, False)]),
        "largeW": (7, [(64, True), (128, True), (256, True), (512, True)]),
        "small": (7, [(32, True), (64, True), (128, True), (256, True)]),
        "tiny": (5, [(64, True), (128, True), (256, True), (512, True)]),
    }

    def __init__(self, variant, num_classes=5):
        super().__init__()
        k, blocks = self.SPECS[variant]
        self.pools = []
        cin = 3
        for i, (c, mp) in enumerate(blocks):
            blk = nn.Module()
            blk.conv = nn.Conv2d(cin, c, k, stride=1, padding=k // 2, bias=False)
            blk.bn = nn.BatchNorm2d(c)
            setattr(self, f"block{i + 1}", blk)
            self.pools.append(mp)
            cin = c
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        for i, mp in enumerate(self.pools):
            blk = getattr(self, f"block{i + 1}")
            x = torch.relu(blk.bn(blk.conv(x)))
            if mp:
                x = nn.functional.max_pool2d(x, 3, 2, padding=1)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def pooled(model, x):
    """The 2048-d input of fc, captured by a hook."""
    got = {}

    def hook(module, inputs, output):
        got["x"] = inputs[0].detach()  # returning a value would replace fc's output

    h = model.fc.register_forward_hook(hook)
    with torch.no_grad():
        y = model(x)
    h.remove()
    return y, got["x"]


def case(name, model, gain, shape, input_stream, **extra):
    fill(model, gain)
    model.eval()
    x = image(input_stream, shape)
    y, p = pooled(model, x)
    return {
        "name": name,
        "gain": gain,
        "input": {"shape": list(shape), "stream": input_stream},
        **extra,
        "logits": [[float(v) for v in row] for row in y.numpy()],
        "pool_first16": [[float(v) for v in row[:16]] for row in p.numpy()],
        "pool_mean": [float(row.mean()) for row in p.numpy().astype(np.float64)],
    }


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__}

    r50 = torchvision.models.resnet50()
    inc = torchvision.models.inception_v3(aux_logits=True, init_weights=True)
    cbr = {v: CBR(v, 5) for v in CBR.SPECS}
    sd = {
        **meta,
        "resnet50": spec(r50),
        "inception_v3": spec(inc),
        **{f"cbr_{v}": spec(m) for v, m in cbr.items()},
    }
    with open(os.path.join(args.out, "models_state_dict.json"), "w") as f:
        json.dump(sd, f, separators=(",", ":"))

    cases = [
        case("resnet50", r50, 3.0, (2, 3, 224, 224), 1001),
        case("resnet50", r50, 3.0, (1, 3, 299, 299), 1002),
        case("inception_v3", inc, 6.0, (1, 3, 299, 299), 1003, transformInput=False),
    ]
    inc.transform_input = True
    cases.append(case("inception_v3", inc, 6.0, (1, 3, 299, 299), 1003, transformInput=True))
    cases.append(case("inception_v3", inc, 6.0, (1, 3, 587, 587), 1004, transformInput=True))
    cases.append(case("cbr-small", cbr["small"], 6.0, (2, 3, 64, 64), 1005, classes=5))
    cases.append(case("cbr-largeT", cbr["largeT"], 6.0, (1, 3, 75, 75), 1006, classes=5))
    with open(os.path.join(args.out, "models_forward.json"), "w") as f:
        json.dump({**meta, "cases": cases}, f, separators=(",", ":"))

    tiny = Tiny()
    fill(tiny, 6.0)
    tiny.eval()
    x = image(2001, (2, 3, 6, 5))
    with torch.no_grad():
        y = tiny(x)
    for fname, kw in [
        ("models_tiny_bn.onnx", dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)),
        ("models_tiny_folded.onnx", {}),
    ]:
        buf = io.BytesIO()
        torch.onnx.export(tiny, x, buf, input_names=["input"], output_names=["logits"], opset_version=13, **kw)
        with open(os.path.join(args.out, fname), "wb") as f:
            f.write(buf.getvalue())
    with open(os.path.join(args.out, "models_tiny.json"), "w") as f:
        json.dump(
            {
                **meta,
                "gain": 6.0,
                "input": {"shape": list(x.shape), "stream": 2001},
                "state_dict": {k: {"shape": list(v.shape), "data": v.flatten().tolist()} for k, v in tiny.state_dict().items()},
                "logits": y.tolist(),
            },
            f,
            separators=(",", ":"),
        )

    arrays = {
        "f4": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8,
        "f8": np.array([[1.5, -2.25], [1e-300, np.pi]], dtype=np.float64),
        "u1": np.arange(250, 256, dtype=np.uint8).reshape(3, 2),
        "i8": np.array([-(2**40), 0, 7], dtype=np.int64),
        "f4be": np.array([0.5, -1.0, 3.25], dtype=">f4"),
        "scalar": np.array(2.5, dtype=np.float32),
    }
    for k, a in arrays.items():
        np.save(os.path.join(args.out, f"models_npy_{k}.npy"), a)


if __name__ == "__main__":
    main()
