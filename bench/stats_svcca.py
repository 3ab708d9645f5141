#!/usr/bin/python3
"""numpy side of bench/stats_svcca.ts. `gen PATH M P SEED` writes two activation sets (float64, M×P each);
`run PATH M P` times SVCCA on them the google/svcca way (SVD + get_cca_similarity) and eigh-based, and
AUC + DeLong on 100 000 scores with scikit-learn/scipy."""
import json
import sys
import time

import numpy as np


def gen(path, m, p, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, 512))
    out = []
    for _ in range(2):
        a = rng.standard_normal((512, p)) * (np.arange(1, 513) ** -0.7)[:, None]
        x = np.maximum(z @ a + 0.05 * rng.standard_normal((m, p)), 0)  # ReLU features with a decaying spectrum
        out.append(x)
    np.concatenate(out).astype(np.float64).tofile(path)


def cca_google(a1, a2, eps):
    nx = a1.shape[0]
    cov = np.cov(a1, a2)
    sxx, sxy, syy = cov[:nx, :nx], cov[:nx, nx:], cov[nx:, nx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    xi, yi = np.abs(np.diag(sxx)) >= eps, np.abs(np.diag(syy)) >= eps
    sxx, syy, sxy = sxx[xi][:, xi] + eps * np.eye(xi.sum()), syy[yi][:, yi] + eps * np.eye(yi.sum()), sxy[xi][:, yi]

    def psqrt(a):
        w, v = np.linalg.eigh(a)
        return v @ np.diag(np.sqrt(w)) @ v.T

    ix, iy = psqrt(np.linalg.pinv(sxx)), psqrt(np.linalg.pinv(syy))
    return np.abs(np.linalg.svd(ix @ sxy @ iy, compute_uv=False))


def svcca_svd(x, y, keep=0.99, eps=1e-10):
    red = []
    for a in (x.T, y.T):
        c = a - a.mean(1, keepdims=True)
        u, s, vt = np.linalg.svd(c, full_matrices=False)
        k = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), keep) + 1)
        red.append(np.diag(s[:k]) @ vt[:k])
    return cca_google(red[0], red[1], eps), [r.shape[0] for r in red]


def svcca_eigh(x, y, keep=0.99):
    m = x.shape[0]
    xc, yc = x - x.mean(0), y - y.mean(0)
    red = []
    for c in (xc, yc):
        w, v = np.linalg.eigh(c.T @ c / (m - 1))
        w, v = w[::-1], v[:, ::-1]
        k = int(np.searchsorted(np.cumsum(w) / w.sum(), keep) + 1)
        red.append((w[:k], v[:, :k]))
    sxy = red[0][1].T @ (xc.T @ yc / (m - 1)) @ red[1][1]
    arr = sxy / np.sqrt(red[0][0])[:, None] / np.sqrt(red[1][0])[None, :]
    return np.linalg.svd(arr, compute_uv=False)


def run(path, m, p):
    d = np.fromfile(path).reshape(2 * m, p)
    x, y = d[:m], d[m:]
    res = {}
    t = time.perf_counter()
    s, kept = svcca_svd(x, y)
    res["svcca_svd_s"] = time.perf_counter() - t
    res["svcca_mean"] = float(s.mean())
    res["kept"] = kept
    t = time.perf_counter()
    s2 = svcca_eigh(x, y)
    res["svcca_eigh_s"] = time.perf_counter() - t
    res["svcca_eigh_mean"] = float(s2.mean())
    from scipy.stats import norm, rankdata
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(1)
    n = 100_000
    lab = (rng.random(n) < 0.2).astype(int)
    a = rng.normal(lab, 1.0)
    b = rng.normal(lab * 0.8, 1.0)
    t = time.perf_counter()
    auc = roc_auc_score(lab, a)
    pos, neg = lab == 1, lab == 0
    mm, nn = pos.sum(), neg.sum()
    comps = []
    for sc in (a, b):
        xs, ys = sc[pos], sc[neg]
        tx, ty, tz = rankdata(xs), rankdata(ys), rankdata(np.concatenate([xs, ys]))
        comps.append(((tz[:mm] - tx) / nn, 1 - (tz[mm:] - ty) / mm, (tz[:mm].sum() - mm * (mm + 1) / 2) / (mm * nn)))
    S = np.cov(np.vstack([c[0] for c in comps])) / mm + np.cov(np.vstack([c[1] for c in comps])) / nn
    z = (comps[0][2] - comps[1][2]) / np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1])
    p_val = 2 * norm.sf(abs(z))
    res["auc_delong_s"] = time.perf_counter() - t
    res["auc"], res["z"] = float(auc), float(z)
    np.stack([lab, a, b]).astype(np.float64).tofile(path + ".auc")
    print(json.dumps(res))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
