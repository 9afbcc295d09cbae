"""Benchmarks of radonml's linear-mode-connectivity paths against the loops users write.

    python benchmarks/bench_lmc.py            # the sizes of benchmarks/lmc.md
    python benchmarks/bench_lmc.py --quick    # small sizes, a few seconds

Three comparisons, each timed side by side in one process (best of ``--repeat`` runs):

1. ``radonml.lmc.linear.path_metrics`` (logistic loss, n x d data, 101 alphas) against a per-alpha
   numpy loop, a per-alpha torch loop, and one pass of ``X @ [w_a, w_b]`` (the memory-bound floor).
2. ``radonml.lmc.deep_linear.exact_barrier`` against evaluating a 1001-point grid with torch.
3. ``radonml.lmc.evaluate_path`` (vmap over 11 alphas) against the deep-copy-and-load_state_dict loop
   of public LMC code, on an MLP (``radonml.torch.make_mlp``, seeded uniform fan-in initialization).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def bench_linear(n, d, m, repeat, numpy_alphas):
    import torch

    from radonml.lmc import linear

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    wa, wb = rng.standard_normal(d) / np.sqrt(d), rng.standard_normal(d) / np.sqrt(d)
    alphas = np.linspace(0, 1, m)
    W = np.stack([wa, wb], axis=1)

    def numpy_loop(al):
        return np.array([np.mean(np.logaddexp(0.0, -y * (X @ ((1 - a) * wa + a * wb)))) for a in al])

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    wat, wbt = torch.from_numpy(wa), torch.from_numpy(wb)

    def torch_loop(al):
        with torch.no_grad():
            return np.array([float(torch.nn.functional.softplus(-yt * (Xt @ ((1 - a) * wat + a * wbt))).mean())
                             for a in al])

    t_ours, p = best_of(lambda: linear.path_metrics(X, y, wa, wb, alphas, loss="logistic"), repeat)
    t_mm, _ = best_of(lambda: X @ W, repeat)
    sub = alphas[np.linspace(0, m - 1, numpy_alphas).astype(int)] if numpy_alphas < m else alphas
    t_np, ref = best_of(lambda: numpy_loop(sub), 1)
    t_np *= m / len(sub)
    t_torch, ref_t = best_of(lambda: torch_loop(sub), 1)
    t_torch *= m / len(sub)
    idx = np.searchsorted(alphas, sub)
    err = max(np.max(np.abs(p.loss[idx] - ref) / ref), np.max(np.abs(p.loss[idx] - ref_t) / ref_t))
    scaled = "" if len(sub) == m else f" (timed on {len(sub)} alphas, scaled to {m})"
    return [
        ("path_metrics, logistic", f"n={n}, d={d}, {m} alphas", t_ours, 1.0, f"max rel. diff {err:.1e}"),
        ("numpy loop: X @ w(alpha), logaddexp", "", t_np, t_np / t_ours, "per alpha" + scaled),
        ("torch loop: X @ w(alpha), softplus", "", t_torch, t_torch / t_ours, "per alpha" + scaled),
        ("one pass X @ [w_a, w_b] (floor)", "", t_mm, t_mm / t_ours, "numpy/BLAS"),
    ]


def bench_dln(n, dims, repeat):
    import torch

    from radonml.lmc import deep_linear

    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, dims[0]))
    wa = deep_linear.init_weights(dims, rng=1)
    # B computes the same function as A (layer rescalings whose product is 1), so both fit Y
    # exactly and the path between them has a barrier (the construction of deep_linear.toy_example)
    scales = [3.0, 1 / 3.0, 2.0, 0.5, 1.5, 1 / 1.5][: len(wa)]
    scales[-1] = 1.0 / np.prod(scales[:-1])
    wb = [c * w for c, w in zip(scales, wa)]
    Y = X
    for w in wa:
        Y = Y @ w
    t_ours, eb = best_of(lambda: deep_linear.exact_barrier(X, Y, wa, wb, kind="linear"), repeat)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    wat = [torch.from_numpy(w) for w in wa]
    wbt = [torch.from_numpy(w) for w in wb]

    def grid():
        al = torch.linspace(0, 1, 1001, dtype=torch.float64)
        vals = torch.empty(1001, dtype=torch.float64)
        with torch.no_grad():
            for i, a in enumerate(al):
                out = Xt
                for p, q in zip(wat, wbt):
                    out = out @ ((1 - a) * p + a * q)
                vals[i] = ((out - Yt) ** 2).sum() / n
        la, lb = vals[0], vals[-1]
        return float((vals - ((1 - al) * la + al * lb)).max())

    t_grid, gb = best_of(grid, 1)
    return [
        ("deep_linear.exact_barrier (linear)", f"n={n}, dims={list(dims)}", t_ours, 1.0, f"barrier {eb.value:.10g}"),
        ("torch loop over a 1001-point grid", "", t_grid, t_grid / t_ours,
         f"grid barrier {gb:.10g} (exact - grid = {eb.value - gb:.1e})"),
    ]


def bench_evaluate_path(n, d, hidden, k, repeat):
    import torch
    from torch import nn

    from radonml import lmc
    from radonml.torch import make_mlp

    a, b = make_mlp(d, hidden, k, seed=0), make_mlp(d, hidden, k, seed=1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    ev = lmc.classification_evaluator((X, y), batch_size=1024)
    alphas = np.linspace(0, 1, 11)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=256)
    ev_loader = lmc.classification_evaluator(loader)

    def public_loop(batches):  # what public LMC code does: a fresh model per alpha, data iterated per alpha
        out = []
        sa, sb = a.state_dict(), b.state_dict()
        for al in alphas:
            m = copy.deepcopy(a)
            m.load_state_dict({key: (1 - al) * sa[key] + al * sb[key] for key in sa})
            m.eval()
            loss, correct = 0.0, 0
            with torch.no_grad():
                for xb, yb in batches():
                    o = m(xb)
                    loss += float(nn.functional.cross_entropy(o, yb, reduction="sum"))
                    correct += int((o.argmax(1) == yb).sum())  # accuracy too, as evaluate_path computes it
            out.append(loss / n)
        return np.array(out)

    def tensor_batches():
        return ((X[i:i + 1024], y[i:i + 1024]) for i in range(0, n, 1024))

    t_ours, p = best_of(lambda: lmc.evaluate_path(a, b, ev, alphas=alphas), repeat)
    t_ref, ref = best_of(lambda: public_loop(tensor_batches), repeat)
    t_ours_l, pl = best_of(lambda: lmc.evaluate_path(a, b, ev_loader, alphas=alphas), repeat)
    t_ref_l, ref_l = best_of(lambda: public_loop(lambda: loader), repeat)
    err = np.max(np.abs(p.loss - ref) / ref)
    err_l = np.max(np.abs(pl.loss - ref_l) / ref_l)
    prob = f"MLP {d}-{'-'.join(map(str, hidden))}-{k}, n={n}, 11 alphas"
    return [
        (f"lmc.evaluate_path ({p.method}), tensors", prob, t_ours, 1.0, f"max rel. diff {err:.1e}"),
        ("deepcopy + load_state_dict loop, tensors", "batches of 1024", t_ref, t_ref / t_ours, "public LMC code"),
        (f"lmc.evaluate_path ({pl.method}), DataLoader", prob, t_ours_l, 1.0, f"max rel. diff {err_l:.1e}"),
        ("deepcopy + load_state_dict, DataLoader", "batch_size=256", t_ref_l, t_ref_l / t_ours_l,
         "public LMC code"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--numpy-alphas", type=int, default=101,
                    help="alphas actually timed in the per-alpha loops (scaled to 101)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for the evaluate_path comparison, both sides (default 1: stable on shared cores)")
    ap.add_argument("--only", choices=("linear", "dln", "evaluate_path"), nargs="+",
                    default=["linear", "dln", "evaluate_path"])
    args = ap.parse_args(argv)
    import torch

    import radonml

    rows = []
    if "linear" in args.only:
        rows += bench_linear(20_000 if args.quick else 1_000_000, 100, 101, args.repeat, args.numpy_alphas)
    if "dln" in args.only:
        rows += (bench_dln(2_000, (20, 32, 32, 32, 5), args.repeat) if args.quick
                 else bench_dln(20_000, (50, 100, 100, 100, 10), args.repeat))
    if "evaluate_path" in args.only:
        torch.set_num_threads(args.threads)
        rows += bench_evaluate_path(2_000 if args.quick else 4_000, 40, (128, 128, 128), 10, args.repeat)
    print(f"radonml {radonml.__version__}, torch {torch.__version__} (evaluate_path rows: {args.threads} thread(s)), "
          f"numpy {np.__version__}")
    print(f"| {'method':<40} | {'problem':<42} | {'time (s)':>9} | {'time / radonml':>14} | notes |")
    print(f"|{'-' * 42}|{'-' * 44}|{'-' * 11}|{'-' * 16}|-------|")
    for name, prob, t, ratio, note in rows:
        print(f"| {name:<40} | {prob:<42} | {t:>9.4f} | {ratio:>13.2f}x | {note} |")


if __name__ == "__main__":
    main()
