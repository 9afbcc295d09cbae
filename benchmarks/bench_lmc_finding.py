"""How often does the seed's first finding hold for small MLPs? (single-layer vs full barrier)

    python benchmarks/bench_lmc_finding.py                       # the sweep in benchmarks/lmc.md
    python benchmarks/bench_lmc_finding.py --configs 12x128:0.02 --seeds 0 1 2 3 4 5 6 7

For each configuration (``DEPTHxWIDTH:LR``) and seed, two He-initialized ReLU MLPs are trained by
plain SGD (batch 32, 30 epochs) from one initialization with two data orders
(``radonml.lmc.train_pair``) on scikit-learn's digits; then ``radonml.lmc.layerwise_barriers``
(both bases, 6 alphas) on the training and on the test split gives every single-layer barrier and
the full-model barrier, kind ``"linear"`` (against the full endpoint models; it removes the gap
between the endpoints' losses), for the loss and for the error. Each cell is
``max single-layer barrier / full barrier`` (full barrier in parentheses); the finding ("every
single-layer barrier is well below the full one") holds where the ratio is small. Run with
``--procs 2`` to use two processes (one torch thread each).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

DEFAULT_CONFIGS = ["8x128:0.02", "8x128:0.05", "8x128:0.1", "4x256:0.02", "4x256:0.05", "4x256:0.1",
                   "2x512:0.02", "2x512:0.05", "2x512:0.1", "12x128:0.02", "12x128:0.05",
                   "16x128:0.01", "16x128:0.02", "24x128:0.01", "24x128:0.02", "16x256:0.02"]
CELLS = [("train", "loss"), ("test", "loss"), ("train", "error"), ("test", "error")]


def one_run(cfg: str, seed: int, epochs: int):
    import torch

    from radonml import lmc
    from radonml.datasets import load_digits
    from radonml.torch import make_mlp

    torch.set_num_threads(1)
    arch, lr = cfg.split(":")
    depth, width = (int(v) for v in arch.split("x"))
    ds = load_digits(seed=0)
    t = time.perf_counter()
    a, b, _ = lmc.train_pair(lambda: make_mlp(64, (width,) * depth, 10, init="kaiming_normal", seed=None),
                             ds.X_train, ds.y_train, epochs=epochs, lr=float(lr), momentum=0.0, batch_size=32,
                             seed=seed)
    out = {}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("test", ds.X_test, ds.y_test)):
        ev = lmc.classification_evaluator((torch.as_tensor(X), torch.as_tensor(y)))
        try:
            lw = lmc.layerwise_barriers(a, b, ev, alphas=6)
        except ValueError as exc:  # a diverged run (NaN loss)
            return cfg, seed, None, str(exc)
        out[split + "_ends"] = lw.endpoints["loss"]
        for metric in ("loss", "error"):
            B = lw.barriers[metric]["linear"]
            i, _ = np.unravel_index(int(B.argmax()), B.shape)
            out[split, metric] = (float(lw.full_barriers[metric]["linear"]), float(B.max()), lw.layers[i])
    out["seconds"] = time.perf_counter() - t
    return cfg, seed, out, ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="DEPTHxWIDTH:LR")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--procs", type=int, default=1)
    args = ap.parse_args(argv)
    jobs = [(c, s, args.epochs) for c in args.configs for s in args.seeds]
    with ProcessPoolExecutor(args.procs) as pool:
        results = list(pool.map(one_run, *zip(*jobs)))
    print("| MLP | lr | seed | train loss A, B | " + " | ".join(f"{s} {m}" for s, m in CELLS) + " |")
    print("|---|---|---|---|" + "---|" * len(CELLS))
    per_cfg = {}
    for cfg, seed, out, err in results:
        arch, lr = cfg.split(":")
        if out is None:
            print(f"| {arch} | {lr} | {seed} | diverged ({err}) |" + " |" * len(CELLS))
            per_cfg.setdefault(cfg, []).append(None)
            continue
        la, lb = out["train_ends"]
        cells = []
        for key in CELLS:
            full, single, layer = out[key]
            r = single / full if full > 0 else float("inf")
            cells.append(f"{r:.2f} ({full:.3f}; l{layer})")
        per_cfg.setdefault(cfg, []).append(out)
        print(f"| {arch} | {lr} | {seed} | {la:.4f}, {lb:.4f} | " + " | ".join(cells) + " |", flush=True)
    print("\n| MLP | lr | " + " | ".join(f"{s} {m}: seeds < 0.5 / < 1, max ratio" for s, m in CELLS) + " |")
    print("|---|---|" + "---|" * len(CELLS))
    for cfg, outs in per_cfg.items():
        arch, lr = cfg.split(":")
        if any(o is None for o in outs):
            print(f"| {arch} | {lr} | diverged |" + " |" * (len(CELLS) - 1))
            continue
        cells = []
        for key in CELLS:
            r = np.array([o[key][1] / o[key][0] if o[key][0] > 0 else np.inf for o in outs])
            cells.append(f"{(r < 0.5).sum()}/{(r < 1).sum()} of {r.size}, {r.max():.2f}")
        print(f"| {arch} | {lr} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
