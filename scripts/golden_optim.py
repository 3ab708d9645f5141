"""Golden values for lib/optim: torch.optim.Adam / SGD trajectories on fixed float32 tensors.
Run: /usr/bin/python3 scripts/golden_optim.py > fixtures/golden/optim.json"""
import json
import torch

torch.manual_seed(0)
cases = []
for name, ctor, kw in [
    ("adam", torch.optim.Adam, dict(lr=1e-3)),
    ("adam_wd", torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1, eps=1e-6)),
    ("sgd_mom", torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
]:
    p = torch.randn(37, dtype=torch.float32, requires_grad=True)
    p0 = p.detach().clone()
    opt = ctor([p], **kw)
    grads = []
    for _ in range(5):
        g = torch.randn(37, dtype=torch.float32) * (1 + 10 * torch.rand(37))
        grads.append(g.tolist())
        p.grad = g.clone()
        opt.step()
    cases.append(dict(name=name, kind=name.split("_")[0], options=kw, p0=p0.tolist(), grads=grads,
                      final=p.detach().tolist()))
print(json.dumps({"torch": torch.__version__, "cases": cases}))
