"""The robust-aggregation benchmark's findings (results in benchmarks/robust.md).

    python benchmarks/bench_robust.py default      # the default grid of `radonml robust`, timed
    python benchmarks/bench_robust.py seeds        # setting (a), every attack, 3 seeds
    python benchmarks/bench_robust.py faults       # setting (a), independent faults only, 3 seeds
    python benchmarks/bench_robust.py height       # setting (a) with n = 21^2 = 441 models, 5 seeds
    python benchmarks/bench_robust.py capture      # the Radon point's capture, measured on real trees
    python benchmarks/bench_robust.py breakdown    # the breakdown points at these n and d
    python benchmarks/bench_robust.py all

Each section prints markdown (tables and the numbers quoted in robust.md); ``--json PATH``
also writes the section's RobustResult.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time

import numpy as np
from radonml import iterated_radon_point
from radonml.robust import OneShot, benchmark, fit_base_models, parse_heterogeneity, tree_capture
from radonml.robust._common import load_dataset


def _cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _report(res, title, attack_tables=()):
    print(f"## {title}\n")
    print(res.table(markdown=True))
    for setting, het, f in attack_tables:
        print(f"\n#### every attack: {setting}, {het}, f = {f}\n")
        print(res.attack_table(setting, het, f, markdown=True))
    for setting, het in res.blocks():
        rank = ", ".join(f"{a} {s:.3f}" for a, s in res.ranking(setting, het))
        print(f"\nranking ({setting}, {het}; mean over f of the worst case): {rank}")
    print(f"\n{len(res.cells)} cells, wall {res.wall_s:.0f} s, CPU {res.cpu_s:.0f} s\n")


def default(args):
    t0, c0 = time.perf_counter(), _cpu()
    res = benchmark(n_jobs=args.n_jobs)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    _report(res, "The default grid of `radonml robust`",
            [("oneshot", "iid", 2), ("oneshot", "dirichlet(0.3)", 2), ("federated", "iid", 4)])
    print(f"process wall {wall:.0f} s, CPU (this process and its workers) {cpu:.0f} s, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("\ncapture:", json.dumps([{k: c[k] for k in ("label", "counts", "captured")} for c in res.capture]))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from radonml.plot import plot_robust

        plot_robust(res, args.figure, title="Accuracy under the worst attack (synthetic; radonml robust)")
    return res


def seeds(args):
    res = benchmark(OneShot(), seeds=[0, 1, 2], n_jobs=args.n_jobs, capture=False)
    _report(res, "Setting (a), every attack, 3 seeds", [("oneshot", "iid", 6)])
    return res


def faults(args):
    res = benchmark(OneShot(), attacks=["sign_flip", "gaussian_noise", "label_flip"], seeds=[0, 1, 2],
                    attack_params={"gaussian_noise": {"sigma": 10.0}}, n_jobs=args.n_jobs, capture=False)
    _report(res, "Setting (a), independent faults only (sign flip x 4 of its own model, its own model plus "
                 "N(0, 10^2) noise, label flip), 3 seeds", [("oneshot", "iid", 6), ("oneshot", "dirichlet(0.3)", 4)])
    return res


def height(args):
    res = benchmark(OneShot(n_samples=30000, height=2),
                    aggregators=["mean", "median", "geometric_median", "krum", "multi_krum", "radon"],
                    attacks=["ipm", "alie", "sign_flip", "gaussian_noise"], fractions=[0.005, 0.01, 0.02, 0.05, 0.1],
                    heterogeneity=["iid"], seeds=[0, 1, 2, 3, 4], n_jobs=args.n_jobs, capture=False)
    _report(res, "Setting (a) at height 2: n = 441 models, 5 seeds")
    cells = [c for c in res.cells if c["aggregator"] == "radon" and c["attack"] in ("ipm", "alie")]
    print("| f | radon captured (IPM, ALIE cells) | tree_capture(f, 21, 2) |\n|---|---|---|")
    for f in sorted({c["f"] for c in cells}):
        cs = [c for c in cells if c["f"] == f]
        print(f"| {f} | {sum(c['captured'] for c in cs)}/{len(cs)} | {tree_capture(f, 21, 2, rng=0):.3f} |")
    print()
    return res


def capture(args):
    """Identical Byzantine vectors at random leaves of real Radon trees: how often is the
    iterated Radon point that vector, against the combinatorial model of tree_capture."""
    print("## The capture of the iterated Radon point, measured on real trees\n")
    print("| height | n | f | measured (real iterated Radon points) | tree_capture | draws |")
    print("|---|---|---|---|---|---|")
    for h, n_samples, fs in ((1, 12500, (1, 2, 3)), (2, 30000, (2, 4, 6, 9, 13, 22))):
        setting = OneShot(n_samples=n_samples, height=h)
        ds = load_dataset("synthetic", n_samples, 0)
        fit = fit_base_models(setting, parse_heterogeneity("iid"), ds.X_train, ds.y_train, 0)
        honest = fit.P[:, 0, :]
        n = honest.shape[0]
        b = -0.1 * honest.mean(axis=0)  # IPM's vector
        draws = args.draws
        gen = np.random.default_rng(1)
        for f in fs:
            hit = 0
            for _ in range(draws):
                X = honest.copy()
                X[gen.choice(n, size=f, replace=False)] = b
                p = iterated_radon_point(X, height=h, rng=gen, n_threads=1)
                hit += bool(np.abs(p - b).max() <= 1e-9 * max(1.0, np.abs(b).max()))
            print(f"| {h} | {n} | {f} | {hit / draws:.3f} | {tree_capture(f, setting_r(honest), h, rng=0):.3f} "
                  f"| {draws} |")
    print()


def setting_r(honest):
    return honest.shape[1] + 2


def breakdown(args):
    print("## Breakdown at these n and d\n")
    print("The largest f each rule is built to tolerate (its condition in `radonml.aggregate`, or its breakdown "
          "point), against what identical colluding vectors need to capture the Radon point.\n")
    print("| rule | condition / breakdown | n = 21, d = 19 (setting a) | n = 40, d = 38 (setting b) "
          "| n = 441, d = 19 (height 2) |\n|---|---|---|---|---|")
    rows = [
        ("mean", "breakdown 0", lambda n, d, h: 0),
        ("median, geometric median", "breakdown ⌊(n-1)/2⌋", lambda n, d, h: (n - 1) // 2),
        ("trimmed mean, MeaMed, MDA", "n ≥ 2f + 1", lambda n, d, h: (n - 1) // 2),
        ("Krum, Multi-Krum", "n ≥ 2f + 3", lambda n, d, h: (n - 3) // 2),
        ("Bulyan", "n ≥ 4f + 3", lambda n, d, h: (n - 3) // 4),
        ("Radon point (iterated, height h)", "2^h outliers, 2 per group, placed well, move it; identical ones "
         "make it theirs", lambda n, d, h: 2**h - 1),
    ]
    for name, cond, fn in rows:
        cells = []
        for n, d, h in ((21, 19, 1), (40, 38, 1), (441, 19, 2)):
            v = fn(n, d, h)
            cells.append(f"f ≤ {v} ({v / n:.1%})")
        print(f"| {name} | {cond} | " + " | ".join(cells) + " |")
    print()
    for n, h in ((21, 1), (441, 2)):
        print(f"random placement, r = 21, height {h}: P(capture) = "
              + ", ".join(f"f={f}: {tree_capture(f, 21, h, rng=0):.3f}" for f in (2, 4, 9, 13, 22) if f <= n))
    print(f"\n(C(21,2)^3 / C(441,4) = {math.comb(21, 2) ** 3 / math.comb(441, 4):.4f}: four identical vectors "
          "capture the height-2 tree only when they fall 2 + 2 into two groups)\n")


SECTIONS = {"default": default, "seeds": seeds, "faults": faults, "height": height, "capture": capture,
            "breakdown": breakdown}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("section", choices=[*SECTIONS, "all"])
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--draws", type=int, default=300, help="random placements per f (capture)")
    p.add_argument("--figure", default=None, help="PNG of the default grid's heat maps (default)")
    p.add_argument("--json", default=None, help="write the section's RobustResult here")
    args = p.parse_args()
    names = list(SECTIONS) if args.section == "all" else [args.section]
    for name in names:
        out = SECTIONS[name](args)
        if args.json and out is not None:
            out.to_json(args.json if len(names) == 1 else f"{args.json}.{name}.json")


if __name__ == "__main__":
    main()
