"""Experiments with the scikit-learn Radon machine (issue 5); results in benchmarks/sklearn.md.

Each subcommand prints a Markdown table and takes a few minutes on 2 cores:

    python benchmarks/experiments_sklearn.py svc          # superlinear base learner: SVC(kernel="linear")
    python benchmarks/experiments_sklearn.py linear       # LogisticRegression / SGD on 10^6 rows, 1 vs 2 workers
    python benchmarks/experiments_sklearn.py robustness   # AUC against K corrupted base models
    python benchmarks/experiments_sklearn.py confidence   # spread of AUC over seeds (5th percentile)
    python benchmarks/experiments_sklearn.py memory       # 10^7 x 18 float64 through fit(n_jobs=2): peak memory
    python benchmarks/experiments_sklearn.py kernel       # kernel Radon machine vs SVC(kernel="rbf"), times as n grows
    python benchmarks/experiments_sklearn.py tradeoff     # kernel Radon machine: feature dimension against height
    python benchmarks/experiments_sklearn.py files        # radonml.datasets.load_table against numpy/scikit-learn readers

All times are wall-clock seconds measured side by side in one process; the worker pool is
started (warm) before timing, as it is on a running cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from radonml.datasets import load_spheres, load_synthetic, make_synthetic
from radonml.sklearn import RadonMachineClassifier, aggregate_parameters, linear_decision


def _fit_clone(base, X, y):
    return clone(base).fit(X, y)


def _warm(n_jobs, base, X, y):
    m = min(200, len(y))
    Parallel(n_jobs=n_jobs)(delayed(_fit_clone)(base, X[:m], y[:m]) for _ in range(4 * n_jobs))


def _auc_of_parameters(rows, X, y):
    """Test AUC of a binary linear model given as parameter rows (1, p + 1)."""
    return roc_auc_score(y, linear_decision(rows, X)[:, 0])


def _auc(est, X, y):
    return roc_auc_score(y, est.decision_function(X))


def _central(base, ds):
    """Central fit, timed with the default number of BLAS threads and with one; the faster
    counts (on a busy machine multi-threaded BLAS is often slower for these problems)."""
    times = []
    for limit in (None, 1):
        with threadpool_limits(limits=limit):
            t0 = time.perf_counter()
            c = clone(base).fit(ds.X_train, ds.y_train)
            times.append(time.perf_counter() - t0)
    return min(times), _auc(c, ds.X_test, ds.y_test)


def _rm(base, ds, height, n_jobs, seed=0, aggregation="radon"):
    # one BLAS thread in this process, as joblib gives each of its workers
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        rm = RadonMachineClassifier(base, height=height, n_jobs=n_jobs, random_state=seed, aggregation=aggregation)
        rm.fit(ds.X_train, ds.y_train)
        return time.perf_counter() - t0, _auc(rm, ds.X_test, ds.y_test), rm


# ----------------------------------------------------------------------------- svc


def exp_svc(args):
    base = SVC(kernel="linear")
    print(f"SVC(kernel='linear'), synthetic 18 features, test set 20%, n_jobs={args.n_jobs}\n")
    print("| n_train | central [s] | central AUC | h | models | rows/part | RM [s] | RM AUC | ΔAUC | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ds0 = load_synthetic(1000, seed=0)
    _warm(args.n_jobs, base, ds0.X_train, ds0.y_train)
    for n_train in args.sizes:
        ds = load_synthetic(int(n_train / 0.8), seed=args.seed)
        tc, ac = _central(base, ds)
        for h in (1, 2):
            t, a, rm = _rm(base, ds, h, args.n_jobs, args.seed)
            print(f"| {len(ds.y_train)} | {tc:.2f} | {ac:.4f} | {h} | {rm.n_models_} | {len(ds.y_train) // rm.n_models_} "
                  f"| {t:.2f} | {a:.4f} | {a - ac:+.4f} | {tc / t:.1f}× |", flush=True)


# ----------------------------------------------------------------------------- linear


def _cpu_seconds():
    """CPU seconds (user + system) of this process and its live children (the joblib workers)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for c in me.children(recursive=True):
        try:
            total += sum(c.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def _burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def _calibration_efficiency(seconds=1.5):
    """Parallel efficiency 1 -> 2 workers of pure-Python CPU tasks (no data), right now: the
    most any parallel code can reach on this machine at this moment (others' load included)."""
    t0 = time.perf_counter()
    _burn(200_000)
    n = int(200_000 * seconds / 8 / max(time.perf_counter() - t0, 1e-6))
    wall = {}
    for nj in (1, 2):
        t0 = time.perf_counter()
        Parallel(n_jobs=nj)(delayed(_burn)(n) for _ in range(8))
        wall[nj] = time.perf_counter() - t0
    return wall[1] / (2 * wall[2])


def exp_linear(args):
    n = args.n_train
    ds = load_synthetic(int(n * 1.2), test_size=1 / 6, seed=args.seed)
    print(f"synthetic 18 features, {len(ds.y_train)} training rows, {len(ds.y_test)} test rows; "
          f"best of {args.repeats} runs per row\n")
    print("| learner | method | models | workers | wall [s] | CPU [s] | AUC | ΔAUC vs central | "
          "wall ratio to central | parallel efficiency 1→2 (wall) | same for pure-CPU tasks, same moment | "
          "work ratio 1→2 (CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, base in [("LogisticRegression", LogisticRegression()), ("SGDClassifier", SGDClassifier(random_state=0))]:
        _warm(2, base, ds.X_train, ds.y_train)
        tc, ac = _central(base, ds)
        print(f"| {name} | central | 1 | 1 | {tc:.2f} | | {ac:.4f} | | 1.00 | | | |", flush=True)
        for h in args.heights:
            wall, cpu, auc = {}, {}, {}
            cal = _calibration_efficiency()
            for nj in (1, 2):
                best = None
                for _ in range(args.repeats):
                    c0 = _cpu_seconds()
                    _, a, rm = _rm(base, ds, h, nj, args.seed)
                    c1 = _cpu_seconds()
                    t = rm.fit_time_ + rm.aggregate_time_
                    if best is None or t < best[0]:
                        best = (t, c1 - c0)
                wall[nj], cpu[nj], auc[nj] = best[0], best[1], a
            for nj in (1, 2):
                eff = f"{wall[1] / (2 * wall[2]):.0%}" if nj == 2 else ""
                work = f"{cpu[1] / cpu[2]:.0%}" if nj == 2 else ""
                calc = f"{cal:.0%}" if nj == 2 else ""
                print(f"| {name} | radon h={rm.height_} | {rm.n_models_} | {nj} | {wall[nj]:.2f} | {cpu[nj]:.2f} | "
                      f"{auc[nj]:.4f} | {auc[nj] - ac:+.4f} | {wall[nj] / tc:.2f} | {eff} | {calc} | {work} |",
                      flush=True)


# ----------------------------------------------------------------------------- robustness


def _fit_models(base, ds, height, seed, n_jobs):
    rm = RadonMachineClassifier(base, height=height, random_state=seed, n_jobs=n_jobs).fit(ds.X_train, ds.y_train)
    return rm.base_parameters_, rm


def exp_robustness(args):
    ds = load_synthetic(args.n_train * 5 // 4, seed=args.seed)
    base = LogisticRegression()
    methods = ["radon", "mean", "median", "geometric_median"]
    print(f"LogisticRegression, synthetic 18 features, {len(ds.y_train)} training rows; a corrupted model is "
          f"-{args.scale:g} × the model it replaces; AUC averaged over {args.repeats} random choices of the "
          "corrupted models\n")
    for h in args.heights:
        models, rm = _fit_models(base, ds, h, args.seed, args.n_jobs)
        m = models.shape[0]
        print(f"\nheight {h}: {m} base models (r = {rm.radon_number_})\n")
        print("| K corrupted | " + " | ".join(methods) + " |")
        print("|---:|" + "---:|" * len(methods))
        for K in [k for k in args.ks if k <= m]:
            aucs = {mm: [] for mm in methods}
            for rep in range(args.repeats if K else 1):
                g = np.random.default_rng([args.seed, h, K, rep])
                bad = models.copy()
                idx = g.choice(m, size=K, replace=False)
                bad[idx] *= -args.scale
                for mm in methods:
                    opts = {"height": h, "rng": int(g.integers(2**31))} if mm == "radon" else {}
                    rows = aggregate_parameters(bad, mm, **opts)
                    aucs[mm].append(_auc_of_parameters(rows, ds.X_test, ds.y_test))
            print(f"| {K} | " + " | ".join(f"{np.mean(aucs[mm]):.4f}" for mm in methods) + " |", flush=True)


# ----------------------------------------------------------------------------- confidence


def exp_confidence(args):
    h = args.height
    r = 21
    n_train = r**h * args.rows_per_part
    base = LogisticRegression(C=args.C, max_iter=1000)
    print(f"LogisticRegression(C={args.C:g}), synthetic 18 features with label noise {args.label_noise}; "
          f"per seed a fresh training set of {n_train} rows = {r}^{h} parts of {args.rows_per_part}; "
          f"test set of 20,000 rows; {args.seeds} seeds\n")
    test = load_synthetic(20000 + 10, test_size=20000 / 20010, seed=10**6, label_noise=args.label_noise)
    res = {k: [] for k in ("single base model", "averaging", "coord. median", "geom. median", f"radon h={h}")}
    if h >= 2:
        res["radon h=1 (first 21 models)"] = []
        res["averaging (first 21 models)"] = []
    t0 = time.perf_counter()
    for s in range(args.seeds):
        X, y = make_synthetic(n_train, seed=s + 1, label_noise=args.label_noise)
        rm = RadonMachineClassifier(base, height=h, random_state=s, n_jobs=args.n_jobs).fit(X, y)
        models = rm.base_parameters_

        def auc(rows):
            return _auc_of_parameters(rows, test.X_test, test.y_test)

        res["single base model"].append(auc(models[0]))
        res["averaging"].append(auc(aggregate_parameters(models, "mean")))
        res["coord. median"].append(auc(aggregate_parameters(models, "median")))
        res["geom. median"].append(auc(aggregate_parameters(models, "geometric_median")))
        res[f"radon h={h}"].append(_auc(rm, test.X_test, test.y_test))
        if h >= 2:
            res["radon h=1 (first 21 models)"].append(auc(aggregate_parameters(models[:r], "radon", height=1, rng=s)))
            res["averaging (first 21 models)"].append(auc(aggregate_parameters(models[:r], "mean")))
    central = LogisticRegression(C=args.C, max_iter=1000).fit(*make_synthetic(n_train, seed=1, label_noise=args.label_noise))
    print(f"(central learner on seed 1's full training set: AUC {_auc(central, test.X_test, test.y_test):.4f}; "
          f"{time.perf_counter() - t0:.0f} s)\n")
    print("| aggregate | mean AUC | std | 5th percentile | min |")
    print("|---|---:|---:|---:|---:|")
    for k, v in res.items():
        v = np.asarray(v)
        print(f"| {k} | {v.mean():.4f} | {v.std():.4f} | {np.percentile(v, 5):.4f} | {v.min():.4f} |")


# ----------------------------------------------------------------------------- memory


def _tree_memory(pid):
    import psutil

    try:
        procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    pss = rss_max = 0
    for p in procs:
        try:
            mi = p.memory_full_info()
            pss += mi.pss
            rss_max = max(rss_max, mi.rss) if p.pid != pid else rss_max
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return pss, rss_max


def exp_memory(args):
    import psutil

    n, p = args.n_rows, 18
    gb = n * p * 8 / 2**30
    print(f"{n} x {p} float64 = {gb:.2f} GiB; RadonMachineClassifier(LogisticRegression(), height={args.height}, "
          f"n_jobs=2); memory sampled every 0.2 s: the sum of the proportional set sizes (PSS: shared pages "
          "counted once) of this process and its workers, and the largest worker RSS\n")
    print("| input | gen [s] | fit [s] | models | rows/part | peak total PSS [GiB] | peak worker RSS [GiB] | "
          "baseline PSS before fit [GiB] |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind in args.inputs:
        t0 = time.perf_counter()
        if kind == "memmap":
            path = os.path.join(args.tmp, "radonml_X.npy")
            X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, p))
            y = np.empty(n, dtype=np.int64)
            s = 0
            from radonml.datasets import iter_synthetic

            for Xc, yc in iter_synthetic(n, chunk_size=1 << 20, seed=0):
                X[s : s + len(yc)] = Xc
                y[s : s + len(yc)] = yc
                s += len(yc)
            X.flush()
            del X
            X = np.load(path, mmap_mode="r")
        else:
            X, y = make_synthetic(n, seed=0)
        t_gen = time.perf_counter() - t0
        base_pss, _ = _tree_memory(os.getpid())
        peak = [0, 0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                pss, rss = _tree_memory(os.getpid())
                peak[0], peak[1] = max(peak[0], pss), max(peak[1], rss)
                time.sleep(0.2)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.perf_counter()
        rm = RadonMachineClassifier(LogisticRegression(), height=args.height, n_jobs=2, random_state=0).fit(X, y)
        t_fit = time.perf_counter() - t0
        stop.set()
        th.join()
        print(f"| {kind} | {t_gen:.1f} | {t_fit:.1f} | {rm.n_models_} | {n // rm.n_models_} | {peak[0] / 2**30:.2f} "
              f"| {peak[1] / 2**30:.2f} | {base_pss / 2**30:.2f} |", flush=True)
        del X, y, rm
        if kind == "memmap":
            os.remove(path)
    _ = psutil


# ----------------------------------------------------------------------------- kernel


def _kernel_machine(n_components, kind="nystroem", C=1.0, seed=0):
    from sklearn.kernel_approximation import Nystroem, RBFSampler
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    fmap = (Nystroem(n_components=n_components, random_state=seed) if kind == "nystroem"
            else RBFSampler(gamma="scale", n_components=n_components, random_state=seed))
    return make_pipeline(StandardScaler(), fmap, LinearSVC(C=C, random_state=seed))


def _spheres(n_train, seed):
    """make_spheres (4 features, label noise 0.1): n_train training rows and 20,000 test rows."""
    return load_spheres(n_train + 20000, test_size=20000 / (n_train + 20000), seed=seed)


def _time_rm(base, ds, n_jobs, height, seed):
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        rm = RadonMachineClassifier(base, height=height, n_jobs=n_jobs, random_state=seed).fit(ds.X_train, ds.y_train)
        t = time.perf_counter() - t0
    return t, _auc(rm, ds.X_test, ds.y_test), rm


def exp_kernel(args):
    """Side by side in one process, repeated: the exact SVC(kernel="rbf") (gamma="scale") and the
    kernel Radon machine (StandardScaler + Nystroem(n_components) fitted once on all training
    rows + LinearSVC per part, height 1), on make_spheres. Each repetition fits both on the same
    data, one right after the other, so both see the same load; the ratio is taken per
    repetition, and the median ratio is reported with its range."""
    from sklearn.svm import SVC

    base = _kernel_machine(args.n_components)
    print(f"make_spheres (4 features, label noise 0.1; a linear model scores AUC 0.50), 20,000 test rows; "
          f"kernel Radon machine = StandardScaler + Nystroem(n_components={args.n_components}) + LinearSVC, "
          f"height 1, n_jobs={args.n_jobs}; central = SVC(kernel='rbf', gamma='scale'); {args.repeats} repetitions "
          f"per size (both fitted in each, one after the other), medians\n")
    print("| n_train | SVC [s] | SVC AUC | support vectors | RM [s] | RM AUC | ΔAUC | models | rows/part | "
          "speed-up (median) | speed-up range |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    _warm(args.n_jobs, base[-1], np.random.default_rng(0).standard_normal((200, args.n_components)),
          np.arange(200) % 2)
    for n_train in args.sizes:
        ds = _spheres(n_train, args.seed)
        ts, tr, ratios = [], [], []
        for rep in range(args.repeats):
            if n_train <= args.max_svc:
                t0 = time.perf_counter()
                svc = SVC(kernel="rbf").fit(ds.X_train, ds.y_train)
                ts.append(time.perf_counter() - t0)
                a_svc = _auc(svc, ds.X_test, ds.y_test)
                n_sv = int(svc.n_support_.sum())
            t, a_rm, rm = _time_rm(base, ds, args.n_jobs, 1, args.seed)
            tr.append(t)
            if ts:
                ratios.append(ts[-1] / t)
        if ts:
            print(f"| {n_train} | {np.median(ts):.2f} | {a_svc:.4f} | {n_sv} | {np.median(tr):.2f} | {a_rm:.4f} | "
                  f"{a_rm - a_svc:+.4f} | {rm.n_models_} | {n_train // rm.n_models_} | {np.median(ratios):.1f}× | "
                  f"{min(ratios):.1f}× to {max(ratios):.1f}× |", flush=True)
        else:
            print(f"| {n_train} | (not run) | | | {np.median(tr):.2f} | {a_rm:.4f} | | {rm.n_models_} | "
                  f"{n_train // rm.n_models_} | | |", flush=True)


def exp_tradeoff(args):
    """Feature dimension D against height: r = D + 3 parts per level, n / (D + 3)^h rows per part."""
    ds = _spheres(args.n_train, args.seed)
    print(f"make_spheres, {args.n_train} training rows, 20,000 test rows; StandardScaler + feature map + "
          f"LinearSVC(C) per part, n_jobs={args.n_jobs}; central linear model on the same features for reference\n")
    print("| feature map | D | h | models | rows/part | C | RM [s] | RM AUC | same features, central LinearSVC AUC |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in args.maps:
        for D in args.dims:
            a_c = float("nan")
            if args.central:
                central = _kernel_machine(D, kind).fit(ds.X_train, ds.y_train)
                a_c = _auc(central, ds.X_test, ds.y_test)
            for h in (1, 2):
                parts = (D + 3) ** h
                if parts > args.n_train // 10:
                    continue
                for C in args.Cs:
                    t, a, rm = _time_rm(_kernel_machine(D, kind, C=C), ds, args.n_jobs, h, args.seed)
                    print(f"| {kind} | {D} | {h} | {rm.n_models_} | {args.n_train // rm.n_models_} | {C:g} | {t:.2f} | "
                          f"{a:.4f} | {a_c:.4f} |", flush=True)


# ----------------------------------------------------------------------------- files


def exp_files(args):
    """Reading one data set in each format: load_table (chunks, two passes, stratified split)
    against what a user without pandas reaches for (numpy.loadtxt, numpy.load, scikit-learn's
    load_svmlight_file), side by side on the same file, each in a fresh process (peak RSS)."""
    import subprocess
    import tempfile

    from sklearn.datasets import dump_svmlight_file

    n, p = args.n_rows, 18
    X, y = make_synthetic(n, seed=0)
    d = tempfile.mkdtemp(dir=args.tmp)
    paths = {"csv": os.path.join(d, "d.csv"), "npz": os.path.join(d, "d.npz"), "svmlight": os.path.join(d, "d.svm")}
    np.savetxt(paths["csv"], np.c_[X, y], delimiter=",", fmt="%.6g", header=",".join([f"f{j}" for j in range(p)] + ["y"]),
               comments="")
    np.savez(paths["npz"], X=X, y=y)
    dump_svmlight_file(X, y, paths["svmlight"])
    size = {k: os.path.getsize(v) / 2**20 for k, v in paths.items()}
    readers = {
        "csv": [("radonml load_table", f"load_table({paths['csv']!r}, 'y')"),
                ("radonml load_table, memory map", f"load_table({paths['csv']!r}, 'y', memmap=True, memmap_dir={d!r})"),
                ("numpy.loadtxt", f"np.loadtxt({paths['csv']!r}, delimiter=',', skiprows=1)")],
        "npz": [("radonml load_table", f"load_table({paths['npz']!r})"),
                ("radonml load_table, memory map", f"load_table({paths['npz']!r}, memmap=True, memmap_dir={d!r})"),
                ("numpy.load", f"[np.load({paths['npz']!r})[k] for k in ('X', 'y')]")],
        "svmlight": [("radonml load_table", f"load_table({paths['svmlight']!r})"),
                     ("scikit-learn load_svmlight_file + toarray",
                      f"__import__('sklearn.datasets').datasets.load_svmlight_file({paths['svmlight']!r})[0].toarray()")],
    }
    print(f"{n} x {p} synthetic rows (float64: {n * p * 8 / 2**20:.0f} MiB); each reader in a fresh process; "
          "load_table also splits 20% off for testing\n")
    print("| format | file [MiB] | reader | wall [s] | peak anonymous memory [MiB] |")
    print("|---|---:|---|---:|---:|")
    for fmt, items in readers.items():
        for name, code in items:
            # the peak of the process's anonymous memory (RssAnon), sampled every 20 ms: a memory map's
            # file-backed pages are not in it, an array in memory is
            script = ("import time, threading, numpy as np\nfrom radonml.datasets import load_table\n"
                      "peak = [0]\n"
                      "def anon():\n"
                      "    for line in open('/proc/self/status'):\n"
                      "        if line.startswith('RssAnon:'):\n"
                      "            return int(line.split()[1]) / 1024\n"
                      "def watch():\n"
                      "    while True:\n"
                      "        peak[0] = max(peak[0], anon())\n"
                      "        time.sleep(0.02)\n"
                      "threading.Thread(target=watch, daemon=True).start()\n"
                      f"t = time.perf_counter()\nresult = {code}\nt = time.perf_counter() - t\n"
                      "time.sleep(0.05)\nprint(t, max(peak[0], anon()))")
            out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
            t, rss = map(float, out.stdout.split())
            print(f"| {fmt} | {size[fmt]:.0f} | {name} | {t:.1f} | {rss:.0f} |", flush=True)
    import shutil

    shutil.rmtree(d)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="exp", required=True)
    s = sub.add_parser("svc")
    s.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 30000])
    s.add_argument("--n-jobs", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("linear")
    s.add_argument("--n-train", type=int, default=1_000_000)
    s.add_argument("--heights", nargs="+", type=int, default=[1, 2])
    s.add_argument("--repeats", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("robustness")
    s.add_argument("--n-train", type=int, default=200_000)
    s.add_argument("--heights", type=int, nargs="+", default=[1, 2])
    s.add_argument("--ks", type=int, nargs="+", default=[0, 1, 2, 3, 5, 10, 20, 50, 100, 150, 200])
    s.add_argument("--scale", type=float, default=1e4)
    s.add_argument("--repeats", type=int, default=10)
    s.add_argument("--n-jobs", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("confidence")
    s.add_argument("--seeds", type=int, default=40)
    s.add_argument("--height", type=int, default=2)
    s.add_argument("--rows-per-part", type=int, default=40)
    s.add_argument("--C", type=float, default=1.0)
    s.add_argument("--label-noise", type=float, default=0.1)
    s.add_argument("--n-jobs", type=int, default=2)
    s = sub.add_parser("memory")
    s.add_argument("--n-rows", type=int, default=10_000_000)
    s.add_argument("--height", default="auto", type=lambda v: v if v == "auto" else int(v))
    s.add_argument("--inputs", nargs="+", choices=("array", "memmap"), default=["array", "memmap"])
    s.add_argument("--tmp", default="/tmp")
    s = sub.add_parser("kernel")
    s.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 50000, 100000, 200000])
    s.add_argument("--max-svc", type=int, default=50000, help="largest n_train the exact SVC is fitted on")
    s.add_argument("--n-components", type=int, default=30)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--n-jobs", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("tradeoff")
    s.add_argument("--n-train", type=int, default=50000)
    s.add_argument("--maps", nargs="+", choices=("nystroem", "rbf"), default=["nystroem", "rbf"])
    s.add_argument("--dims", type=int, nargs="+", default=[10, 30, 60, 100, 200])
    s.add_argument("--Cs", type=float, nargs="+", default=[1.0])
    s.add_argument("--central", action=argparse.BooleanOptionalAction, default=True,
                   help="also fit LinearSVC on the same features centrally (slow at 10^6 rows)")
    s.add_argument("--n-jobs", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("files")
    s.add_argument("--n-rows", type=int, default=1_000_000)
    s.add_argument("--tmp", default="/tmp")
    args = ap.parse_args(argv)
    print(f"$ python benchmarks/experiments_sklearn.py {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    {"svc": exp_svc, "linear": exp_linear, "robustness": exp_robustness, "confidence": exp_confidence,
     "memory": exp_memory, "kernel": exp_kernel, "tradeoff": exp_tradeoff, "files": exp_files}[args.exp](args)


if __name__ == "__main__":
    main()
