"""Compare the Radon machine with the central learner, averaging and the medians, on one partition.

``radonml compare`` trains, on the same data: the base learner on all of it (central); the
Radon machine of height 1 and of the automatic height (Kamp et al., NeurIPS 2017); and, on the
automatic height's very partition and base models, averaging and the coordinate-wise and
geometric medians. It prints a table (test AUC, accuracy, training wall time, speed-up over
central, number of models, height) and writes ``compare.json`` and ``compare.png`` (time
against AUC) to ``--out``.

Times: "central" is one fit on all training rows, the faster of two fits with the default number of
BLAS threads and with one (on a busy machine, multi-threaded BLAS can be several times slower
for these small dense problems; joblib's workers get one thread each). A Radon-machine or baseline row is the wall
time of fitting its base models in parallel (``--n-jobs`` workers of a warm pool) plus its
aggregation; the baselines on the automatic height's partition share that partition's fits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

from . import _cli_types as _t

ESTIMATORS = ("logistic", "sgd", "linear-svc", "svc-linear")
DATASETS = ("synthetic", "synthetic28", "breast-cancer", "digits", "mnist1d")
BASELINES = ("mean", "median", "geometric_median")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml compare``."""
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--dataset", choices=DATASETS, default="synthetic",
                        help="synthetic: SUSY-like, 18 features; synthetic28: HIGGS-like, 28 features; "
                             "the others are bundled or generated offline (multiclass: macro one-vs-rest AUC)")
    parser.add_argument("--n-samples", type=_t.positive_int, default=1_000_000,
                        help="rows of the synthetic set (20%% held out for testing); ignored for the other sets")
    parser.add_argument("--label-noise", type=float, default=0.0, help="label flip probability (synthetic sets)")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="logistic",
                        help="base learner: LogisticRegression, SGDClassifier, LinearSVC, SVC(kernel='linear')")
    parser.add_argument("--height", type=_t.height, default="auto",
                        help="height of the second Radon machine (the first always has height 1)")
    parser.add_argument("--min-samples", type=_t.positive_int, default=100,
                        help="smallest part size for --height auto")
    parser.add_argument("--n-jobs", type=int, default=-1, help="parallel workers (-1: all cores)")
    parser.add_argument("--backend", choices=("loky", "dask"), default="loky",
                        help="joblib backend for fitting the base models")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (tcp://host:8786) for --backend dask; "
                             "default: a local cluster of --n-jobs single-threaded worker processes")
    parser.add_argument("--corrupt", type=_t.non_negative_int, default=0, metavar="K",
                        help="replace K random base models by adversarial ones (sign-flipped and scaled by "
                             "--corrupt-scale) before aggregation")
    parser.add_argument("--corrupt-scale", type=float, default=1e4,
                        help="an adversarial model is -scale times the model it replaces (the default drags "
                             "the mean of up to 10^4 models to the wrong side)")
    parser.add_argument("--seed", type=_t.non_negative_int, default=0, help="seed of data, partitions and trees")
    parser.add_argument("--out", default="radonml-compare", help="directory for compare.json and compare.png")
    parser.add_argument("--no-plot", action="store_true", help="do not write compare.png")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _make_estimator(name: str, seed: int):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import SVC, LinearSVC

    if name == "logistic":
        return LogisticRegression(max_iter=1000, random_state=seed)
    if name == "sgd":
        return SGDClassifier(random_state=seed)
    if name == "linear-svc":
        return LinearSVC(random_state=seed)
    return SVC(kernel="linear", random_state=seed)


def _load(args):
    from . import datasets

    if args.dataset in ("synthetic", "synthetic28"):
        if args.n_samples < 10:
            raise ValueError(f"--n-samples must be at least 10, got {args.n_samples}")
        return datasets.load_synthetic(
            args.n_samples,
            n_features=28 if args.dataset == "synthetic28" else 18,
            label_noise=args.label_noise,
            seed=args.seed,
        )
    if args.dataset == "breast-cancer":
        return datasets.load_breast_cancer(seed=args.seed)
    if args.dataset == "digits":
        return datasets.load_digits(seed=args.seed)
    return datasets.load_mnist1d(seed=args.seed)


def evaluate(rows: np.ndarray, has_icpt: bool, classes, X, y) -> dict:
    """Test ROC AUC and accuracy of the linear model ``rows`` ((k, d): coef with intercept).

    Binary: AUC of the decision function. Multiclass: the macro average over classes of
    the one-vs-rest AUC of each class's decision score; the prediction is the arg max."""
    from sklearn.metrics import roc_auc_score

    from .sklearn import _decision

    dec = _decision(rows, has_icpt, X)
    classes = np.asarray(classes)
    if dec.shape[1] == 1:
        auc = roc_auc_score(y == classes[1], dec[:, 0])
        pred = classes[(dec[:, 0] > 0).astype(np.intp)]
    else:
        auc = float(np.mean([roc_auc_score(y == c, dec[:, j]) for j, c in enumerate(classes)]))
        pred = classes[np.argmax(dec, axis=1)]
    return {"auc": float(auc), "accuracy": float(np.mean(pred == y))}


@contextlib.contextmanager
def _backend(args, n_jobs):
    if args.backend == "loky":
        if args.scheduler:
            raise ValueError("--scheduler needs --backend dask")
        yield "loky"
        return
    import joblib

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--backend dask needs dask.distributed; install it with pip install 'radonml[dask]'") from None

    if args.scheduler:
        with Client(args.scheduler) as client, joblib.parallel_config(backend="dask"):
            yield f"dask ({client.scheduler.address})"
        return
    with LocalCluster(
        n_workers=n_jobs, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, Client(cluster) as client, joblib.parallel_config(backend="dask"):
        yield f"dask (local cluster, {n_jobs} workers, {client.scheduler.address})"


def _corrupt(models: np.ndarray, k: int, scale: float, gen) -> np.ndarray:
    """Replace k random models by -scale * model (sign-flipped, scaled)."""
    if k == 0:
        return models
    if k > models.shape[0]:
        raise ValueError(f"--corrupt {k} exceeds the number of base models ({models.shape[0]})")
    out = models.copy()
    idx = gen.choice(models.shape[0], size=k, replace=False)
    out[idx] = -scale * out[idx]
    return out


def run(args) -> int:
    """Run ``radonml compare``; returns the exit status."""
    from joblib import Parallel, delayed

    from .sklearn import _aggregate_rows, _fit_one, _fit_plan, _has_intercept, _linear_rows, _plan

    if not 0.0 <= args.label_noise < 0.5:
        raise ValueError(f"--label-noise must lie in [0, 0.5), got {args.label_noise}")
    if not args.corrupt_scale > 0:
        raise ValueError(f"--corrupt-scale must be positive, got {args.corrupt_scale}")
    n_jobs = args.n_jobs if args.n_jobs > 0 else (os.cpu_count() or 1)
    if args.n_jobs == 0 or args.n_jobs < -1:
        raise ValueError(f"--n-jobs must be a positive integer or -1 (all cores), got {args.n_jobs}")
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    progress = False if args.quiet else True

    say(f"loading {args.dataset} ...")
    ds = _load(args)
    Xtr, ytr, Xte, yte = ds.X_train.astype(np.float64), ds.y_train, ds.X_test.astype(np.float64), ds.y_test
    n, p = Xtr.shape
    classes = np.unique(ytr)
    base = _make_estimator(args.estimator, args.seed)
    if args.estimator == "svc-linear" and len(classes) > 2:
        raise ValueError("--estimator svc-linear supports binary data sets only (SVC is one-vs-one)")
    has_icpt = _has_intercept(base)

    # RadonMachineClassifier's own plan (per class: models in R^(p + 1)): the same height,
    # partition, base-model seeds and tree seed as RadonMachineClassifier(random_state=seed)
    def plan(height):
        return _plan(n, p + has_icpt, height, args.min_samples, args.seed, ytr, name="--height")

    plan_auto = plan(args.height)
    r, h_auto = plan_auto.r, plan_auto.height
    if h_auto < 1:
        raise ValueError(
            f"{n} training rows are too few for one level of r = {r} parts of at least --min-samples="
            f"{args.min_samples} rows; lower --min-samples or give --height"
        )
    say(f"{ds.name}: {n} training rows x {p} features, {len(yte)} test rows; {type(base).__name__}; "
        f"r = {r}, heights 1 and {h_auto}")

    results = []

    def add(label, method, height, n_models, rows, fit_time, agg_time):
        ev = evaluate(rows, has_icpt, classes, Xte, yte)
        coef = rows[:, :-1] if has_icpt else rows
        icpt = rows[:, -1] if has_icpt else np.zeros(rows.shape[0])
        results.append({
            "label": label, "method": method, "height": height, "n_models": n_models, **ev,
            "fit_time": fit_time, "aggregate_time": agg_time, "train_time": fit_time + agg_time,
            "coef": coef.tolist(), "intercept": icpt.tolist(),
        })

    from sklearn.base import clone

    say("fitting the central learner on all training rows (with the default and with one BLAS thread) ...")
    from threadpoolctl import threadpool_limits

    t_blas = {}
    for limit in (None, 1):  # the faster of the two is the baseline
        with threadpool_limits(limits=limit):
            t0 = time.perf_counter()
            central = clone(base).fit(Xtr, ytr)
            t_blas["default" if limit is None else "1"] = time.perf_counter() - t0
    t_central = min(t_blas.values())
    add("central", "central", 0, 1, _linear_rows(central, has_icpt, "central"), t_central, 0.0)

    with _backend(args, n_jobs) as backend_name:
        # start the workers and import scikit-learn in them (a warm pool, as on a running cluster)
        m0 = min(n, 200)
        Parallel(n_jobs=n_jobs)(
            delayed(_fit_one)(base, Xtr[:m0], ytr[:m0], np.arange(m0), None, i) for i in range(2 * n_jobs)
        )
        heights = [1] if h_auto == 1 else [1, h_auto]
        for h in heights:
            pl = plan_auto if h == h_auto else plan(h)
            P = len(pl.parts)
            _, models, t_fit = _fit_plan(base, Xtr, ytr, pl, has_icpt, n_jobs=n_jobs, classes=classes,
                                         progress=progress and f"height {h}: {P} base models")
            models = _corrupt(models, args.corrupt, args.corrupt_scale, np.random.default_rng([args.seed, h]))
            methods = ["radon"] + (list(BASELINES) if h == h_auto else [])
            for m in methods:
                opts = {"height": h, "rng": pl.agg_seed} if m == "radon" else {}
                t0 = time.perf_counter()
                rows = _aggregate_rows(models, m, "per_class", opts)
                t_agg = time.perf_counter() - t0
                label = f"radon h={h}" if m == "radon" else (
                    {"mean": "averaging", "median": "coord. median", "geometric_median": "geom. median"}[m]
                    + f" h={h}")
                add(label, m, h, P, rows, t_fit, t_agg)

    for res in results:
        res["speedup"] = t_central / res["train_time"] if res["train_time"] > 0 else float("inf")

    lines = _table(results)
    print("\n".join(lines))
    os.makedirs(args.out, exist_ok=True)
    out = {
        "config": {
            "dataset": args.dataset, "n_samples": args.n_samples, "label_noise": args.label_noise,
            "estimator": args.estimator, "height": args.height, "height_auto": h_auto,
            "min_samples": args.min_samples, "n_jobs": n_jobs, "backend": backend_name,
            "corrupt": args.corrupt, "corrupt_scale": args.corrupt_scale, "seed": args.seed,
        },
        "central_time_by_blas_threads": t_blas,
        "data": {"name": ds.name, "n_train": int(n), "n_test": int(len(yte)), "n_features": int(p),
                 "classes": classes.tolist(), "radon_number": r},
        "results": results,
    }
    json_path = os.path.join(args.out, "compare.json")
    with open(json_path, "w") as f:
        json.dump(out, f, indent=1)
    say(f"wrote {json_path}")
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")  # files only
        import matplotlib.pyplot as plt

        from .plot import plot_compare

        png = os.path.join(args.out, "compare.png")
        fig = plot_compare(results, title=f"{ds.name}, {type(base).__name__}, n = {n}", path=png)
        plt.close(fig)
        say(f"wrote {png}")
    return 0


def _table(results) -> list:
    head = f"{'method':<22}{'height':>7}{'models':>8}{'AUC':>9}{'accuracy':>10}{'time [s]':>10}{'speed-up':>10}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['label']:<22}{r['height']:>7}{r['n_models']:>8}{r['auc']:>9.4f}{r['accuracy']:>10.4f}"
            f"{r['train_time']:>10.2f}{r['speedup']:>9.2f}x"
        )
    return lines
