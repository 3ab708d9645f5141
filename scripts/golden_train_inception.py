"""Golden for one Inception-v3-style training step (tests/train/parity_test.ts).

A miniature of torchvision's Inception-v3 in its own terms: BasicConv2d (conv without bias, BN with eps 1e-3,
ReLU), one Inception block (1x1, 3x3 and avg-pool branches concatenated), an auxiliary head, and dropout
before the classifier with a mask fed from outside (the trainer draws it; here it is fixed and exported,
already scaled by 1/(1-p) as the graph takes it). The loss is torchvision's training loss, CE(logits) +
0.4 * CE(aux). Writes the initial state_dict, the batch, the mask, the loss, both logits, every gradient and
the BN running statistics after the step to fixtures/golden/train_inception.json.
Conv weights are small (std 0.05) so that BN's batch variances are ~0.05 and eps = 1e-3 matters (a 1e-5 eps
changes the gradients by ~1 %).
Run: /usr/bin/python3 scripts/golden_train_inception.py
"""
import json
import os
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden")


class BasicConv2d(nn.Module):  # torchvision.models.inception.BasicConv2d
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Mini(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = BasicConv2d(3, 8, kernel_size=3, stride=2)
        self.branch1x1 = BasicConv2d(8, 4, kernel_size=1)
        self.branch3x3 = BasicConv2d(8, 4, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(8, 4, kernel_size=1)
        self.aux_conv = BasicConv2d(12, 6, kernel_size=1)
        self.aux_fc = nn.Linear(6, 5)
        self.fc = nn.Linear(12, 5)

    def forward(self, x, mask):
        x = self.stem(x)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        x = torch.cat([self.branch1x1(x), self.branch3x3(x), bp], 1)
        a = self.aux_conv(F.avg_pool2d(x, kernel_size=5, stride=3))
        aux = self.aux_fc(torch.flatten(F.adaptive_avg_pool2d(a, 1), 1))
        h = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1) * mask  # dropout(p=0.5) with a fixed mask
        return self.fc(h), aux


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


torch.manual_seed(3)
net = Mini()
for m in net.modules():
    if isinstance(m, nn.Conv2d):
        nn.init.normal_(m.weight, 0, 0.05)
    if isinstance(m, nn.BatchNorm2d):
        nn.init.uniform_(m.weight, 0.5, 1.5)
        nn.init.uniform_(m.bias, -0.2, 0.2)
x = torch.randn(4, 3, 17, 17)
y = torch.tensor([0, 3, 1, 4])
mask = (torch.rand(4, 12) > 0.5).float() * 2.0
sd0 = {k: dict(shape=list(v.shape), data=flat(v)) for k, v in net.state_dict().items()}
net.train()
logits, aux = net(x, mask)
loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
loss.backward()
res = dict(
    torch=torch.__version__, input_shape=list(x.shape), x=flat(x), y=[int(v) for v in y],
    mask=dict(shape=list(mask.shape), data=flat(mask)), state=sd0, loss=float(loss), logits=flat(logits),
    aux=flat(aux), grads={k: flat(p.grad) for k, p in net.named_parameters()},
    buffers_after_1={k: flat(v) for k, v in net.state_dict().items() if "running" in k or "num_batches" in k},
)
with open(os.path.join(OUT, "train_inception.json"), "w") as f:
    json.dump(res, f)
print("loss", float(loss), "min |grad|", min(abs(v) for g in res["grads"].values() for v in g))
