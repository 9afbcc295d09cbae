"""Experiments with radonml.federated on mnist1d (offline), results in benchmarks/federated.md.

    python benchmarks/bench_federated.py lr          # effective learning rate: periodic averaging as m grows
    python benchmarks/bench_federated.py layerwise   # layer-wise vs full averaging, iid and non-iid
    python benchmarks/bench_federated.py all

Dynamic against periodic averaging (bytes at equal accuracy) and the mini-batch limit are in
bench_federated_claims.py.

Every run starts from the same initial MLP (40-64-10) and the same mini-batch stream of its
learners (seeded), so differences come from the protocol alone. Accuracies are of the
protocol's global model on the 1000 held-out examples, averaged over ``--seeds`` seeds (data
split, initialization and batches all change with the seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from radonml.datasets import load_mnist1d
from radonml.federated import (
    LayerwiseAveraging,
    NoSync,
    PeriodicAveraging,
    make_learners,
    make_mlp,
    simulate,
)

torch.set_num_threads(1)
DS = None


def data():
    global DS
    if DS is None:
        DS = load_mnist1d(5000)
    return DS


def learners(m, seed, *, lr=0.2, split="iid", alpha=0.5, shards=2, hidden=64):
    ds = data()
    return make_learners(
        make_mlp(40, hidden, 10, seed=seed), ds.X_train, ds.y_train, m, split=split, alpha=alpha,
        shards_per_learner=shards, lr=lr, batch_size=32, X_test=ds.X_test, y_test=ds.y_test, seed=seed,
    )


def run(protocol, L, steps):
    h = simulate(protocol, L, steps=steps, steps_per_round=steps)
    return h


def mean_over_seeds(make_protocol, make_learners_, steps, seeds):
    accs, byts, syncs, times = [], [], [], []
    label = None
    for s in seeds:
        h = run(make_protocol(), make_learners_(s), steps)
        label = h.protocol
        accs.append(h.final["accuracy"])
        byts.append(h.final["bytes"])
        syncs.append(h.final["syncs"])
        times.append(h.final["time"])
    return {"protocol": label, "accuracy": float(np.mean(accs)), "accuracy_sd": float(np.std(accs)),
            "bytes": float(np.mean(byts)), "syncs": float(np.mean(syncs)), "time": float(np.mean(times))}


def fmt_mb(b):
    return f"{b / 1e6:.2f}"


# ----------------------------------------------------------------------------- experiments


def exp_lr(args):
    total, seeds, base = args.budget, range(args.seeds), args.base_lr
    out = [f"| m | steps per learner | accuracy, local rate {base} fixed | accuracy, local rate {base}·m | MB sent (both) |", "|---|---|---|---|---|"]
    for m in (1, 2, 4, 8, 16):
        steps = total // m
        fixed = mean_over_seeds(lambda: PeriodicAveraging(10, weighted=False), lambda s: learners(m, s, lr=base), steps, seeds)
        scaled = mean_over_seeds(lambda: PeriodicAveraging(10, weighted=False), lambda s: learners(m, s, lr=base * m), steps, seeds)
        print(m, fixed, scaled, file=sys.stderr)
        out.append(
            f"| {m} | {steps} | {fixed['accuracy']:.4f} ± {fixed['accuracy_sd']:.4f} | {scaled['accuracy']:.4f} ± {scaled['accuracy_sd']:.4f} | {fmt_mb(fixed['bytes'])} |"
        )
    return "\n".join(out)


def _own_distribution_accuracy(h, L):
    """Mean over learners of each local model's test accuracy, with test classes weighted by
    that learner's own training label distribution (what a personalized model is used for)."""
    ds = data()
    X = torch.as_tensor(ds.X_test)
    pred = L.forward(h.learners.theta, X).argmax(-1).numpy()  # (m, n_test)
    yt = ds.y_test
    accs = []
    for i in range(L.m):
        lo, n = L.offsets[i], L.n_samples[i]
        ytr = L.y[lo : lo + n].numpy()
        p = np.bincount(ytr, minlength=10) / n
        per_class = np.array([(pred[i][yt == c] == c).mean() for c in range(10)])
        accs.append(float(p @ per_class))
    return float(np.mean(accs))


def exp_layerwise(args):
    m, steps, seeds = 10, args.steps, range(args.seeds)
    splits = [("iid", {}), ("shards (2 classes per learner)", {"split": "shards", "shards": 2}),
              ("dirichlet α=0.1", {"split": "dirichlet", "alpha": 0.1})]
    protos = [
        ("full averaging", lambda: PeriodicAveraging(10)),
        ("layer 0 averaged (body), head local", lambda: LayerwiseAveraging(["0"], 10)),
        ("layer 2 averaged (head), body local", lambda: LayerwiseAveraging(["2"], 10)),
        ("no averaging", lambda: NoSync()),
    ]
    out = ["| split | protocol | global acc | local acc (global test) | local acc (own label mix) | MB sent |", "|---|---|---|---|---|---|"]
    for sname, kw in splits:
        for pname, mk in protos:
            g, loc, own, byt = [], [], [], []
            for s in seeds:
                L = learners(m, s, **kw)
                h = run(mk(), L, steps)
                g.append(h.final["accuracy"])
                loc.append(h.final["local_accuracy"])
                own.append(_own_distribution_accuracy(h, L))
                byt.append(h.final["bytes"])
            out.append(f"| {sname} | {pname} | {np.mean(g):.4f} | {np.mean(loc):.4f} | {np.mean(own):.4f} | {fmt_mb(np.mean(byt))} |")
            print(out[-1], file=sys.stderr)
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=("lr", "layerwise", "all"))
    p.add_argument("--steps", type=int, default=2000, help="local steps (layerwise)")
    p.add_argument("--budget", type=int, default=3200, help="total steps m * T of the learning-rate experiment")
    p.add_argument("--base-lr", type=float, default=0.05)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    todo = ("lr", "layerwise") if args.experiment == "all" else (args.experiment,)
    for e in todo:
        t = time.perf_counter()
        table = {"lr": exp_lr, "layerwise": exp_layerwise}[e](args)
        print(f"\n### {e}  ({time.perf_counter() - t:.0f} s)\n\n{table}\n", flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s; torch {torch.__version__}, 1 thread", flush=True)


if __name__ == "__main__":
    main()
