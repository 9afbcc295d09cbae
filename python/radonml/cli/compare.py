"""``radonml compare``: the Radon machine against the central learner, averaging and the medians.

On the same data it trains the base learner on all of it (central); the Radon machine of
height 1 and of the automatic height (:class:`radonml.sklearn.RadonMachineClassifier`, Kamp
et al., NeurIPS 2017); and, on the automatic height's very partition and base models
(re-aggregated through :func:`radonml.sklearn.aggregate_parameters`, nothing refitted),
averaging and the coordinate-wise and geometric medians. It prints a table (test AUC,
accuracy, training wall time, speed-up over central, number of models, height) and writes
``compare.json`` and ``compare.png`` (time against AUC) to ``--out``.

Times: "central" is one fit on all training rows, the faster of two fits with the default
number of BLAS threads and with one (on a busy machine, multi-threaded BLAS can be several
times slower for these small dense problems; joblib's workers get one thread each). A
Radon-machine or baseline row is the wall time of fitting its base models in parallel
(``--n-jobs`` workers of a warm pool) plus its aggregation; the baselines on the automatic
height's partition share that partition's fits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "Radon machine vs. central learner, averaging and medians"
DESCRIPTION = """\
Compare the Radon machine with the central learner, averaging and the medians.

Trains the base learner on all training rows (central), the Radon machine of height 1 and of
the automatic height, and, on the automatic height's partition and base models, averaging and
the coordinate-wise and geometric medians. Prints test AUC, accuracy, training wall time and
speed-up over central; writes compare.json and compare.png to --out."""
EXAMPLES = (
    "radonml compare",
    "radonml compare --estimator svc-linear --n-samples 30000",
    "radonml compare --corrupt 5 --no-plot",
    "radonml compare --dataset digits --estimator linear-svc --height 1",
    "radonml compare --backend dask --scheduler tcp://scheduler-host:8786",
)

ESTIMATORS = ("logistic", "sgd", "linear-svc", "svc-linear")
DATASETS = ("synthetic", "synthetic28", "breast-cancer", "digits", "mnist1d")
BASELINES = ("mean", "median", "geometric_median")
LABELS = {"mean": "averaging", "median": "coord. median", "geometric_median": "geom. median"}


def _label_noise(text):
    v = C.number(text, float, minimum=0.0, what="a number in [0, 0.5)")
    if v >= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 0.5), got {v}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml compare``."""
    C.add_option(parser, "--dataset", choices=DATASETS, default="synthetic",
                 help="synthetic: SUSY-like, 18 features; synthetic28: HIGGS-like, 28 features; the others are "
                      "bundled or generated offline (multiclass: macro one-vs-rest AUC)")
    C.add_option(parser, "--n-samples", type=C.positive_int, default=1_000_000, metavar="N",
                 help="rows of the synthetic sets, 20%% held out for testing; ignored for the others")
    C.add_option(parser, "--label-noise", type=_label_noise, default=0.0, metavar="P",
                 help="label flip probability of the synthetic sets, in [0, 0.5)")
    C.add_option(parser, "--estimator", choices=ESTIMATORS, default="logistic",
                 help="base learner: logistic = LogisticRegression, sgd = SGDClassifier, linear-svc = LinearSVC, "
                      "svc-linear = SVC with a linear kernel (binary data only)")
    C.add_option(parser, "--height", type=C.height, default="auto", metavar="H",
                 help="height of the second Radon machine (the first always has height 1): a positive integer "
                      "or auto, the largest height whose parts keep --min-samples rows")
    C.add_option(parser, "--min-samples", type=C.positive_int, default=100, metavar="N",
                 help="smallest part size for --height auto")
    C.add_option(parser, "--backend", choices=("loky", "dask"), default="loky",
                 help="joblib backend for fitting the base models")
    C.add_option(parser, "--scheduler", default=None, metavar="ADDRESS",
                 help="address of a running Dask scheduler (tcp://host:8786) for --backend dask; without it, "
                      "a local cluster of --n-jobs single-threaded worker processes")
    C.add_option(parser, "--corrupt", type=C.non_negative_int, default=0, metavar="K",
                 help="replace K random base models by adversarial ones (sign-flipped and scaled by "
                      "--corrupt-scale) before aggregation")
    C.add_option(parser, "--corrupt-scale", type=C.positive_float, default=1e4, metavar="S",
                 help="an adversarial model is -S times the model it replaces (the default drags the mean of "
                      "up to 10000 models to the wrong side)")
    C.add_common_options(parser, out="radonml-compare", n_jobs_default=-1,
                         n_jobs_help="parallel workers fitting the base models, -1 for all cores",
                         seed_help="seed of the data, the partitions and the aggregation trees",
                         plot_help="do not write compare.png")


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
    from .. import datasets

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


def _scores(rows: np.ndarray, has_intercept: bool, classes, X, y) -> dict:
    """Test ROC AUC and accuracy of the linear model ``rows`` ((k, d) parameter rows).

    Binary: AUC of the decision function. Multiclass: the macro average over classes of the
    one-vs-rest AUC of each class's decision score; the prediction is the arg max."""
    from sklearn.metrics import roc_auc_score

    from ..sklearn import linear_decision

    dec = linear_decision(rows, X, fit_intercept=has_intercept)
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
    out = models.copy()
    idx = gen.choice(models.shape[0], size=k, replace=False)
    out[idx] = -scale * out[idx]
    return out


def _fit_clone(estimator, X, y):
    from sklearn.base import clone

    return clone(estimator).fit(X, y)


# ------------------------------------------------------------------ the steps of run


def _heights(args, n: int, n_dims: int, min_class: int):
    """(r, automatic height, heights to fit): checked before anything is fitted.

    The automatic height is the Radon machine's rule (``RadonMachineClassifier``'s
    ``height="auto"``): the largest h with floor(n / r^h) >= --min-samples and r^h at most the
    smallest class count, i.e. the tree height of min(n // min_samples, min_class) models."""
    from ..radon import radon_number, tree_height

    r = radon_number(n_dims)
    if args.height == "auto":
        fit = min(n // args.min_samples, min_class)
        h = tree_height(fit, n_dims) if fit >= 1 else 0
        if h < 1:
            raise ValueError(
                f"{n} training rows are too few for one level of r = {r} parts of at least --min-samples="
                f"{args.min_samples} rows; lower --min-samples or give --height"
            )
    else:
        h = args.height
        need = r**h
        if min_class < need:
            raise ValueError(
                f"--height={h} needs r^height = {r}^{h} = {need} parts (r = {r} for models in R^{n_dims}), but the "
                f"smallest class has {min_class} examples; every part needs at least one example of every class; "
                "use a smaller --height or --height auto"
            )
    if args.corrupt > r:
        raise ValueError(f"--corrupt {args.corrupt} exceeds the number of base models ({r} at height 1)")
    return r, h, ([1] if h == 1 else [1, h])


def _fit_central(base, X, y):
    """The central learner, timed with the default number of BLAS threads and with one; the faster counts."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    times = {}
    for limit in (None, 1):
        with threadpool_limits(limits=limit):
            t0 = time.perf_counter()
            central = clone(base).fit(X, y)
            times["default" if limit is None else "1"] = time.perf_counter() - t0
    return central, times


def _result(label, method, height, n_models, rows, has_intercept, scores, fit_time, agg_time) -> dict:
    coef = rows[:, :-1] if has_intercept else rows
    icpt = rows[:, -1] if has_intercept else np.zeros(rows.shape[0])
    return {
        "label": label, "method": method, "height": height, "n_models": n_models, **scores,
        "fit_time": fit_time, "aggregate_time": agg_time, "train_time": fit_time + agg_time,
        "coef": coef.tolist(), "intercept": icpt.tolist(),
    }


def _radon_machine_rows(args, base, data, h: int, aggregate_baselines: bool, n_jobs: int, report) -> list:
    """Fit the Radon machine of height ``h`` once; aggregate its base models (corrupted by
    ``--corrupt``) with the Radon point and, if asked, the baselines. One result per method."""
    from ..sklearn import RadonMachineClassifier, aggregate_parameters

    Xtr, ytr, Xte, yte, classes = data
    rm = RadonMachineClassifier(base, height=h, min_samples=args.min_samples, n_jobs=n_jobs,
                                random_state=args.seed, verbose=int(report.progress)).fit(Xtr, ytr)
    models = _corrupt(rm.base_parameters_, args.corrupt, args.corrupt_scale, np.random.default_rng([args.seed, h]))
    out = []
    for method in ["radon"] + (list(BASELINES) if aggregate_baselines else []):
        options = {"height": h, "rng": rm.aggregation_seed_} if method == "radon" else {}
        t0 = time.perf_counter()
        rows = aggregate_parameters(models, method, **options)
        t_agg = time.perf_counter() - t0
        label = f"radon h={h}" if method == "radon" else f"{LABELS[method]} h={h}"
        scores = _scores(rows, rm.has_intercept_, classes, Xte, yte)
        out.append(_result(label, method, h, rm.n_models_, rows, rm.has_intercept_, scores, rm.fit_time_, t_agg))
    return out


def _table(results) -> list:
    head = f"{'method':<22}{'height':>7}{'models':>8}{'AUC':>9}{'accuracy':>10}{'time [s]':>10}{'speed-up':>10}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['label']:<22}{r['height']:>7}{r['n_models']:>8}{r['auc']:>9.4f}{r['accuracy']:>10.4f}"
            f"{r['train_time']:>10.2f}{r['speedup']:>9.2f}x"
        )
    return lines


def _write_plot(results, path: str, title: str) -> None:
    C.use_file_backend()
    import matplotlib.pyplot as plt

    from ..plot import plot_compare

    plt.close(plot_compare(results, title=title, path=path))


def run(args) -> int:
    """Run ``radonml compare``; returns the exit status."""
    from joblib import Parallel, delayed

    if args.scheduler and args.backend != "dask":
        raise ValueError("--scheduler needs --backend dask")
    n_jobs = C.resolve_n_jobs(args.n_jobs)
    say = C.Reporter(args.quiet)

    say(f"loading {args.dataset} ...")
    ds = _load(args)
    Xtr, ytr, Xte, yte = ds.X_train.astype(np.float64), ds.y_train, ds.X_test.astype(np.float64), ds.y_test
    n, p = Xtr.shape
    classes, counts = np.unique(ytr, return_counts=True)
    base = _make_estimator(args.estimator, args.seed)
    if args.estimator == "svc-linear" and len(classes) > 2:
        raise ValueError("--estimator svc-linear supports binary data sets only (SVC is one-vs-one)")
    has_icpt = bool(base.get_params().get("fit_intercept", True))
    r, h_auto, heights = _heights(args, n, p + has_icpt, int(counts.min()))
    say(f"{ds.name}: {n} training rows x {p} features, {len(yte)} test rows; {type(base).__name__}; "
        f"r = {r}, heights {' and '.join(map(str, heights))}")

    say("fitting the central learner on all training rows (with the default and with one BLAS thread) ...")
    from ..sklearn import linear_parameters

    central, t_blas = _fit_central(base, Xtr, ytr)
    t_central = min(t_blas.values())
    rows = linear_parameters(central)
    results = [_result("central", "central", 0, 1, rows, has_icpt, _scores(rows, has_icpt, classes, Xte, yte),
                       t_central, 0.0)]
    with _backend(args, n_jobs) as backend_name:
        # start the workers and import scikit-learn in them (a warm pool, as on a running cluster)
        m0 = min(n, 200)
        Parallel(n_jobs=n_jobs)(delayed(_fit_clone)(base, Xtr[:m0], ytr[:m0]) for _ in range(2 * n_jobs))
        for h in heights:
            results += _radon_machine_rows(args, base, (Xtr, ytr, Xte, yte, classes), h, h == h_auto, n_jobs, say)
    for res in results:
        res["speedup"] = t_central / res["train_time"] if res["train_time"] > 0 else float("inf")

    print("\n".join(_table(results)))
    os.makedirs(args.out, exist_ok=True)
    config = {
        "dataset": args.dataset, "n_samples": args.n_samples, "label_noise": args.label_noise,
        "estimator": args.estimator, "height": args.height, "height_auto": h_auto,
        "min_samples": args.min_samples, "n_jobs": n_jobs, "backend": backend_name,
        "corrupt": args.corrupt, "corrupt_scale": args.corrupt_scale, "seed": args.seed,
    }
    data = {"name": ds.name, "n_train": int(n), "n_test": int(len(yte)), "n_features": int(p),
            "classes": classes.tolist(), "radon_number": r}
    json_path = os.path.join(args.out, "compare.json")
    C.write_json(json_path, {"config": config, "central_time_by_blas_threads": t_blas, "data": data,
                             "results": results})
    say(f"wrote {json_path}")
    if not args.no_plot:
        png = os.path.join(args.out, "compare.png")
        _write_plot(results, png, f"{ds.name}, {type(base).__name__}, n = {n}")
        say(f"wrote {png}")
    return 0
