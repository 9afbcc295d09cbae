"""Speed of radonml.federated's vectorized learners against the loop users would otherwise write.

    python benchmarks/bench_federated_speed.py [--learners 10] [--hidden 64] [--steps 300] [--repeats 3]

One local SGD step (batch 32) of m MLP learners on mnist1d:

- radonml: ``Learners.local_step()`` (one ``vmap(grad(...))`` over the (m, d) parameter matrix);
- loop: m ``nn.Module`` copies, each with its own ``torch.optim.SGD``, forward/backward/step in
  a Python loop (what FedAvg tutorials do);

and one averaging step (mean of the m models, written back into every learner): radonml's
``PeriodicAveraging(period=1)`` minus the local step, against averaging the m ``state_dict``s.
Measured side by side in one process, interleaved, median of ``--repeats``; torch 1 thread.
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
from radonml.federated import make_learners, make_mlp

torch.set_num_threads(1)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    ds = load_mnist1d(5000)
    m = a.learners
    model = make_mlp(40, a.hidden, 10, seed=0)
    L = make_learners(model, ds.X_train, ds.y_train, m, lr=0.1, batch_size=32, seed=0)
    L.warmup()
    # the loop baseline on the very same shards
    shards = []
    for i in range(m):
        o, n = L.offsets[i], L.n_samples[i]
        shards.append((L.X[o : o + n], L.y[o : o + n]))
    mods = [copy.deepcopy(model) for _ in range(m)]
    opts = [torch.optim.SGD(mm.parameters(), lr=0.1) for mm in mods]
    rng = np.random.default_rng(0)

    def loop_steps(k):
        for _ in range(k):
            for mm, opt, (X, y) in zip(mods, opts, shards):
                idx = torch.as_tensor(rng.integers(0, len(y), 32))
                opt.zero_grad()
                nn.functional.cross_entropy(mm(X[idx]), y[idx]).backward()
                opt.step()

    def vec_steps(k):
        for _ in range(k):
            L.local_step()

    def loop_avg(k):
        for _ in range(k):
            sds = [mm.state_dict() for mm in mods]
            avg = {key: torch.stack([sd[key] for sd in sds]).mean(0) for key in sds[0]}
            for mm in mods:
                mm.load_state_dict(avg)

    def vec_avg(k):
        for _ in range(k):
            L.theta[:] = L.theta.mean(0)

    res = {"vec": [], "loop": [], "vec_avg": [], "loop_avg": []}
    loop_steps(5)
    for _ in range(a.repeats):
        for name, fn in (("vec", vec_steps), ("loop", loop_steps), ("vec_avg", vec_avg), ("loop_avg", loop_avg)):
            t = time.perf_counter()
            fn(a.steps)
            res[name].append((time.perf_counter() - t) / a.steps * 1e3)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"m = {m}, MLP 40-{a.hidden}-10 (d = {L.d}), batch 32, torch {torch.__version__}, 1 thread, median of {a.repeats}")
    print("| operation | radonml (ms) | loop over nn.Modules (ms) | speed-up |")
    print("|---|---|---|---|")
    print(f"| one local SGD step of all learners | {med['vec']:.3f} | {med['loop']:.3f} | {med['loop'] / med['vec']:.1f}x |")
    print(f"| average all models, send back | {med['vec_avg']:.3f} | {med['loop_avg']:.3f} | {med['loop_avg'] / med['vec_avg']:.1f}x |")


if __name__ == "__main__":
    main()
