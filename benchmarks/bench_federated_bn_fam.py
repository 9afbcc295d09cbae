"""Cost of BatchNorm models and of FAM in radonml.federated's vectorized local steps, against
the loop of nn.Modules users would otherwise write.

    python benchmarks/bench_federated_bn_fam.py [--learners 10] [--hidden 64] [--steps 100] [--repeats 3]

One local SGD step (batch 32) of m learners on mnist1d, four rows, each radonml against a loop:

- ``plain``: MLP 40-h-10; ``Learners.local_step()`` vs m ``nn.Module`` copies, each with its own
  ``torch.optim.SGD`` (forward, backward, step in a Python loop);
- ``batchnorm``: MLP 40-h-BatchNorm1d-ReLU-10 in train mode: radonml carries each learner's
  running statistics through the vmapped step; the loop's modules update theirs themselves;
- ``fam``: the plain MLP with FAM, lambda = 0.1, one probe (``Learners(fam=0.1)``) vs the loop
  adding ``lambda * radonml.flatness.fam_penalty(module, x, y, ...)`` to each module's loss;
- ``batchnorm + fam``: both.

Also the cost of FAM against the plain step, both for radonml and for the loop. Measured side by
side in one process, interleaved, median of ``--repeats``; torch 1 thread.

    python benchmarks/bench_federated_bn_fam.py --training [--lambdas 0,0.001,0.003,0.01] [--seeds 2] [--steps 1000]

instead trains FedAvg (``PeriodicAveraging(10)``, m learners, iid, lr 0.2) with FAM's lambda in
``--lambdas`` and reports the global model's test accuracy, the relative flatness of its last
layer (exact, on the training set) and the wall time, per seed and lambda.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from torch import nn

from radonml.datasets import load_mnist1d
from radonml.federated import make_learners
from radonml.flatness import fam_penalty

torch.set_num_threads(1)
CE = nn.functional.cross_entropy


def _model(hidden, bn, seed=0):
    torch.manual_seed(seed)
    layers = [nn.Linear(40, hidden)] + ([nn.BatchNorm1d(hidden)] if bn else []) + [nn.ReLU(), nn.Linear(hidden, 10)]
    return nn.Sequential(*layers)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--training", action="store_true")
    p.add_argument("--lambdas", default="0,0.001,0.003,0.01")
    p.add_argument("--seeds", type=int, default=2)
    a = p.parse_args(argv)
    if a.training:
        return training(a)
    ds = load_mnist1d(5000)
    m, lam = a.learners, 0.1
    cases = {}
    for name, bn, fam in (("plain", False, 0.0), ("batchnorm", True, 0.0), ("fam", False, lam), ("batchnorm + fam", True, lam)):
        model = _model(a.hidden, bn)
        L = make_learners(model, ds.X_train, ds.y_train, m, lr=0.1, batch_size=32, seed=0, fam=fam)
        L.warmup()
        shards = [(L.X[o : o + n], L.y[o : o + n]) for o, n in zip(L.offsets, L.n_samples)]
        mods = [copy.deepcopy(model).train() for _ in range(m)]
        opts = [torch.optim.SGD(mm.parameters(), lr=0.1) for mm in mods]
        fam_mods = [torch.func.replace_all_batch_norm_modules_(copy.deepcopy(mm)) for mm in mods] if bn else mods
        rng = np.random.default_rng(0)
        gen = torch.Generator().manual_seed(0)

        def loop_steps(k, mods=mods, opts=opts, fam_mods=fam_mods, shards=shards, fam=fam, rng=rng, gen=gen):
            for _ in range(k):
                for mm, fm, opt, (X, y) in zip(mods, fam_mods, opts, shards):
                    idx = torch.as_tensor(rng.integers(0, len(y), 32))
                    opt.zero_grad()
                    loss = CE(mm(X[idx]), y[idx])
                    if fam:
                        # a BatchNorm module's penalty on batch statistics without touching its
                        # running statistics: a copy without them, given the module's parameters
                        loss = loss + fam * fam_penalty(fm, X[idx], y[idx], loss_fn=CE, generator=gen,
                                                        params=dict(mm.named_parameters()))
                    loss.backward()
                    opt.step()

        def vec_steps(k, L=L):
            for _ in range(k):
                L.local_step()

        loop_steps(3)
        vec_steps(3)
        cases[name] = {"vec": vec_steps, "loop": loop_steps, "d": L.d}
    res = {(c, w): [] for c in cases for w in ("vec", "loop")}
    for _ in range(a.repeats):
        for c, fns in cases.items():
            for w in ("vec", "loop"):
                t = time.perf_counter()
                fns[w](a.steps)
                res[c, w].append((time.perf_counter() - t) / a.steps * 1e3)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"m = {m}, MLP 40-{a.hidden}-10, batch 32, FAM lambda = {lam} with 1 probe on the last layer, "
          f"torch {torch.__version__}, 1 thread, median of {a.repeats} x {a.steps} steps")
    print("| one local step of all learners | d | radonml (ms) | loop over nn.Modules (ms) | speed-up |")
    print("|---|---|---|---|---|")
    for c in cases:
        print(f"| {c} | {cases[c]['d']} | {med[c, 'vec']:.2f} | {med[c, 'loop']:.2f} | {med[c, 'loop'] / med[c, 'vec']:.1f}x |")
    print()
    print("| cost relative to the plain step | radonml | loop |")
    print("|---|---|---|")
    for c in cases:
        print(f"| {c} | {med[c, 'vec'] / med['plain', 'vec']:.1f}x | {med[c, 'loop'] / med['plain', 'loop']:.1f}x |")


def training(a):
    from radonml.federated import PeriodicAveraging, make_mlp, simulate
    from radonml.flatness import relative_flatness

    ds = load_mnist1d(5000)
    lams = [float(v) for v in a.lambdas.split(",")]
    steps = a.steps if a.steps != 100 else 1000
    print(f"FedAvg (period 10), {a.learners} learners (iid), MLP 40-{a.hidden}-10, {steps} steps, lr 0.2, batch 32; "
          f"FAM on the last layer, 1 probe; torch {torch.__version__}, 1 thread")
    print("| seed | lambda | test accuracy | relative flatness of the last layer | wall time (s) |")
    print("|---|---|---|---|---|")
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    for seed in range(a.seeds):
        for lam in lams:
            L = make_learners(make_mlp(40, a.hidden, 10, seed=seed), ds.X_train, ds.y_train, a.learners, lr=0.2,
                              batch_size=32, X_test=ds.X_test, y_test=ds.y_test, seed=seed, fam=lam)
            h = simulate(PeriodicAveraging(10), L, steps=steps, steps_per_round=steps)
            kappa = relative_flatness(h.learners.module(h.final_model), (X, y), layer="2.weight", loss_fn=CE,
                                      method="exact").value
            print(f"| {seed} | {lam:g} | {h.final['accuracy']:.3f} | {kappa:.3f} | {h.final['time']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
