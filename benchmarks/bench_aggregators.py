"""Robust aggregators side by side: radonml vs ByzFL vs ByzPy, in one run (issue 10).

On the anchors' own workloads (n models x d parameters): geometric median 64 x 65,536,
Multi-Krum 80 x 65,536 (f = 20), trimmed mean and MeaMed 64 x 65,536 (f = 8),
minimum-diameter averaging 30 x 2,048 (f = 10), plus the mean and the median. Each library
runs with its own defaults on the same float64 data (ByzFL on numpy arrays, its float64 path,
and on torch tensors, which it converts to float32; ByzPy on float64 torch tensors), and each
row reports the best time of the repeats, the ratio to radonml, and the largest difference
of its output from radonml's relative to the models' scale (so "equal outputs" is measured).

Neither ByzFL nor ByzPy is a dependency of radonml: run this in a benchmark environment, e.g.

    python3 -m venv /work/venvs/byzfl
    /work/venvs/byzfl/bin/pip install byzfl==0.0.11 scipy cloudpickle
    /work/venvs/byzfl/bin/pip install --no-deps byzpy==0.1.4   # its pins are older; it runs
    PYTHONPATH=python /work/venvs/byzfl/bin/python benchmarks/bench_aggregators.py

Options: ``--repeats R`` (default 5), ``--quick`` (smaller d, for a smoke run), ``--json PATH``.
A library that is not installed is skipped. A run that exceeds ``--timeout`` seconds (default
10, as the anchor's ByzFL MDA) is stopped in its own process and reported as "> timeout".
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import time
import warnings

import numpy as np

import radonml

try:
    import byzfl as bzf  # exports the aggregator classes (Krum, MultiKrum, ...)
except ImportError:  # pragma: no cover - optional
    bzf = None
try:
    import torch

    from byzpy.aggregators.coordinate_wise.mean_of_medians import MeanOfMedians as BPMeaMed
    from byzpy.aggregators.coordinate_wise.median import CoordinateWiseMedian as BPMedian
    from byzpy.aggregators.coordinate_wise.trimmed_mean import CoordinateWiseTrimmedMean as BPTrMean
    from byzpy.aggregators.geometric_wise.geometric_median import GeometricMedian as BPGeoMed
    from byzpy.aggregators.geometric_wise.krum import MultiKrum as BPMultiKrum
    from byzpy.aggregators.geometric_wise.minimum_diameter_average import MinimumDiameterAveraging as BPMDA
except ImportError:  # pragma: no cover - optional
    BPMedian = None
try:
    import torch  # noqa: F811
except ImportError:  # pragma: no cover
    torch = None


def models(n, d, f, seed):
    """n - f honest models around a common non-zero centre, f outliers far away."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(d)
    X = centre + 0.1 * rng.standard_normal((n, d))
    if f:
        X[:f] = centre + 5.0 * rng.standard_normal((f, d))
    return X


def timed(fn, repeats):
    """Best of ``repeats`` runs (timeit's rule: on a shared machine the minimum is the
    run least disturbed by other processes)."""
    time.sleep(0.3)  # let the previous library's idle worker threads (OpenMP spin-waits) go to sleep
    out, ts = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, min(ts)


def _child(conn, fn):
    try:
        t = time.perf_counter()
        out = fn()
        conn.send((np.asarray(out, dtype=np.float64), time.perf_counter() - t))
    except Exception as exc:  # noqa: BLE001
        conn.send((None, repr(exc)))


def timed_with_timeout(fn, timeout):
    """One run in a forked process, stopped after timeout seconds."""
    time.sleep(0.3)
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(b, fn))
    p.start()
    if a.poll(timeout):
        out, t = a.recv()
        p.join()
        return out, t
    p.kill()
    p.join()
    return None, math.inf


def to_np(x):
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().double().numpy()
    return np.asarray(x, dtype=np.float64)


def workloads(quick):
    d = 4096 if quick else 65_536
    return [
        # name, n, d, f, radonml call, [(library, label, fn(X) -> vector), ...]
        ("mean", 64, d, 0, lambda X, f: radonml.aggregate(X, "mean"), [
            ("ByzFL", "Average (numpy f64)", lambda X, f: bzf.Average()(X)),
            ("ByzFL", "Average (torch f32)", lambda X, f: bzf.Average()(torch.from_numpy(X))),
        ]),
        ("median", 64, d, 0, lambda X, f: radonml.aggregate(X, "median"), [
            ("ByzFL", "Median (numpy f64)", lambda X, f: bzf.Median()(X)),
            ("ByzFL", "Median (torch f32)", lambda X, f: bzf.Median()(torch.from_numpy(X))),
            ("ByzPy", "CoordinateWiseMedian (torch f64)", lambda X, f: BPMedian().aggregate(list(torch.from_numpy(X)))),
        ]),
        ("trimmed mean", 64, d, 8, lambda X, f: radonml.aggregate(X, "trimmed_mean", f=f), [
            ("ByzFL", "TrMean (numpy f64)", lambda X, f: bzf.TrMean(f=f)(X)),
            ("ByzFL", "TrMean (torch f32)", lambda X, f: bzf.TrMean(f=f)(torch.from_numpy(X))),
            ("ByzPy", "CoordinateWiseTrimmedMean (torch f64)",
             lambda X, f: BPTrMean(f=f).aggregate(list(torch.from_numpy(X)))),
        ]),
        ("MeaMed", 64, d, 8, lambda X, f: radonml.aggregate(X, "meamed", f=f), [
            ("ByzFL", "Meamed (numpy f64)", lambda X, f: bzf.Meamed(f=f)(X)),
            ("ByzFL", "Meamed (torch f32)", lambda X, f: bzf.Meamed(f=f)(torch.from_numpy(X))),
            ("ByzPy", "MeanOfMedians (torch f64)", lambda X, f: BPMeaMed(f=f).aggregate(list(torch.from_numpy(X)))),
        ]),
        ("Multi-Krum", 80, d, 20,
         # ByzFL and ByzPy score over n - f - 1 neighbours and average n - f models
         lambda X, f: radonml.aggregate(X, "multi_krum", f=f, n_neighbours=X.shape[0] - f - 1), [
             ("ByzFL", "MultiKrum (numpy f64)", lambda X, f: bzf.MultiKrum(f=f)(X)),
             ("ByzFL", "MultiKrum (torch f32)", lambda X, f: bzf.MultiKrum(f=f)(torch.from_numpy(X))),
             ("ByzPy", "MultiKrum q=n-f (torch f64)",
              lambda X, f: BPMultiKrum(f=f, q=X.shape[0] - f).aggregate(list(torch.from_numpy(X)))),
         ]),
        ("geometric median", 64, d, 8, lambda X, f: radonml.aggregate(X, "geometric_median"), [
            ("ByzFL", "GeometricMedian T=3 (default; numpy f64)", lambda X, f: bzf.GeometricMedian()(X)),
            ("ByzFL", "GeometricMedian nu=1e-12 T=100 (numpy f64)",
             lambda X, f: bzf.GeometricMedian(nu=1e-12, T=100)(X)),
            ("ByzFL", "GeometricMedian nu=1e-12 T=100 (torch f32)",
             lambda X, f: bzf.GeometricMedian(nu=1e-12, T=100)(torch.from_numpy(X))),
            ("ByzPy", "GeometricMedian tol=1e-10 (torch f64)",
             lambda X, f: BPGeoMed(tol=1e-10, max_iter=1000).aggregate(list(torch.from_numpy(X)))),
        ]),
        ("MDA", 30, 2048, 10, lambda X, f: radonml.aggregate(X, "mda", f=f), [
            ("ByzFL", "MDA (numpy f64)", lambda X, f: bzf.MDA(f=f)(X)),
            ("ByzPy", "MinimumDiameterAveraging (torch f64)",
             lambda X, f: BPMDA(f=f).aggregate(list(torch.from_numpy(X)))),
        ]),
        ("MDA (small: all finish)", 16, 2048, 5, lambda X, f: radonml.aggregate(X, "mda", f=f), [
            ("ByzFL", "MDA (numpy f64)", lambda X, f: bzf.MDA(f=f)(X)),
            ("ByzPy", "MinimumDiameterAveraging (torch f64)",
             lambda X, f: BPMDA(f=f).aggregate(list(torch.from_numpy(X)))),
        ]),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    have = {"ByzFL": bzf is not None, "ByzPy": BPMedian is not None}
    rows = []
    print(f"radonml threads: all ({radonml._core.hardware_threads()}); torch threads: "
          f"{torch.get_num_threads() if torch is not None else '-'}; repeats: {args.repeats}")
    print(f"{'workload':<26} {'n x d':>12} {'f':>3}  {'implementation':<46} {'time':>10} {'vs radonml':>11} {'max |diff|/scale':>17}")
    for seed, (name, n, d, f, ours, others) in enumerate(workloads(args.quick)):
        X = models(n, d, f, seed)
        scale = float(np.abs(X).max())
        ref, t_ref = timed(lambda: ours(X, f), args.repeats)
        line = f"{name:<26} {f'{n} x {d}':>12} {f:>3}  "
        print(line + f"{'radonml':<46} {t_ref * 1e3:>8.2f}ms {'1.00x':>11} {'-':>17}")
        rows.append(dict(workload=name, n=n, d=d, f=f, impl="radonml", seconds=t_ref, ratio=1.0, diff=0.0))
        for lib, label, fn in others:
            if not have[lib]:
                continue
            slow = name.startswith("MDA") and n >= 24
            if slow:
                out, t = timed_with_timeout(lambda: fn(X, f), args.timeout)
            else:
                try:
                    out, t = timed(lambda: to_np(fn(X, f)), args.repeats)
                except Exception as exc:  # noqa: BLE001
                    print(line + f"{lib + ' ' + label:<46} failed: {exc!r}"[:200])
                    continue
            if out is None or not np.isfinite(t):
                print(line + f"{lib + ' ' + label:<46} {'> ' + format(args.timeout, 'g') + ' s':>10} "
                      f"{'> ' + format(args.timeout / t_ref, '.0f') + 'x':>11} {'-':>17}")
                rows.append(dict(workload=name, n=n, d=d, f=f, impl=f"{lib} {label}", seconds=None,
                                 ratio=None, diff=None))
                continue
            diff = float(np.abs(to_np(out) - ref).max()) / scale
            print(line + f"{lib + ' ' + label:<46} {t * 1e3:>8.2f}ms {t / t_ref:>10.2f}x {diff:>17.1e}")
            rows.append(dict(workload=name, n=n, d=d, f=f, impl=f"{lib} {label}", seconds=t, ratio=t / t_ref,
                             diff=diff))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
