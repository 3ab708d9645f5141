"""PyTorch side of bench/train.ts: median ms per training step (forward, backward, Adam) for one model,
batch and input size, at a fixed thread count, and the process's peak RSS.
Usage: /usr/bin/python3 bench/torch_train.py MODEL BATCH SIZE THREADS STEPS [DEVICE]   (prints one JSON line)"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

model_name, batch, size, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
torch.set_num_threads(threads)

CBR = {  # study.md, Raghu's appendix: (kernel, [(channels, maxpool after)])
    "cbr_large_t": (7, [(32, True), (64, True), (128, True), (256, True), (512, False)]),
    "cbr_large_w": (7, [(64, True), (128, True), (256, True), (512, True)]),
    "cbr_small": (7, [(32, True), (64, True), (128, True), (256, True)]),
    "cbr_tiny": (5, [(64, True), (128, True), (256, True), (512, True)]),
}


class Cbr(nn.Module):
    def __init__(self, k, blocks, classes=5):
        super().__init__()
        layers, c = [], 3
        for out, mp in blocks:
            layers += [nn.Conv2d(c, out, k, padding=k // 2, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            if mp:
                layers.append(nn.MaxPool2d(3, 2, padding=1))  # lib/models/cbr.ts: 3×3/2, padding 1
            c = out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


if model_name == "resnet50":
    net = torchvision.models.resnet50(num_classes=5)
elif model_name == "inception_v3":
    # aux off (bench/train.ts input 128 is below the AuxLogits head's 299 minimum), no transform_input (ours off too)
    net = torchvision.models.inception_v3(num_classes=5, aux_logits=False, transform_input=False, init_weights=True)
else:
    net = Cbr(*CBR[model_name])
net = net.to(device).train()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.randn(batch, 3, size, size, device=device)
y = torch.randint(0, 5, (batch,), device=device)
times = []
for i in range(steps + 2):
    if device != "cpu":
        torch.cuda.synchronize()
    t = time.perf_counter()
    opt.zero_grad()
    out = net(x)
    if isinstance(out, tuple) or hasattr(out, "aux_logits"):
        loss = F.cross_entropy(out[0], y) + 0.4 * F.cross_entropy(out[1], y)
    else:
        loss = F.cross_entropy(out, y)
    loss.backward()
    opt.step()
    if device != "cpu":
        torch.cuda.synchronize()
    if i >= 2:  # two warm-up steps
        times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps(dict(framework="torch " + torch.__version__, model=model_name, batch=batch, size=size,
                      threads=threads, device=device, ms_per_step=times[len(times) // 2],
                      peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
