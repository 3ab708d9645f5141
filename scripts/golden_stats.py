#!/usr/bin/python3
"""Golden values for lib/stats and lib/similarity, from scikit-learn, scipy and numpy re-implementations of
the published definitions (google/svcca cca_core.get_cca_similarity, Morcos et al. PWCCA, Kornblith et al.
CKA, Sun & Xu 2014 DeLong). Run: /usr/bin/python3 scripts/golden_stats.py  (writes fixtures/golden/)."""
import json
import os

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.metrics import cohen_kappa_score, roc_auc_score, roc_curve

rng = np.random.default_rng(20240601)
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden")


def binary_case():
    n = int(rng.integers(2, 150))
    frac = rng.choice([0.02, 0.1, 0.3, 0.5, 0.9, 0.98])
    y = (rng.random(n) < frac).astype(int)
    y[0], y[-1] = 0, 1  # both classes present
    kind = rng.integers(0, 3)
    if kind == 0:
        s = rng.random(n)
    elif kind == 1:
        s = rng.integers(0, int(rng.integers(1, 5)), n).astype(float)  # heavy ties
    else:
        s = np.round(rng.normal(y * rng.random(), 1.0, n), 1)
    return y, s


def delong_ref(y, a, b):
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    out = []
    for s in (a, b):
        x, yy = s[pos], s[neg]
        tx, ty, tz = rankdata(x), rankdata(yy), rankdata(np.concatenate([x, yy]))
        auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
        out.append((auc, (tz[:m] - tx) / n, 1.0 - (tz[m:] - ty) / m))
    v10 = np.vstack([o[1] for o in out])
    v01 = np.vstack([o[2] for o in out])
    S = np.cov(v10) / m + np.cov(v01) / n
    var = S[0, 0] + S[1, 1] - 2 * S[0, 1]
    z = (out[0][0] - out[1][0]) / np.sqrt(var)
    return dict(aucA=out[0][0], aucB=out[1][0], varA=S[0, 0], varB=S[1, 1], covAB=S[0, 1], varDiff=var,
                z=z, p=2 * norm.sf(abs(z)))


def stats_cases():
    binary, curves, ovr, referable, kappa, delong, meanstd = [], [], [], [], [], [], []
    for _ in range(140):
        y, s = binary_case()
        binary.append(dict(labels=y.tolist(), scores=s.tolist(), auc=roc_auc_score(y, s)))
    for _ in range(10):
        y, s = binary_case()
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        curves.append(dict(labels=y.tolist(), scores=s.tolist(), fpr=fpr.tolist(), tpr=tpr.tolist(),
                           thresholds=[None if np.isinf(t) else t for t in thr]))
    for _ in range(60):
        k = int(rng.integers(3, 6))  # scikit-learn treats two columns as a binary problem
        n = int(rng.integers(k, 120))
        y = rng.integers(0, k, n)
        y[:k] = np.arange(k)  # every class present
        if rng.random() < 0.3:
            y[k:] = rng.choice([0, k - 1], n - k, p=[0.9, 0.1])  # imbalanced
        p = rng.dirichlet(np.ones(k), n)
        if rng.random() < 0.5:  # heavy ties: rows drawn from a small pool
            pool = rng.dirichlet(np.ones(k), 3)
            p = pool[rng.integers(0, 3, n)]
        ovr.append(dict(k=k, labels=y.tolist(), probs=p.ravel().tolist(),
                        auc=roc_auc_score(y, p, multi_class="ovr", average="macro", labels=list(range(k)))))
    for _ in range(30):
        n = int(rng.integers(4, 200))
        y = rng.integers(0, 5, n)
        y[:2] = [0, 3]
        logits = rng.normal(0, 2, (n, 5)) + (np.arange(5) == y[:, None]) * rng.random() * 3
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        p = p.astype(np.float32)
        if rng.random() < 0.3:
            p = np.round(p * 4).astype(np.float32) / 4  # ties in the summed score
            p[:, 0] = 1 - p[:, 1:].sum(1)
        p64 = p.astype(np.float64)
        score = p64[:, 2] + p64[:, 3] + p64[:, 4]
        referable.append(dict(labels=y.tolist(), probs=p64.ravel().tolist(), auc=roc_auc_score(y >= 2, score)))
    for _ in range(60):
        n = int(rng.integers(2, 150))
        grades = rng.choice(5, size=int(rng.integers(2, 6)), replace=False)  # some grades absent
        a = rng.choice(grades, n)
        b = np.where(rng.random(n) < 0.6, a, rng.choice(grades, n))
        if len(set(a.tolist()) | set(b.tolist())) < 2:
            continue
        kappa.append(dict(a=a.tolist(), b=b.tolist(),
                          kappa=cohen_kappa_score(a, b, labels=list(range(5)), weights="quadratic")))
    for _ in range(30):
        n = int(rng.integers(6, 200))
        y = (rng.random(n) < rng.choice([0.1, 0.5, 0.8])).astype(int)
        y[:2], y[-2:] = 0, 1
        a = rng.normal(y * 1.0, 1, n)
        b = a * rng.random() + rng.normal(y * 0.7, 1, n)
        if rng.random() < 0.4:
            a, b = np.round(a), np.round(b, 1)
        r = delong_ref(y, a, b)
        delong.append(dict(labels=y.tolist(), a=a.tolist(), b=b.tolist(), **r))
    for _ in range(10):
        v = rng.normal(0.9, 0.01, int(rng.integers(2, 6)))
        meanstd.append(dict(values=v.tolist(), mean=float(np.mean(v)), std=float(np.std(v, ddof=1))))
    return dict(binary=binary, curves=curves, ovr=ovr, referable=referable, kappa=kappa, delong=delong,
                meanStd=meanstd)


# --- google/svcca cca_core.get_cca_similarity, re-implemented (inputs neurons × datapoints) ---
def cca_google(acts1, acts2, epsilon):
    numx, numy = acts1.shape[0], acts2.shape[0]
    cov = np.cov(acts1, acts2)
    sxx, sxy, syy = cov[:numx, :numx], cov[:numx, numx:], cov[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    xi, yi = np.abs(np.diag(sxx)) >= epsilon, np.abs(np.diag(syy)) >= epsilon
    sxx, syy, sxy = sxx[xi][:, xi], syy[yi][:, yi], sxy[xi][:, yi]
    sxx = sxx + epsilon * np.eye(sxx.shape[0])
    syy = syy + epsilon * np.eye(syy.shape[0])

    def psqrt(a):
        w, v = np.linalg.eigh(a)
        return v @ np.diag(np.sqrt(w)) @ v.T

    ix, iy = psqrt(np.linalg.pinv(sxx)), psqrt(np.linalg.pinv(syy))
    u, s, vt = np.linalg.svd(ix @ sxy @ iy)
    return dict(s=np.abs(s), u=u, vt=vt, ix=ix, iy=iy, xi=xi, yi=yi)


def pwcca_ref(acts1, acts2, epsilon):
    r = cca_google(acts1, acts2, epsilon)
    if r["xi"].sum() <= r["yi"].sum():
        acts, idx, dirs, inv = acts1, r["xi"], r["u"].T, r["ix"]
    else:
        acts, idx, dirs, inv = acts2, r["yi"], r["vt"], r["iy"]
    c = acts[idx] - acts[idx].mean(1, keepdims=True)
    k = idx.sum()
    h = dirs[:k] @ inv @ c
    q, _ = np.linalg.qr(h.T)
    w = np.abs(q.T @ c.T).sum(1)
    w = w / w.sum()
    s = r["s"][:k]
    return dict(pwcca=float(np.sum(w * s)), weights=w.tolist(), coefficients=s.tolist())


def svcca_ref(acts1, acts2, keep, epsilon):
    red = []
    for a in (acts1, acts2):
        c = a - a.mean(1, keepdims=True)
        u, s, vt = np.linalg.svd(c, full_matrices=False)
        var = s ** 2
        k = int(np.searchsorted(np.cumsum(var) / var.sum(), keep) + 1)
        k = min(k, len(s))
        red.append(np.diag(s[:k]) @ vt[:k])
    r = cca_google(red[0], red[1], epsilon)
    return dict(mean=float(r["s"].mean()), coefficients=r["s"].tolist(), kept=[red[0].shape[0], red[1].shape[0]])


def cka_ref(x, y, debiased):
    # Gram-matrix form (Kornblith eq. / Song et al. unbiased HSIC): independent of the feature-space helper.
    x = x - x.mean(0)
    y = y - y.mean(0)
    K, L = x @ x.T, y @ y.T
    n = K.shape[0]
    if not debiased:
        hsic = lambda a, b: np.sum(a * b)
    else:
        def hsic(a, b):
            a = a.copy(); b = b.copy()
            np.fill_diagonal(a, 0); np.fill_diagonal(b, 0)
            one = np.ones(n)
            return (np.trace(a @ b) + one @ a @ one * (one @ b @ one) / ((n - 1) * (n - 2))
                    - 2 / (n - 2) * one @ a @ b @ one) / (n * (n - 3))
    return float(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)))


def acts_pair():
    m = int(rng.integers(25, 80))
    p1, p2 = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    z = rng.normal(size=(m, 6))
    x = z @ rng.normal(size=(6, p1)) + 0.5 * rng.normal(size=(m, p1))
    y = np.tanh(z @ rng.normal(size=(6, p2))) + 0.5 * rng.normal(size=(m, p2))
    if rng.random() < 0.3:
        x[:, 0] = 1.0 + 1e-9 * rng.normal(size=m)  # near-constant neuron: the epsilon rule drops it
    return x, y


def similarity_cases():
    out = dict(cca=[], svcca=[], pwcca=[], cka=[])
    for _ in range(12):
        x, y = acts_pair()
        eps = float(rng.choice([1e-10, 1e-6]))
        r = cca_google(x.T, y.T, eps)
        out["cca"].append(dict(x=x.tolist(), y=y.tolist(), epsilon=eps, coefficients=r["s"].tolist(),
                               dims=[int(r["xi"].sum()), int(r["yi"].sum())]))
    for _ in range(15):
        x, y = acts_pair()
        if rng.random() < 0.5:
            x = np.hstack([x, x @ rng.normal(size=(x.shape[1], 3))])  # rank-deficient: SVD must reduce
        keep = float(rng.choice([0.9, 0.99]))
        out["svcca"].append(dict(x=x.tolist(), y=y.tolist(), varianceKept=keep, epsilon=1e-10,
                                 **svcca_ref(x.T, y.T, keep, 1e-10)))
    for _ in range(15):
        x, y = acts_pair()
        x = x[:, 1:] if x.shape[1] > 1 else x  # keep PWCCA cases free of the near-constant neuron
        out["pwcca"].append(dict(x=x.tolist(), y=y.tolist(), epsilon=1e-10, **pwcca_ref(x.T, y.T, 1e-10)))
    for _ in range(15):
        x, y = acts_pair()
        if rng.random() < 0.4:
            x = rng.normal(size=(8, 20))  # more neurons than datapoints
            y = x @ rng.normal(size=(20, 5))
        out["cka"].append(dict(x=x.tolist(), y=y.tolist(), cka=cka_ref(x, y, False), debiased=cka_ref(x, y, True)))
    return out


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dump("stats_cases.json", stats_cases())
    dump("similarity_cases.json", similarity_cases())
