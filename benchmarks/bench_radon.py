"""Radon-point engine benchmark: radonml against the approaches users would otherwise pick.

    python benchmarks/bench_radon.py            # full tables (~8 minutes on 2 idle cores)
    python benchmarks/bench_radon.py --quick    # smaller groups, fewer rounds
    python benchmarks/bench_radon.py --only iterated   # one table: batched, lu, groups, iterated, quality

Tables printed (markdown, pasted into benchmarks/radon.md):

1. ``radon_points`` on g groups of r = d + 2 Gaussian points against
   (a) numpy's batched SVD null vector (``np.linalg.svd`` of the stacked (g, d+1, r) matrices,
       last right-singular vector, the approach of public Radon-machine code),
   (b) least squares with one coefficient fixed (lambda_r = 1), ``np.linalg.lstsq`` per group in a
       Python loop; (b') the same square system as one batched ``np.linalg.solve``,
   (c) a cvxpy LP per group (min |lambda|_1 s.t. M lambda = 0, lambda_r = 1; a few groups, timed
       once and scaled to g groups),
   each baseline computing the Radon point from its null vector like radonml does.
   Ratios are baseline time / radonml time (all cores). radonml on 1 thread is listed too.
2. One Radon point at d >= 300: GFLOP/s, counted as the (2/3)(d+1)^3 flops of an LU of the
   (d+1)-square block, against this machine's LAPACK LU (``scipy.linalg.lu_factor``) of a
   (d+1)-square matrix, on one thread (and on all threads).
3. ``radon_points`` on groups of k = r, r + 1 and 2r - 1 points (the groups of the default tree),
   the SIMD kernel against the general path and the batched SVD, per group.
4. ``iterated_radon_point`` on 10^6 models in d = 10 against ``numpy.mean`` over the same array:
   the default tree that uses every model (``remainder="spread"``), ``"drop"`` (r^h models) and
   ``"resample"``, wall clock (all cores) and process CPU time on one thread.
5. What using every model buys: the estimation error of spread against drop (and the mean) on
   heavy-tailed least-squares models.

Timing: every method is timed in interleaved rounds (round k times all methods once) and the
best round is kept, so load from other processes hits all methods alike. Each timing repeats
its call until >= ``--min-time`` seconds have passed and reports the time per call.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import scipy
import scipy.linalg

import radonml
from radonml import _core


def per_call(fn, min_time, clock=time.perf_counter):
    """Seconds per call of fn(), repeating until min_time has passed on ``clock``."""
    fn()  # warm-up (page faults, thread start, caches)
    k, t0 = 0, clock()
    while True:
        fn()
        k += 1
        t = clock() - t0
        if t >= min_time:
            return t / k


def interleaved(methods, rounds, min_time, clock=time.perf_counter):
    """Best-of-rounds time per call for each method, the methods interleaved round by round."""
    best = {name: np.inf for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            best[name] = min(best[name], per_call(fn, min_time, clock))
    return best


def interleaved_rounds(methods, rounds, min_time, clock=time.perf_counter):
    """Time per call of each method in every round (the methods interleaved round by round)."""
    times = {name: [] for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            times[name].append(per_call(fn, min_time, clock))
    return {name: np.asarray(v) for name, v in times.items()}


def ratio_text(t, base, bold=False):
    """Median and range over rounds of t / base, each round's method against the same round's baseline."""
    r = t / base
    med = f"**{np.median(r):.2f}x**" if bold else f"{np.median(r):.2f}x"
    return f"{med} ({r.min():.2f}-{r.max():.2f})"


class _quiet_stdout:
    """Silence C-level writes to stdout (HiGHS prints a banner on its first solve)."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 1)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        os.close(self.null)


# ---------------------------------------------------------------- baselines


def point_from_lambda(G, lam):
    """Radon point of each group from a null vector (either sign): the positive part."""
    pos = np.clip(lam, 0.0, None)
    neg = np.clip(-lam, 0.0, None)
    use_neg = pos.sum(axis=1) == 0
    pos[use_neg] = neg[use_neg]
    return np.einsum("gi,gid->gd", pos, G) / pos.sum(axis=1)[:, None]


def stacked_M(G):
    g, r, d = G.shape
    return np.concatenate([G.transpose(0, 2, 1), np.ones((g, 1, r))], axis=1)  # (g, d+1, r)


def svd_radon_points(G):
    _, _, vt = np.linalg.svd(stacked_M(G), full_matrices=True)
    return point_from_lambda(G, vt[:, -1, :])


def lstsq_radon_points(G):
    g, r, d = G.shape
    M = stacked_M(G)
    lam = np.empty((g, r))
    for k in range(g):
        x = np.linalg.lstsq(M[k, :, : r - 1], -M[k, :, r - 1], rcond=None)[0]
        lam[k, : r - 1] = x
        lam[k, r - 1] = 1.0
    return point_from_lambda(G, lam)


def solve_radon_points(G):
    g, r, d = G.shape
    M = stacked_M(G)
    x = np.linalg.solve(M[:, :, : r - 1], -M[:, :, r - 1 :])[..., 0]
    return point_from_lambda(G, np.concatenate([x, np.ones((g, 1))], axis=1))


def cvxpy_radon_points(G):
    import cvxpy as cp

    g, r, d = G.shape
    M = stacked_M(G)
    lam = np.empty((g, r))
    for k in range(g):
        v = cp.Variable(r)
        prob = cp.Problem(cp.Minimize(cp.norm1(v)), [M[k] @ v == 0, v[r - 1] == 1])
        prob.solve(solver=cp.HIGHS if "HIGHS" in cp.installed_solvers() else None)
        lam[k] = v.value
    return point_from_lambda(G, lam)


# ---------------------------------------------------------------- tables


def table_batched(args):
    rng = np.random.default_rng(0)
    # g chosen so that the SVD baseline takes roughly 0.2-0.6 s per call on this machine
    sizes = {2: 100_000, 10: 20_000, 50: 1_000, 100: 250, 300: 12}
    cvx_groups = {2: 4, 10: 4, 50: 2, 100: 1, 300: 1}
    if args.dims:
        sizes = {d: sizes[d] for d in args.dims}
    if args.quick:
        sizes = {d: max(1, g // 10) for d, g in sizes.items()}
        cvx_groups = {d: max(1, g // 2) for d, g in cvx_groups.items()}
    rows = []
    for d, g in sizes.items():
        r = d + 2
        G = rng.standard_normal((g, r, d))
        ref = radonml.radon_points(G)
        sub = G[: cvx_groups[d]]
        checks = {
            "svd": svd_radon_points(G),
            "lstsq": lstsq_radon_points(G),
            "solve": solve_radon_points(G),
        }
        scale = np.abs(G).max()
        err = {k: float(np.max(np.abs(v - ref)) / scale) for k, v in checks.items()}
        try:  # one timed call (it is slow); the time is scaled to g groups
            with _quiet_stdout():
                cvxpy_radon_points(sub[:1])  # warm-up: imports, solver start
                t0 = time.perf_counter()
                cvx = cvxpy_radon_points(sub)
                t_cvx = (time.perf_counter() - t0) * g / sub.shape[0]
            err["cvxpy"] = float(np.max(np.abs(cvx - ref[: sub.shape[0]])) / scale)
        except Exception as exc:  # cvxpy missing or solver failure: report, don't die
            print(f"cvxpy baseline skipped at d={d}: {exc}", file=sys.stderr)
            t_cvx = None
        methods = {
            "radonml": lambda: radonml.radon_points(G),
            "radonml_1t": lambda: radonml.radon_points(G, n_threads=1),
            "svd": lambda: svd_radon_points(G),
            "lstsq": lambda: lstsq_radon_points(G),
            "solve": lambda: solve_radon_points(G),
        }
        t = interleaved(methods, args.rounds, args.min_time)
        if t_cvx is not None:
            t["cvxpy"] = t_cvx
        # single-threaded CPU time (process_time), which other processes on a shared machine
        # barely disturb: the work ratio per core
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            cpu = interleaved(
                {"radonml_1t": lambda: radonml.radon_points(G, n_threads=1), "svd": lambda: svd_radon_points(G)},
                args.rounds,
                args.min_time,
                clock=time.process_time,
            )
        t["cpu_ratio"] = cpu["svd"] / cpu["radonml_1t"]
        rows.append((d, g, t, err))
        print(f"  d={d:>3} g={g:>6}: radonml {t['radonml']*1e3:.2f} ms, svd {t['svd']/t['radonml']:.1f}x", file=sys.stderr)
    lines = [
        "| d | g groups | radonml, all cores | radonml, 1 thread | (a) SVD | (a) SVD, CPU time / radonml 1 thread | (b) lstsq loop | (b') batched solve | (c) cvxpy LP* | max point diff vs radonml |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d, g, t, err in rows:
        base = t["radonml"]

        def cell(k):
            if k not in t:
                return "n/a"
            return f"{t[k]*1e3:,.1f} ms (**{t[k]/base:,.0f}x**)" if k != "radonml_1t" else f"{t[k]*1e3:,.1f} ms ({t[k]/base:.2f}x)"

        lines.append(
            f"| {d} | {g:,} | {base*1e3:,.1f} ms ({base/g*1e6:,.2f} us/point) | {cell('radonml_1t')} | {cell('svd')} | "
            f"**{t['cpu_ratio']:,.0f}x** | "
            f"{cell('lstsq')} | {cell('solve')} | {cell('cvxpy')} | {max(err.values()):.1e} |"
        )
    lines.append("")
    lines.append(
        "Ratios in bold: baseline time / radonml time (all cores), wall clock; the SVD CPU-time column "
        "compares single-threaded process CPU time (BLAS limited to 1 thread), which load from other "
        "processes barely moves. *cvxpy: timed on "
        + ", ".join(f"{cvx_groups[d]} group(s) at d={d}" for d in sizes)
        + ", scaled to g groups. Point diff: max |baseline - radonml| / max |input| over the groups checked."
    )
    return "\n".join(lines)


def table_lu(args):
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(1)
    lines = [
        "| d | one radon_point call | per point, 1-thread batch | LAPACK LU, 1 thread | LAPACK LU, all threads | radon_point / LU (1 thread) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for d in (300, 600):
        n = d + 1
        flops = 2.0 / 3.0 * n**3
        P = rng.standard_normal((d + 2, d))
        B = rng.standard_normal((4, d + 2, d))
        A = np.asfortranarray(rng.standard_normal((n, n)))
        methods = {
            "one": lambda: radonml.radon_point(P),
            "batch": lambda: _core.radon_points(B, 1),
        }
        with threadpool_limits(1):
            methods["lu1"] = lambda: scipy.linalg.lu_factor(A)
            t = interleaved(methods, args.rounds, args.min_time / 2)
        t["lu_all"] = interleaved({"lu_all": lambda: scipy.linalg.lu_factor(A)}, args.rounds, args.min_time / 2)["lu_all"]
        t["batch"] /= B.shape[0]

        def gf(k):
            return f"{t[k]*1e3:.2f} ms = {flops/t[k]/1e9:.1f} GFLOP/s"

        lines.append(f"| {d} | {gf('one')} | {gf('batch')} | {gf('lu1')} | {gf('lu_all')} | {t['one']/t['lu1']:.2f}x the time |")
        print(f"  d={d}: radon {flops/t['one']/1e9:.1f} GF/s, LU {flops/t['lu1']/1e9:.1f} GF/s", file=sys.stderr)
    lines.append("")
    lines.append(
        "GFLOP/s counted as (2/3)(d+1)^3 for both (the flops of the LU; a Radon point also normalizes the "
        "points, solves, checks the residual and forms the point). A Radon point runs on one thread; "
        "batches run one point per thread."
    )
    return "\n".join(lines)


def table_groups(args):
    """radon_points on groups of k = r .. 2r - 1 points (the spread tree's groups): the SIMD
    kernel against the general path and the batched SVD, per group."""
    rng = np.random.default_rng(3)
    d = 10
    g = 20_000 if not args.quick else 4_000
    lines = [
        f"| k points per group (d = {d}) | radonml, 1 thread | general path (no SIMD kernel), 1 thread | (a) SVD | SVD / radonml |",
        "|---:|---:|---:|---:|---:|",
    ]
    for k in (d + 2, d + 3, 2 * d + 3):
        G = rng.standard_normal((g, k, d))
        methods = {
            "kernel": lambda: _core.radon_points(G, 1),
            "general": lambda: _core.radon_points(G, 1, _core.RadonSolver.fast_lu, False),
            "svd": lambda: svd_radon_points(G),
        }
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            t = interleaved(methods, args.rounds, args.min_time, clock=time.process_time)
        us = {key: v / g * 1e6 for key, v in t.items()}
        lines.append(
            f"| {k} | {us['kernel']:.3f} us/group | {us['general']:.3f} us/group ({t['general']/t['kernel']:.1f}x) | "
            f"{us['svd']:.2f} us/group | **{t['svd']/t['kernel']:.0f}x** |"
        )
    lines.append("")
    lines.append(
        f"{g:,} groups of Gaussian points, process CPU time on one thread (BLAS limited to one thread), best of "
        f"{args.rounds} interleaved rounds. The SVD baseline takes the last right-singular vector (a different, "
        "equally valid null vector for k > d + 2)."
    )
    return "\n".join(lines)


def table_iterated(args):
    import warnings

    from radonml.radon import _leaves, radon_tree

    rng = np.random.default_rng(2)
    n, d = (10**6, 10) if not args.quick else (2 * 10**5, 10)
    X = rng.standard_normal((n, d))
    r = d + 2
    tree = radon_tree(n, d)
    drop = radon_tree(n, d, remainder="drop")
    res = radon_tree(n, d, remainder="resample")
    groups = np.asarray(tree.groups, dtype=np.int64)
    leaves = _leaves(n, r, tree.height, "spread", np.random.default_rng(0))

    def dropped():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return radonml.iterated_radon_point(X, rng=0, remainder="drop")

    methods = {
        "mean": lambda: np.mean(X, axis=0),
        "spread": lambda: radonml.iterated_radon_point(X, rng=0),
        "perm": lambda: _core.random_permutation(n, 12345, 0),
        "core": lambda: _core.iterated_radon_point(X, leaves, groups, 0),
        "drop": dropped,
        "resample": lambda: radonml.iterated_radon_point(X, rng=0, remainder="resample"),
        "median": lambda: np.median(X, axis=0),
    }
    t = interleaved_rounds(methods, args.rounds * 2, args.min_time)

    # process CPU time on one thread: the work per core, which load from other processes moves less
    def dropped_1t():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return radonml.iterated_radon_point(X, rng=0, remainder="drop", n_threads=1)

    from radonml._validation import as_float_array

    cpu = interleaved_rounds(
        {
            "mean": lambda: np.mean(X, axis=0),
            "spread": lambda: radonml.iterated_radon_point(X, rng=0, n_threads=1),
            "validate": lambda: as_float_array(X, "points", ndim=2),
            "perm": lambda: _core.random_permutation(n, 12345, 1),
            "core": lambda: _core.iterated_radon_point(X, leaves, groups, 1),
            "drop": dropped_1t,
        },
        args.rounds * 2,
        args.min_time,
        clock=time.process_time,
    )
    base, cbase = t["mean"], cpu["mean"]

    def levels(tr):
        return " / ".join(f"{g:,}x{lo}" if lo == hi else f"{g:,}x{lo}-{hi}" for g, (lo, hi) in zip(tr.groups, tr.group_sizes))

    def ms(v):
        return f"{np.median(v) * 1e3:.1f} ms"

    lines = [
        "| method | time (all cores, wall) | / numpy.mean, wall | 1 thread, CPU time | / numpy.mean CPU time |",
        "|---|---:|---:|---:|---:|",
        f"| `numpy.mean(X, axis=0)` | {ms(base)} | 1.00x | {ms(cbase)} | 1.00x |",
        f"| `iterated_radon_point(X, rng=0)` (default `remainder='spread'`: every one of the {n:,} models, h = {tree.height}, "
        f"groups {levels(tree)}) | {ms(t['spread'])} | {ratio_text(t['spread'], base, True)} | {ms(cpu['spread'])} "
        f"| {ratio_text(cpu['spread'], cbase, True)} |",
        f"| &nbsp;&nbsp;of which validating the input (`isfinite`, one thread) | | | {ms(cpu['validate'])} | {ratio_text(cpu['validate'], cbase)} |",
        f"| &nbsp;&nbsp;of which the leaf permutation (`_core.random_permutation`) | {ms(t['perm'])} | {ratio_text(t['perm'], base)} "
        f"| {ms(cpu['perm'])} | {ratio_text(cpu['perm'], cbase)} |",
        f"| &nbsp;&nbsp;of which the compiled tree (`_core.iterated_radon_point`) | {ms(t['core'])} | {ratio_text(t['core'], base)} "
        f"| {ms(cpu['core'])} | {ratio_text(cpu['core'], cbase)} |",
        f"| `iterated_radon_point(X, rng=0, remainder='drop')` (h = {drop.height}: {drop.n_used:,} of the {n:,} models, "
        f"{drop.n_left_out:,} left out) | {ms(t['drop'])} | {ratio_text(t['drop'], base)} | {ms(cpu['drop'])} | {ratio_text(cpu['drop'], cbase)} |",
        f"| `iterated_radon_point(X, rng=0, remainder='resample')` (h = {res.height}: every model, {res.n_leaves:,} leaves) "
        f"| {ms(t['resample'])} | {ratio_text(t['resample'], base)} | | |",
        f"| `numpy.median(X, axis=0)` (for scale) | {ms(t['median'])} | {ratio_text(t['median'], base)} | | |",
        "",
        f"Times are medians over {len(base)} interleaved rounds (each round times every method once, repeating each call for "
        f">= {args.min_time} s); ratios are the median and, in parentheses, the range over rounds of each round's time "
        "divided by the same round's `numpy.mean`. numpy.mean runs on one thread; radonml on all cores (wall columns) "
        "or one thread (CPU columns). On two otherwise idle cores the default would take about validate + (permutation + "
        f"tree) / 2 = {(np.median(cpu['validate']) + (np.median(cpu['perm']) + np.median(cpu['core'])) / 2) / np.median(cbase):.2f}x "
        "numpy.mean (the permutation and the tree run on all cores, the validation on one).",
    ]
    return "\n".join(lines)


def table_quality(args):
    """What using every model buys: estimation error and tail probability of the tree on
    heavy-tailed least-squares models, spread (every model) against drop (r^h of them)."""
    import warnings

    d, n, trials = 3, 3000, 300 if not args.quick else 60
    rng = np.random.default_rng(4)
    w_star = np.linspace(1.0, -2.0, d)
    errs = {"spread": [], "drop": [], "mean": []}
    for k in range(trials):
        Xs = rng.standard_normal((n, 12, d))
        y = Xs @ w_star + rng.standard_t(1.5, size=(n, 12))
        W = np.linalg.solve(np.einsum("nmi,nmj->nij", Xs, Xs), np.einsum("nmi,nm->ni", Xs, y)[..., None])[..., 0]
        errs["spread"].append(np.sum((radonml.iterated_radon_point(W, rng=k) - w_star) ** 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errs["drop"].append(np.sum((radonml.iterated_radon_point(W, rng=k, remainder="drop") - w_star) ** 2))
        errs["mean"].append(np.sum((W.mean(axis=0) - w_star) ** 2))
    from radonml.radon import radon_tree

    lines = [
        f"| aggregate of {n:,} models in R^{d} | models used | median squared error | 90% quantile | 99% quantile |",
        "|---|---:|---:|---:|---:|",
    ]
    used = {"spread": radon_tree(n, d).n_used, "drop": radon_tree(n, d, remainder="drop").n_used, "mean": n}
    for key, label in (("spread", "`iterated_radon_point` (spread, default)"), ("drop", "`iterated_radon_point(remainder='drop')`"), ("mean", "`numpy.mean`")):
        e = np.array(errs[key])
        lines.append(f"| {label} | {used[key]:,} | {np.median(e):.2e} | {np.quantile(e, 0.9):.2e} | {np.quantile(e, 0.99):.2e} |")
    lines.append("")
    lines.append(
        f"{trials} repetitions; each model is least squares on 12 examples with Student-t (1.5 degrees of freedom) "
        "noise, so single models have heavy tails; squared error |w - w*|^2 of the aggregate."
    )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller problems and fewer rounds")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (default 5, quick 2)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per timing (default 0.2, quick 0.05)")
    ap.add_argument("--only", choices=["batched", "lu", "groups", "iterated", "quality"], default=None)
    ap.add_argument("--dims", type=int, nargs="+", choices=[2, 10, 50, 100, 300], default=None, help="dimensions of the first table")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 4)
    args.min_time = args.min_time or (0.05 if args.quick else 0.2)
    try:
        import threadpoolctl

        blas = ", ".join(f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)" for i in threadpoolctl.threadpool_info())
    except Exception:
        blas = "unknown"
    print(
        f"radonml {radonml.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), BLAS: {blas}, "
        f"load average at start {os.getloadavg()[0]:.1f}\n"
    )
    if args.only in (None, "batched"):
        print("### radon_points vs SVD, least squares, LP\n")
        print(table_batched(args), "\n", flush=True)
    if args.only in (None, "lu"):
        print("### One Radon point vs LAPACK LU (GFLOP/s)\n")
        print(table_lu(args), "\n", flush=True)
    if args.only in (None, "groups"):
        print("### radon_points on groups of r to 2r - 1 points\n")
        print(table_groups(args), "\n", flush=True)
    if args.only in (None, "iterated"):
        print("### iterated_radon_point vs numpy.mean on 10^6 models in d = 10\n")
        print(table_iterated(args), "\n", flush=True)
    if args.only in (None, "quality"):
        print("### Every model against drop: estimation error\n")
        print(table_quality(args), "\n", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
