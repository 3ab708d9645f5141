"""Golden ONNX graphs for Inception-v3's `transform_input` detection (lib/weights/onnx_import.ts).

torchvision's Inception3 re-normalises its input when `transform_input=True` (the per-channel
`x[:, c] * (std_c / 0.5) + (mean_c - 0.5) / 0.5` of `Inception3._transform_input`); an export keeps those ops
ahead of the first convolution, one made with `transform_input=False` feeds the input to it directly. The
whole network is 95 MB, so these files hold only its stem: torchvision's own `_transform_input` followed by
`Conv2d_1a_3x3`, exported as torchvision's model is (BN kept), which is all the detection reads.

Run: /usr/bin/python3 scripts/golden_transform_input.py  (writes fixtures/golden/inception_stem_*.onnx, ~4 KB each)
"""
import os

import torch
from torch import nn
from torchvision.models.inception import BasicConv2d, Inception3

out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden")


class Stem(nn.Module):
    _transform_input = Inception3._transform_input

    def __init__(self, transform_input: bool):
        super().__init__()
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)

    def forward(self, x):
        return self.Conv2d_1a_3x3(self._transform_input(x))


torch.manual_seed(0)
for flag in (True, False):
    torch.onnx.export(
        Stem(flag).eval(),
        torch.randn(1, 3, 75, 75),
        os.path.join(out, f"inception_stem_transform_{str(flag).lower()}.onnx"),
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        input_names=["input"],
        output_names=["output"],
    )
