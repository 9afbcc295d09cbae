"""Barriers found, not sampled: ``radonml.lmc.find_barrier`` against a 1001-point and an 11-point grid.

    python benchmarks/bench_lmc_search.py                 # the table in benchmarks/lmc.md (all layers, both bases)
    python benchmarks/bench_lmc_search.py --every 4       # every 4th layer (and cumulative count) only
    python benchmarks/bench_lmc_search.py --full-only --seeds 1 2 3 4 5 6 7   # the full paths of more seeds

On the models ``radonml lmc`` trains with its defaults (same seed, same data, same training;
paths on the training split), for the whole-model path, every single-layer path (both bases)
and every cumulative path (the first c layers averaged with the rest from A, the last c with
the rest from B; barriers against the full endpoint models): the linear loss barrier from a 1001-point grid of
alphas (what a careful user would do by hand, ``radonml.lmc.evaluate_path(..., alphas=1001)``),
from the fixed 11-point grid (the default of every study), and found by
``radonml.lmc.find_barrier(..., resolution=1e-3)`` (11-point start, refined where the maximum
can lie). Errors are relative to the 1001-point grid's barrier, ``|B_x - B_1001| / s`` with
``s = max(|B_1001|, 1% of the largest loss on the path)`` (the search's own scale: single-layer
barriers into B are often exactly 0). Forward passes = points evaluated on the whole data.
One torch thread; CPU seconds from ``time.process_time``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    import torch

    from radonml import lmc
    from radonml.cli.lmc import DEFAULT_EPOCHS, DEFAULT_HIDDEN, DEFAULT_LR
    from radonml.datasets import load_digits
    from radonml.torch import make_mlp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--every", type=int, default=1, help="benchmark every k-th layer")
    ap.add_argument("--full-only", action="store_true", help="only the whole-model path of each seed")
    ap.add_argument("--resolution", type=float, default=1e-3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    depth, width = (int(v) for v in DEFAULT_HIDDEN.split("x"))
    rows, cpu = [], {"grid": 0.0, "search": 0.0}
    print(f"# MLP {depth}x{width} on digits, lr {DEFAULT_LR}, {DEFAULT_EPOCHS} epochs\n")
    print("| seed | path | barrier, 1001-point grid | 11-point grid: rel. error | found: barrier | found: rel. error "
          "| found: forward passes (1001 / that) | certified |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        ds = load_digits(seed=seed)
        a, b, _ = lmc.train_pair(lambda: make_mlp(ds.n_features, (width,) * depth, ds.n_classes,
                                                  init="kaiming_normal", seed=None),
                                 ds.X_train, ds.y_train, epochs=DEFAULT_EPOCHS, lr=DEFAULT_LR, batch_size=32, seed=seed)
        ev = lmc.classification_evaluator((torch.as_tensor(ds.X_train, dtype=torch.float32),
                                           torch.as_tensor(ds.y_train)))
        names = list(lmc.layer_groups(a))
        ends = lmc.evaluate_path(a, b, ev, alphas=[0.0, 1.0]).loss
        paths = [("full model", None, "a")]
        if not args.full_only:
            paths += [(f"layer {l} into {k.upper()}", [l], k) for l in names[::args.every] for k in "ab"]
            paths += [(f"first {c} layers, rest from A", names[:c], "a") for c in range(2, len(names))][::args.every]
            paths += [(f"last {c} layers, rest from B", names[-c:], "b") for c in range(2, len(names))][::args.every]
        grid1001 = np.linspace(0, 1, 1001)
        for name, lay, base in paths:
            c = time.process_time()
            p = lmc.evaluate_path(a, b, ev, alphas=grid1001, layers=lay, base=base)
            cpu["grid"] += time.process_time() - c
            excess = p.loss - ((1 - grid1001) * ends[0] + grid1001 * ends[1])
            b1001 = float(excess.max())
            b11 = float(excess[::100].max())  # the 11-point grid is every 100th point of the 1001
            c = time.process_time()
            s = lmc.find_barrier(a, b, ev, layers=lay, base=base, endpoints=tuple(ends), resolution=args.resolution)
            cpu["search"] += time.process_time() - c
            scale = max(abs(b1001), 0.01 * float(np.abs(p.loss).max()))
            e11, es = (b1001 - b11) / scale, abs(s.value - b1001) / scale
            rows.append((e11, es, s.n_evals, s.certified))
            print(f"| {seed} | {name} | {b1001:.6f} | {e11:.2e} | {s.value:.6f} | {es:.1e} | {s.n_evals} "
                  f"({1001 / s.n_evals:.0f}x) | {'yes' if s.certified else 'no'} |", flush=True)
    e11, es, n, ok = (np.array(v) for v in zip(*rows))
    inner = e11 > 0
    print(f"\n{inner.sum()} of {len(rows)} paths have their maximum between the 11 grid points; on those the "
          f"search took {n[inner].mean():.1f} forward passes on average, at most {int(n[inner].max()) if inner.any() else 0}.")
    print(f"{len(rows)} paths: found barriers within {es.max():.1e} (relative, largest) of the 1001-point grid's with "
          f"{int(n.max())} forward passes at most ({1001 / n.max():.0f}x fewer; mean {n.mean():.1f}, {1001 / n.mean():.0f}x); "
          f"{int(ok.sum())} of {ok.size} certified. The 11-point grid is off by up to {e11.max():.2e} "
          f"(mean {e11.mean():.2e}). CPU: 1001-point grids {cpu['grid']:.1f} s, searches {cpu['search']:.1f} s "
          f"({cpu['grid'] / cpu['search']:.0f}x).")


if __name__ == "__main__":
    main()
