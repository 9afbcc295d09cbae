"""``radonml compare``: the Radon machine against the central learner, averaging and the medians.

Without a data set or estimator, it shows in one run where the Radon machine (Kamp et al.,
NeurIPS 2017; :class:`radonml.sklearn.RadonMachineClassifier`) pays and where it does not:

1. **speed-up**: a super-linear learner. On data no linear model can fit
   (:func:`radonml.datasets.make_spheres`), the exact kernel SVM (``SVC(kernel="rbf")``,
   whose fit grows faster than linearly in n) against a kernel Radon machine: a Nystroem
   feature map fitted once and shared, a linear SVM per part, the parts' models aggregated.
2. **robustness**: the same partition with a few corrupted base models
   (:func:`radonml.attacks.corrupt`, a scaled sign flip, or any model-level attack with
   ``--attack``): averaging breaks, the Radon point holds. With at most :math:`2^h - 1` corrupted models a tree of height h stays in the convex
   hull of the honest ones, wherever they fall (a group's Radon point leaves its honest hull
   only when both sides of its partition hold a corrupted point).
3. **no speed-up**: a linear-time learner (``LogisticRegression``) on a million rows; central
   training is already fast and the Radon machine only splits the same work, so it does not
   pay (labelled as such).

With ``--dataset``, ``--data``, ``--estimator`` or ``--central`` it runs one comparison on that
data: the central learner on all training rows, the Radon machine of height 1 and of the
automatic height, and, on the automatic height's partition and base models (re-aggregated
through :func:`radonml.sklearn.aggregate_parameters`, nothing refitted), averaging and the
coordinate-wise and geometric medians (all on corrupted models with ``--corrupt K``; the attack
is ``--attack``, by default a sign flip scaled by ``--corrupt-scale``; min-max attacks each
aggregator in turn, the same K models Byzantine for all). It prints
a table per regime (test AUC, accuracy, training wall time, speed-up over central, number of
models, height) and writes ``compare.json`` (every number) and ``compare.png`` (one panel of
time against AUC per regime) to ``--out``.

Times: "central" is one fit on all training rows; for BLAS-based learners the faster of two
fits, with the default number of BLAS threads and with one (on a busy machine, multi-threaded
BLAS can be several times slower for these small dense problems; joblib's workers get one
thread each). A Radon-machine or baseline row is the wall time of fitting the shared feature
map (if any) and the base models in parallel (``--n-jobs`` workers of a warm pool) plus its
aggregation; the baselines share the fits of their partition.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time

import numpy as np

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run", "parse_estimator", "parse_attack", "STEPS"]

HELP = "Radon machine vs. central learner, averaging and medians"
DESCRIPTION = """\
Compare the Radon machine with the central learner, averaging and the medians.

Without --dataset, --data, --estimator or --central: three regimes in one run. (1) speed-up: an
exact RBF-kernel SVM against a kernel Radon machine (shared Nystroem features, a linear SVM per
part) on data no linear model fits; (2) robustness: the same partition with a few corrupted
base models (averaging breaks, the Radon point holds); (3) no speed-up: a linear-time learner
(LogisticRegression) on a million rows, where the Radon machine does not pay.

Otherwise one comparison on the given data: the central learner on all training rows, the Radon
machine of height 1 and of the automatic height and, on the latter's partition and base models,
averaging and the coordinate-wise and geometric medians.

Attacks (--corrupt K base models made Byzantine before aggregation, the same K for every
aggregator): --attack NAME or NAME:key=value,... names a model-level attack of radonml.attacks
(sign_flip, gaussian_noise, alie, ipm, mimic, min_max, min_sum; e.g. ipm:epsilon=0.5,
alie:z=1.5); min_max attacks each aggregator in turn. Default: sign_flip scaled by
--corrupt-scale. inf_nan is refused: every aggregator rejects non-finite models by design
(radonml robust drops them before aggregating).

Heights: without --height and --min-samples, the automatic height keeps 100 rows per part; where
the training rows are too few for that (the small bundled sets), height 1 with as many rows per
part as the data allow (at least 10), said in a note and in compare.json. --dataset spheres
without --estimator uses the kernel pipeline scale+nystroem:n_components=30+linear-svc (no
linear model separates it).

Prints test AUC, accuracy, training wall time and speed-up over central; writes compare.json
(every number) and compare.png (one panel per regime) to --out.

Your own data (--data FILE): CSV/TSV with a header (--target names the label column), Parquet
(pip install 'radonml[parquet]'), .npz (arrays X and --target, default y; read without
pickle) or LIBSVM/svmlight (.svm, .svmlight, .libsvm; the label starts each line). Files are
read in chunks, into a memory map when larger than memory. Columns with text are categorical:
one-hot encoded in the shared feature map (--categorical onehot) or refused (--categorical
error). Missing values (empty cells, NA, NaN, null, ?) are refused unless --impute fills them
in the shared feature map (fitted on the training rows) or the estimator starts with impute.

Estimators (--estimator, --central): steps joined by '+', options after ':' as key=value,
separated by ','; the last step is the linear model, the steps before it are a feature map
fitted once and shared by all parts. Steps: scale (StandardScaler), impute (SimpleImputer,
strategy=mean), rbf (RBFSampler: random Fourier features, n_components=50, gamma=scale), nystroem
(Nystroem RBF features, n_components=50, gamma=1/n_features), poly (PolynomialCountSketch,
degree=2, n_components=50), spline (SplineTransformer); models: logistic (LogisticRegression),
sgd (SGDClassifier), linear-svc (LinearSVC), svc-linear (SVC with a linear kernel, binary data
only), ridge (RidgeClassifier), svc-rbf (SVC with an RBF kernel: --central only, it has no
coef_). Example: scale+nystroem:n_components=30,gamma=0.25+linear-svc:C=10."""
EXAMPLES = (
    "radonml compare",
    "radonml compare --dataset synthetic --estimator svc-linear --n-samples 30000",
    "radonml compare --dataset spheres --estimator scale+nystroem:n_components=30+linear-svc --central svc-rbf",
    "radonml compare --dataset synthetic --corrupt 5 --no-plot",
    "radonml compare --dataset synthetic --corrupt 5 --attack alie --no-plot",
    "radonml compare --data train.csv --target label --test test.csv --impute median",
    "radonml compare --data higgs.svm --estimator scale+logistic --test-size 0.1",
    "radonml compare --dataset digits --estimator linear-svc --height 1",
    "radonml compare --backend dask --scheduler tcp://scheduler-host:8786",
)

DATASETS = ("synthetic", "synthetic28", "spheres", "breast-cancer", "digits", "mnist1d")
#: the --attack names compare runs: the model-level attacks of radonml.attacks except inf_nan
ATTACKS = ("sign_flip", "gaussian_noise", "alie", "ipm", "mimic", "min_max", "min_sum")
DEFAULT_MIN_SAMPLES = 100  # --min-samples when neither it nor --height is given
MIN_PART_ROWS = 10  # the fewest rows per part the default height falls back to
BASELINES = ("mean", "median", "geometric_median")
LABELS = {"mean": "averaging", "median": "coord. median", "geometric_median": "geom. median"}


# ------------------------------------------------------------------ estimator specifications


def _steps():
    """name -> (kind, factory(seed, **options), one line of help). Imported lazily."""
    from sklearn.impute import SimpleImputer
    from sklearn.kernel_approximation import Nystroem, PolynomialCountSketch, RBFSampler
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.preprocessing import SplineTransformer, StandardScaler
    from sklearn.svm import SVC, LinearSVC

    def seeded(cls, **defaults):
        return lambda seed, **kw: cls(**{**defaults, "random_state": seed, **kw})

    def plain(cls, **defaults):
        return lambda seed, **kw: cls(**{**defaults, **kw})

    return {
        "scale": ("map", plain(StandardScaler), "StandardScaler"),
        "impute": ("map", plain(SimpleImputer, strategy="mean"), "SimpleImputer (strategy=mean)"),
        "rbf": ("map", seeded(RBFSampler, gamma="scale", n_components=50),
                "RBFSampler, random Fourier features (n_components=50, gamma=scale)"),
        "nystroem": ("map", seeded(Nystroem, n_components=50),
                     "Nystroem RBF features (n_components=50, gamma=1/n_features)"),
        "poly": ("map", seeded(PolynomialCountSketch, degree=2, n_components=50),
                 "PolynomialCountSketch (degree=2, n_components=50)"),
        "spline": ("map", plain(SplineTransformer), "SplineTransformer"),
        "logistic": ("linear", seeded(LogisticRegression, max_iter=1000), "LogisticRegression"),
        "sgd": ("linear", seeded(SGDClassifier), "SGDClassifier"),
        "linear-svc": ("linear", seeded(LinearSVC), "LinearSVC"),
        "svc-linear": ("linear", seeded(SVC, kernel="linear"), "SVC(kernel=linear), binary data only"),
        "ridge": ("linear", plain(RidgeClassifier), "RidgeClassifier"),
        "svc-rbf": ("central", seeded(SVC, kernel="rbf"), "SVC(kernel=rbf): --central only (no coef_)"),
    }


STEPS = ("scale", "impute", "rbf", "nystroem", "poly", "spline", "logistic", "sgd", "linear-svc", "svc-linear",
         "ridge", "svc-rbf")


def parse_estimator(spec: str, seed: int = 0, *, central: bool = False):
    """The scikit-learn estimator of an ``--estimator``/``--central`` specification.

    ``spec`` is steps joined by ``+``, each ``name`` or ``name:key=value,key=value`` (values
    read as int, float, true/false/none or text); the last step is the model (a linear one
    unless ``central``), the steps before it a feature map. One step gives the bare model,
    several a :class:`~sklearn.pipeline.Pipeline`. Every step with a ``random_state`` gets
    ``seed``.

    Parameters
    ----------
    spec : str
        The specification, e.g. ``"scale+rbf:n_components=200,gamma=0.5+logistic"``.
    seed : int, default 0
        The ``random_state`` of every step that has one.
    central : bool, default False
        Parse a ``--central`` specification (the last step may be any model, e.g. an RBF SVC).

    Returns
    -------
    estimator : scikit-learn estimator or Pipeline
        Unfitted.

    Raises
    ------
    ValueError
        An unknown step or option, a feature map last, a model before the last step.

    Examples
    --------
    >>> parse_estimator("scale+rbf:n_components=20,gamma=0.5+linear-svc:C=10", seed=1)
    Pipeline(steps=[('scale', StandardScaler()),
                    ('rbf', RBFSampler(gamma=0.5, n_components=20, random_state=1)),
                    ('linear-svc', LinearSVC(C=10, random_state=1))])
    """
    from sklearn.pipeline import Pipeline

    steps = _steps()
    text = spec.strip()
    if not text:
        raise ValueError("expected an estimator such as logistic or scale+rbf+linear-svc, got an empty value")
    parts = re.split(r"(?<![0-9][eE])\+", text)  # '+' joins steps; 1e+3 stays a number
    built = []
    for i, part in enumerate(parts):
        name, _, opts = part.strip().partition(":")
        name = name.strip()
        if name not in steps:
            raise ValueError(f"unknown step {name!r} in {spec!r}; steps are {', '.join(STEPS)}")
        kind, factory, _ = steps[name]
        last = i == len(parts) - 1
        if last and kind == "map":
            raise ValueError(f"{spec!r} ends in the feature map {name!r}; the last step must be a model, e.g. "
                             f"{spec}+logistic")
        if not last and kind != "map":
            raise ValueError(f"{spec!r} has the model {name!r} before its last step; only feature maps ({', '.join(n for n in STEPS if steps[n][0] == 'map')}) may come first")
        if kind == "central" and not central:
            raise ValueError(f"{name} has no coef_ (a kernel SVM is a sum over support vectors), so its models "
                             "cannot be aggregated; use it as --central, and a kernel Radon machine such as "
                             "scale+nystroem+linear-svc as --estimator")
        kwargs = {}
        for item in filter(None, (o.strip() for o in opts.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"option {item!r} of step {name!r} must be key=value")
            kwargs[key.strip()] = C.option_value(value.strip())
        est = factory(seed)
        bad = set(kwargs) - set(est.get_params(deep=False))
        if bad:
            raise ValueError(f"step {name!r} has no option {sorted(bad)[0]!r}; its options are "
                             f"{', '.join(sorted(est.get_params(deep=False)))}")
        est.set_params(**kwargs)
        built.append((name, est))
    names = [n for n, _ in built]
    if len(set(names)) != len(names):
        built = [(f"{n}{i}", e) for i, (n, e) in enumerate(built)]
    return built[0][1] if len(built) == 1 else Pipeline(built)


def _estimator_type(kind_central: bool):
    def parse(text):
        try:
            parse_estimator(text, central=kind_central)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parse.__name__ = "estimator"
    return parse


# ------------------------------------------------------------------ options


def _label_noise(text):
    v = C.number(text, float, minimum=0.0, what="a number in [0, 0.5)")
    if v >= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 0.5), got {v}")
    return v


def _test_size(text):
    v = C.number(text, float, minimum=0.0, strict=True, what="a number in (0, 1)")
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {v}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml compare``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser (:func:`radonml.cli.build_parser` makes it); the options
        are added to it in place.

    See Also
    --------
    run : runs the command with the parsed options.

    Examples
    --------
    >>> import argparse
    >>> from radonml.cli.compare import add_arguments
    >>> parser = argparse.ArgumentParser(prog="radonml compare")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--dataset", "breast-cancer", "--height", "2"])
    >>> args.dataset, args.height, args.corrupt
    ('breast-cancer', 2, None)
    """
    data = parser.add_argument_group("data (one comparison; without them, the three regimes)")
    C.add_option(data, "--dataset", choices=DATASETS, default=None,
                 help="synthetic: SUSY-like, 18 features; synthetic28: HIGGS-like, 28 features; spheres: a ball in a "
                      "shell, 4 features (no linear model fits it); the others are bundled or generated offline "
                      "(multiclass: macro one-vs-rest AUC); default synthetic")
    C.add_option(data, "--data", default=None, metavar="FILE",
                 help="your own data: .csv/.tsv, .parquet, .npz or LIBSVM/svmlight (.svm, .svmlight, .libsvm)")
    C.add_option(data, "--target", default=None, metavar="COLUMN",
                 help="the label column of --data (CSV, Parquet) or its array (.npz; default y)")
    C.add_option(data, "--test", default=None, metavar="FILE",
                 help="a separate test file in the format of --data (default: hold out --test-size)")
    C.add_option(data, "--test-size", type=_test_size, default=0.2, metavar="F",
                 help="fraction of --data held out for testing, stratified by class")
    C.add_option(data, "--categorical", choices=("onehot", "error"), default="onehot",
                 help="text columns of --data: one-hot encoded in the shared feature map, or refused")
    C.add_option(data, "--impute", choices=("none", "mean", "median"), default="none",
                 help="fill missing values of --data in the shared feature map (none: refuse them)")
    C.add_option(data, "--n-samples", type=C.positive_int, default=None, metavar="N",
                 help="rows of the generated sets, 20%% held out for testing (default 1000000 for synthetic, "
                      "50000 for spheres; in the three regimes, the rows of regimes 2 and 3)")
    C.add_option(data, "--label-noise", type=_label_noise, default=0.0, metavar="P",
                 help="label flip probability of the synthetic sets, in [0, 0.5)")
    model = parser.add_argument_group("models")
    C.add_option(model, "--estimator", type=_estimator_type(False), default=None, metavar="SPEC",
                 help="base learner of the Radon machine, e.g. logistic, sgd, linear-svc, svc-linear, scale+logistic, "
                      "scale+nystroem:n_components=30+linear-svc (see above; default logistic)")
    C.add_option(model, "--central", type=_estimator_type(True), default=None, metavar="SPEC",
                 help="the central learner, e.g. svc-rbf (default: the --estimator itself)")
    C.add_option(model, "--height", type=C.height, default=None, metavar="H",
                 help="height of the second Radon machine (the first always has height 1): a positive integer "
                      "or auto, the largest height whose parts keep --min-samples rows (default: auto)")
    C.add_option(model, "--min-samples", type=C.positive_int, default=None, metavar="N",
                 help=f"smallest part size for --height auto (default: {DEFAULT_MIN_SAMPLES}; without --height and "
                      f"--min-samples, data too small for it get height 1 with the parts they allow, at least "
                      f"{MIN_PART_ROWS} rows each)")
    C.add_option(model, "--corrupt", type=C.non_negative_int, default=None, metavar="K",
                 help="replace K random base models by adversarial ones (radonml.attacks.corrupt, sign_flip, scaled "
                      "by --corrupt-scale) before aggregation (default 0; in the three regimes, 2^h - 1 for the "
                      "robustness regime's height h)")
    C.add_option(model, "--corrupt-scale", type=C.positive_float, default=None, metavar="S",
                 help="for the sign flip (the default --attack): an adversarial model is -S times the model it "
                      "replaces (default 1e4, which drags the mean of up to 10000 models to the wrong side)")
    C.add_option(model, "--attack", default=None, metavar="SPEC",
                 help="the attack of the --corrupt K base models: a model-level attack of radonml.attacks, NAME or "
                      f"NAME:key=value,... with NAME one of {', '.join(ATTACKS)} (e.g. alie, ipm:epsilon=0.5, "
                      "gaussian_noise:sigma=10); min_max attacks each aggregator in turn; inf_nan is refused, every "
                      "aggregator rejects non-finite models (default: sign_flip, scaled by --corrupt-scale)")
    C.add_option(model, "--kernel-samples", type=C.int_at_least(100), default=40_000, metavar="N",
                 help="rows of the speed-up regime's data (spheres, 20%% held out)")
    run_group = parser.add_argument_group("execution")
    C.add_option(run_group, "--backend", choices=("loky", "dask"), default="loky",
                 help="joblib backend for fitting the base models")
    C.add_option(run_group, "--scheduler", default=None, metavar="ADDRESS",
                 help="address of a running Dask scheduler (tcp://host:8786) for --backend dask; without it, "
                      "a local cluster of --n-jobs single-threaded worker processes")
    C.add_common_options(parser, out="radonml-compare", n_jobs_default=-1,
                         n_jobs_help="parallel workers fitting the base models, -1 for all cores",
                         seed_help="seed of the data, the partitions and the aggregation trees",
                         plot_help="do not write compare.png")


# ------------------------------------------------------------------ data


class _Data:
    """Training and test rows, the class labels and what a model must do first."""

    def __init__(self, ds, description: dict, prefix=None):
        self.X_train, self.y_train, self.X_test, self.y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        self.name = ds.name
        self.classes = np.unique(np.r_[ds.y_train, ds.y_test])
        self.description = description
        self.prefix = prefix or []  # feature-map steps every model of this data starts with


def _as_float64(X):
    return X if X.dtype == np.float64 else X.astype(np.float64)


def _generated(name: str, n_samples, label_noise: float, seed: int) -> _Data:
    from .. import datasets

    if name in ("synthetic", "synthetic28", "spheres"):
        n = n_samples or (50_000 if name == "spheres" else 1_000_000)
        if n < 10:
            raise ValueError(f"--n-samples must be at least 10, got {n}")
        if name == "spheres":
            ds = datasets.load_spheres(n, seed=seed)
        else:
            ds = datasets.load_synthetic(n, n_features=28 if name == "synthetic28" else 18, label_noise=label_noise,
                                         seed=seed)
    elif name == "breast-cancer":
        ds = datasets.load_breast_cancer(seed=seed)
    elif name == "digits":
        ds = datasets.load_digits(seed=seed)
    else:
        ds = datasets.load_mnist1d(seed=seed)
    ds.X_train, ds.X_test = _as_float64(ds.X_train), _as_float64(ds.X_test)
    return _Data(ds, {"source": "generated" if name in ("synthetic", "synthetic28", "spheres") else "bundled",
                      "dataset": name})


def _from_file(args, maps_dir: str, say) -> _Data:
    """--data: read with radonml.datasets.load_table; categorical and missing values become
    the first steps of every model's feature map (fitted on the training rows only)."""
    from ..datasets import load_table

    if args.target is None and not args.data.lower().endswith((".npz", ".svm", ".svmlight", ".libsvm")):
        raise ValueError("--data needs --target COLUMN, the label column")
    say(f"reading {args.data} in chunks ...")
    ds = load_table(args.data, args.target, test=args.test, test_size=args.test_size, seed=args.seed,
                    memmap_dir=maps_dir)
    prefix = []
    if ds.missing:
        worst = max(ds.missing, key=ds.missing.get)
        if args.impute == "none":
            prefix.append(("missing", None, worst, ds.missing[worst]))
        else:
            from sklearn.impute import SimpleImputer

            prefix.append(("impute", SimpleImputer(strategy=args.impute)))
    if ds.categories:
        cols = sorted(ds.categories)
        if args.categorical == "error":
            j = cols[0]
            raise ValueError(
                f"column {ds.feature_names[j]!r} of {args.data} is categorical (values such as "
                f"{ds.categories[j][:3]}); give --categorical onehot to one-hot encode it in the shared feature map"
            )
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder

        onehot = OneHotEncoder(categories=[list(range(len(ds.categories[j]))) for j in cols],
                               handle_unknown="ignore", sparse_output=False)
        prefix.append(("onehot", ColumnTransformer([("onehot", onehot, cols)], remainder="passthrough")))
    description = {
        "source": "file", "path": args.data, "test": args.test, "format_rows": int(len(ds.y_train) + len(ds.y_test)),
        "feature_names": ds.feature_names, "categorical": {ds.feature_names[j]: c for j, c in ds.categories.items()},
        "missing": ds.missing, "classes": [str(c) for c in ds.classes], "memory_map": isinstance(ds.X_train, np.memmap),
    }
    data = _Data(ds, description, prefix)
    data.classes = np.arange(len(ds.classes))
    return data


def _with_prefix(estimator, data: _Data, what: str):
    """``estimator`` behind the data's own first steps (imputation, one-hot encoding); refuses
    missing values that nothing imputes."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    rest = list(estimator.steps) if isinstance(estimator, Pipeline) else [(type(estimator).__name__.lower(), estimator)]
    steps = []
    for step in data.prefix:
        if step[0] == "missing":
            if not type(rest[0][1]).__module__.startswith("sklearn.impute") or len(rest) == 1:
                raise ValueError(
                    f"column {step[2]!r} has {step[3]} missing value(s) (other columns may have some too), which "
                    f"{what} cannot handle; give --impute mean or --impute median to fill them in the shared feature "
                    "map (fitted on the training rows), or start the estimator with impute"
                )
            steps.append(rest.pop(0))  # the estimator's own imputer goes first, before the one-hot encoding
            continue
        steps.append((step[0], clone(step[1])))
    if not steps:
        return estimator
    return Pipeline(steps + rest)


# ------------------------------------------------------------------ fitting and scoring


def _scores(dec: np.ndarray, classes, y) -> dict:
    """Test ROC AUC and accuracy of decision scores ``dec`` ((n,) binary; (n, k) multiclass).

    Binary: AUC of the decision function. Multiclass: the macro average over classes of the
    one-vs-rest AUC of each class's decision score; the prediction is the arg max."""
    from sklearn.metrics import roc_auc_score

    classes = np.asarray(classes)
    dec = np.asarray(dec, dtype=np.float64)
    if dec.ndim == 2 and dec.shape[1] == 1:
        dec = dec[:, 0]
    if dec.ndim == 1:
        auc = roc_auc_score(y == classes[1], dec)
        pred = classes[(dec > 0).astype(np.intp)]
    else:
        auc = float(np.mean([roc_auc_score(y == c, dec[:, j]) for j, c in enumerate(classes)]))
        pred = classes[np.argmax(dec, axis=1)]
    return {"auc": float(auc), "accuracy": float(np.mean(pred == y))}


def _features(feature_map, X):
    return X if feature_map is None else feature_map.transform(X)


def _uses_blas(estimator) -> bool:
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return not isinstance(final, SVC)


def _fit_central(base, X, y):
    """The central learner, timed with the default number of BLAS threads and with one (the
    faster counts); a libsvm SVC, which uses no BLAS, is fitted once."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    times = {}
    for limit in ((None, 1) if _uses_blas(base) else (None,)):
        with threadpool_limits(limits=limit):
            t0 = time.perf_counter()
            central = clone(base).fit(X, y)
            times["default" if limit is None else "1"] = time.perf_counter() - t0
    return central, times


def _result(label, method, height, n_models, scores, fit_time, agg_time, rows=None, has_intercept=True) -> dict:
    out = {"label": label, "method": method, "height": height, "n_models": n_models, **scores,
           "fit_time": fit_time, "aggregate_time": agg_time, "train_time": fit_time + agg_time}
    if rows is not None:
        out["coef"] = (rows[:, :-1] if has_intercept else rows).tolist()
        out["intercept"] = (rows[:, -1] if has_intercept else np.zeros(rows.shape[0])).tolist()
    return out


def _central_result(estimator, data: _Data, label="central") -> tuple:
    from ..sklearn import linear_parameters

    central, t_blas = _fit_central(estimator, data.X_train, data.y_train)
    t = min(t_blas.values())
    scores = _scores(central.decision_function(data.X_test), data.classes, data.y_test)
    try:
        rows = linear_parameters(central)
    except (TypeError, ValueError):
        rows = None  # not a linear model (e.g. the exact kernel SVM)
    return _result(label, "central", 0, 1, scores, t, 0.0, rows), t_blas


def _model_dim(estimator, data: _Data) -> int:
    """The dimension of a base model's feature space (the feature map's output), from a map
    fitted on at most 2,000 rows: enough to decide the heights before anything is fitted."""
    from sklearn.base import clone

    from ..sklearn._feature_map import split_pipeline

    feature_map, _ = split_pipeline(estimator)
    if feature_map is None:
        return int(data.X_train.shape[1])
    m = min(len(data.y_train), 2000)
    X, y = np.asarray(data.X_train[:m]), data.y_train[:m]
    n_components = [v for k, v in feature_map.get_params().items() if k.endswith("n_components")]
    if n_components and max(n_components) > m:
        return int(max(n_components))
    return int(clone(feature_map).fit(X, y).transform(X[:1]).shape[1])


def _heights(args, n: int, n_dims: int, min_class: int, corrupt: int):
    """(r, automatic height, heights to fit, min_samples, note): checked before anything is fitted.

    The automatic height is the Radon machine's rule (``RadonMachineClassifier``'s
    ``height="auto"``): the largest h with floor(n / r^h) >= --min-samples and r^h at most the
    smallest class count, i.e. the tree height of min(n // min_samples, min_class) models.
    Where the user gave neither --height nor --min-samples (``args.default_height``) and
    that height is 0, it is 1 with min_samples = n // r (at least MIN_PART_ROWS rows per part,
    every part holding every class), and ``note`` says so; otherwise ``note`` is None."""
    from ..radon import radon_number, tree_height

    r = radon_number(n_dims)
    min_samples, note = args.min_samples, None
    if args.height == "auto":
        fit = min(n // min_samples, min_class)
        h = tree_height(fit, n_dims) if fit >= 1 else 0
        if h < 1 and getattr(args, "default_height", False) and n // r >= MIN_PART_ROWS and min_class >= r:
            h, min_samples = 1, n // r
            note = (f"{n} training rows are too few for r = {r} parts of {args.min_samples} rows (models in "
                    f"R^{n_dims}): height 1 with {min_samples} rows per part ({min_samples / n_dims:.2g} rows per "
                    "parameter" + ("; the base learner's regularization carries the rest" if min_samples < n_dims
                                   else "") + "); give --min-samples or --height to choose")
        elif h < 1:
            default = (f" (the default; the fallback to height 1 needs at least {MIN_PART_ROWS} rows and one "
                       "example of every class per part)" if getattr(args, "default_height", False) else "")
            raise ValueError(
                f"{n} training rows are too few for one level of r = {r} parts of at least --min-samples="
                f"{args.min_samples} rows{default} (models in R^{n_dims}); lower --min-samples or give --height"
            )
    else:
        h = args.height
        if h * np.log(r) > np.log(max(min_class, 1)) + 1e-9 or min_class < r**h:
            raise ValueError(
                f"--height={h} needs r^height = {r}^{h} = {r**h} parts (r = {r} for models in R^{n_dims}), but the "
                f"smallest class has {min_class} examples; every part needs at least one example of every class; "
                "use a smaller --height or --height auto"
            )
    if corrupt > r:
        raise ValueError(f"--corrupt {corrupt} exceeds the number of base models ({r} at height 1)")
    return r, h, ([1] if h == 1 else [1, h]), min_samples, note


def parse_attack(spec, corrupt_scale=None):
    """The :class:`radonml.attacks.Attack` (without ``f``: ``--corrupt`` gives it) of an
    ``--attack`` specification, checked before anything is fitted.

    ``spec`` is ``NAME`` or ``NAME:key=value,key=value`` (values read as int, float,
    true/false/none or text), a model-level attack of :func:`radonml.attacks.available_attacks`;
    None is the sign flip. Its scale is ``corrupt_scale``, default 1e4 (also for
    ``"sign_flip"`` without ``scale=``); ``corrupt_scale`` applies to the sign flip only.

    Parameters
    ----------
    spec : str or None
        ``NAME`` or ``NAME:key=value,...``; None for the sign flip.
    corrupt_scale : float, optional
        The ``--corrupt-scale`` of the sign flip.

    Returns
    -------
    Attack
        The attack with its options, ``f`` not set.

    Raises
    ------
    ValueError
        An unknown or data-level attack, ``inf_nan`` (every aggregator rejects non-finite
        models; the message lists :data:`ATTACKS`, the names compare runs), an option it does
        not take, ``corrupt_scale`` with another attack or twice.

    Examples
    --------
    >>> parse_attack("ipm:epsilon=0.5"), parse_attack(None), parse_attack("sign_flip", 10.0)
    (Attack('ipm', epsilon=0.5), Attack('sign_flip', scale=10000.0), Attack('sign_flip', scale=10.0))
    >>> parse_attack("gaussian_noise:sigma=10,center=mean")
    Attack('gaussian_noise', sigma=10, center='mean')
    """
    from ..attacks import Attack

    if spec is None:
        return Attack("sign_flip", scale=1e4 if corrupt_scale is None else float(corrupt_scale))
    name, _, opts = spec.strip().partition(":")
    if name.strip() == "inf_nan":
        raise ValueError("--attack 'inf_nan' is refused: its infinite or NaN models are rejected by every aggregator "
                         "by design (radonml robust drops them before aggregating), so there is nothing to compare; "
                         f"choose one of {', '.join(ATTACKS)}")
    params = {}
    for item in filter(None, (o.strip() for o in opts.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"option {item!r} of --attack {name.strip()!r} must be key=value")
        params[key.strip()] = C.option_value(value.strip())
    if corrupt_scale is None:
        if name.strip() == "sign_flip":
            params.setdefault("scale", 1e4)  # compare's default for the sign flip
    else:
        if name.strip() != "sign_flip":
            raise ValueError(f"--corrupt-scale applies to the sign flip, not to --attack {name.strip()!r}; give that "
                             "attack's options in --attack, e.g. --attack ipm:epsilon=0.5")
        if "scale" in params:
            raise ValueError("give the sign flip's scale once: --corrupt-scale or --attack sign_flip:scale=S")
        params["scale"] = float(corrupt_scale)
    try:
        attack = Attack(name.strip(), **params)
    except TypeError as exc:  # an option the attack does not take
        raise ValueError(f"--attack {spec!r}: {exc}") from None
    except ValueError:  # an unknown name: the attacks compare runs, as --help lists them
        raise ValueError(f"unknown attack {name.strip()!r} for --attack; expected one of {', '.join(ATTACKS)}") from None
    if attack.kind != "model":
        raise ValueError(f"--attack {attack.name!r} changes a learner's data before it trains, but compare re-aggregates "
                         "base models that are already fitted; use RadonMachineClassifier(corrupt=...) for it, or a "
                         "model-level attack here")
    return attack


def _corrupted(models: np.ndarray, k: int, attack, seed, aggregator=None, aggregator_options=None) -> np.ndarray:
    """``k`` random base models replaced by ``attack``'s vectors (radonml.attacks.corrupt, per
    class row as compare aggregates them); the generator ``default_rng(seed)`` draws the
    Byzantine models first, so every aggregator faces the same ones. An attack that knows the
    aggregator (min-max) attacks ``aggregator``."""
    if k == 0:
        return models
    from ..attacks import Attack
    from ..sklearn._attacks import byzantine_parts, corrupt_models

    attack = Attack(attack.info.fn, f=k, **attack.params)
    gen = np.random.default_rng(seed)
    mask = byzantine_parts(attack, models.shape[0], gen)
    return corrupt_models(models, attack, mask, gen, "per_class", aggregator, aggregator_options)


def _fit_machine(base, data: _Data, h: int, args, n_jobs: int, report):
    from ..sklearn import RadonMachineClassifier

    rm = RadonMachineClassifier(base, height=h, min_samples=args.min_samples, n_jobs=n_jobs, random_state=args.seed,
                                verbose=int(report.progress))
    t0 = time.perf_counter()
    rm.fit(data.X_train, data.y_train)
    rm.wall_time_ = time.perf_counter() - t0  # feature map, parts and aggregation, as a user waits for them
    return rm


def _aggregated_rows(rm, data: _Data, methods, corrupt: int, attack, seed, prefix="") -> list:
    """Results of re-aggregating the fitted machine's base models (``corrupt`` of them attacked
    first) with ``methods``; times: the machine's feature map and fits plus each aggregation."""
    from ..sklearn import aggregate_parameters
    from ..sklearn._parameters import decision

    aware = attack.info.knows_aggregator and "aggregator" not in attack.params
    models = None if aware else _corrupted(rm.base_parameters_, corrupt, attack, [seed, rm.height_])
    Z = _features(rm.feature_map_, data.X_test)
    fit_time = rm.feature_map_time_ + rm.fit_time_
    out = []
    for method in methods:
        options = {"height": rm.height_, "rng": rm.aggregation_seed_, "remainder": "drop"} if method == "radon" else {}
        if aware:  # min-max against this aggregator, the same Byzantine models for every one
            models = _corrupted(rm.base_parameters_, corrupt, attack, [seed, rm.height_], method, options)
        t0 = time.perf_counter()
        rows = aggregate_parameters(models, method, **options)
        t_agg = time.perf_counter() - t0
        name = "radon" if method == "radon" else LABELS[method]
        scores = _scores(decision(rows, rm.has_intercept_, Z), data.classes, data.y_test)
        out.append(_result(f"{prefix}{name} h={rm.height_}", method, rm.height_, rm.n_models_, scores, fit_time, t_agg,
                           rows, rm.has_intercept_))
    return out


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


def _fit_clone(estimator, X, y):
    from sklearn.base import clone

    return clone(estimator).fit(X, y)


def _warm(n_jobs, estimator):
    """Start the workers and import the estimator's code in them (a warm pool, as on a running
    cluster), fitting it on a little random data."""
    from joblib import Parallel, delayed

    X = np.random.default_rng(0).standard_normal((200, 4))
    y = np.arange(200) % 2
    Parallel(n_jobs=n_jobs)(delayed(_fit_clone)(estimator, X, y) for _ in range(2 * n_jobs))


def _speedups(results, t_central):
    for res in results:
        res["speedup"] = t_central / res["train_time"] if res["train_time"] > 0 else float("inf")


# ------------------------------------------------------------------ the regimes


def _comparison(args, data: _Data, estimator_spec: str, central_spec: str, corrupt: int, n_jobs: int, say,
                attack=None) -> dict:
    """One comparison: central, the Radon machine of height 1 and auto, and the baselines on the
    automatic height's partition. Everything that can be refused is refused before fitting."""
    base = _with_prefix(parse_estimator(estimator_spec, args.seed), data, f"--estimator {estimator_spec}")
    central = _with_prefix(parse_estimator(central_spec, args.seed, central=True), data, f"--central {central_spec}")
    n = len(data.y_train)
    counts = np.unique(data.y_train, return_counts=True)[1]
    from ..sklearn._parameters import has_intercept, is_one_vs_one
    from ..sklearn._feature_map import split_pipeline

    final = split_pipeline(base)[1]
    if is_one_vs_one(final, len(data.classes)):
        raise ValueError(f"--estimator {estimator_spec} supports binary data sets only here (SVC is one-vs-one: "
                         "compare aggregates one-vs-rest rows)")
    n_dims = _model_dim(base, data) + has_intercept(final)
    r, h_auto, heights, min_samples, note = _heights(args, n, n_dims, int(counts.min()), corrupt)
    if note:
        C.note("radonml compare", note)
    args = argparse.Namespace(**{**vars(args), "min_samples": min_samples})
    say(f"{data.name}: {n} training rows x {data.X_train.shape[1]} features, {len(data.y_test)} test rows; "
        f"--estimator {estimator_spec}, --central {central_spec}; r = {r}, heights {' and '.join(map(str, heights))}")
    results = []
    with _backend(args, n_jobs) as backend_name:
        _warm(n_jobs, final)
        machines = {}
        for h in heights:  # the Radon machines first: a base that cannot be aggregated fails before central
            say(f"fitting the Radon machine of height {h} ({r ** h} parts) ...")
            machines[h] = _fit_machine(base, data, h, args, n_jobs, say)
    say(f"fitting the central learner ({central_spec}) on all training rows ...")
    central_row, t_blas = _central_result(central, data)
    results.append(central_row)
    for h in heights:
        methods = ["radon"] + (list(BASELINES) if h == h_auto else [])
        results += _aggregated_rows(machines[h], data, methods, corrupt, attack or parse_attack(None), args.seed)
    _speedups(results, central_row["train_time"])
    return {
        "name": "comparison", "title": f"{data.name}: {estimator_spec} vs. central {central_spec}",
        "verdict": "", "data": {"name": data.name, "n_train": int(n), "n_test": int(len(data.y_test)),
                                "n_features": int(data.X_train.shape[1]), "classes": data.classes.tolist(),
                                "radon_number": r, **data.description},
        "estimator": estimator_spec, "central": central_spec, "height_auto": h_auto, "min_samples": min_samples,
        "notes": [note] if note else [], "corrupt": corrupt,
        "attack": (attack or parse_attack(None)).to_dict() if corrupt else None,
        "backend": backend_name, "central_time_by_blas_threads": t_blas, "results": results,
        "_machine": machines[h_auto],  # dropped before writing: the fitted machine, for re-aggregation
    }


KERNEL_ESTIMATOR = "scale+nystroem:n_components=30+linear-svc"
KERNEL_CENTRAL = "svc-rbf"
LINEAR_ESTIMATOR = "logistic"


def _three_regimes(args, n_jobs: int, say, attack) -> list:
    """The default run: speed-up, robustness and no speed-up (module docstring)."""
    from sklearn.linear_model import LogisticRegression

    # (1) speed-up: the exact kernel SVM against a kernel Radon machine
    say(f"(1) speed-up: spheres, {args.kernel_samples} rows ...")
    spheres = _generated("spheres", args.kernel_samples, 0.0, args.seed)
    one = _comparison(argparse.Namespace(**{**vars(args), "height": 1}), spheres, KERNEL_ESTIMATOR, KERNEL_CENTRAL,
                      0, n_jobs, say)
    one["results"] = [r for r in one["results"] if r["method"] in ("central", "radon", "mean")]
    linear = _central_result(LogisticRegression(), spheres, label="linear model (central)")[0]
    linear["method"] = "linear"
    linear["speedup"] = one["results"][0]["train_time"] / linear["train_time"]
    one["results"].append(linear)
    rm = next(r for r in one["results"] if r["method"] == "radon")
    one.update(name="speed-up", title="(1) speed-up: exact RBF-kernel SVM vs. kernel Radon machine",
               verdict=f"{rm['speedup']:.{0 if rm['speedup'] >= 10 else 1}f}x faster than central, AUC "
                       f"{rm['auc'] - one['results'][0]['auc']:+.4f}")

    # (2) robustness and (3) no speed-up: one pair of fits of the linear-time learner
    n = args.n_samples or 1_000_000
    say(f"(2, 3) synthetic, {n} rows, LogisticRegression ...")
    synth = _generated("synthetic", n, args.label_noise, args.seed)
    base_args = argparse.Namespace(**{**vars(args)})
    counts = np.unique(synth.y_train, return_counts=True)[1]
    r, h_auto, heights, _, _ = _heights(base_args, len(synth.y_train), synth.X_train.shape[1] + 1,
                                        int(counts.min()), 0)
    corrupt = (2**h_auto - 1) if args.corrupt is None else args.corrupt
    if corrupt > r**h_auto:
        raise ValueError(f"--corrupt {corrupt} exceeds the number of base models ({r ** h_auto})")
    three = _comparison(base_args, synth, LINEAR_ESTIMATOR, LINEAR_ESTIMATOR, 0, n_jobs, say)
    three.update(name="no speed-up", title="(3) no speed-up: a linear-time learner (LogisticRegression)")
    all_rows = three["results"]
    three["results"] = [r for r in all_rows if r["method"] in ("central", "radon")
                        or (r["method"] == "mean" and r["height"] == h_auto)]
    best = max((r for r in three["results"] if r["method"] == "radon"), key=lambda r: r["speedup"])
    three["verdict"] = (f"does not pay: central is already linear in n; the best Radon machine runs at "
                        f"{best['speedup']:.2f}x of central's speed")
    # (2) re-aggregates the automatic height's base models after corrupting some: no new fit
    machine = three["_machine"]
    two = {k: v for k, v in three.items() if k not in ("results", "verdict", "title", "name", "_machine")}
    two.update(name="robustness", corrupt=corrupt, attack=attack.to_dict(),
               title=f"(2) robustness: {corrupt} of {r ** h_auto} base models corrupted ({_describe(attack)})")
    if attack.name == "sign_flip":
        two["corrupt_scale"] = attack.params.get("scale", 1.0)
    two["results"] = [dict(three["results"][0])] + _aggregated_rows(
        machine, synth, ["radon", *BASELINES], corrupt, attack, args.seed)
    _speedups(two["results"], three["results"][0]["train_time"])
    rad = next(r for r in two["results"] if r["method"] == "radon")
    avg = next(r for r in two["results"] if r["method"] == "mean")
    two["verdict"] = (f"Radon point AUC {rad['auc']:.4f}, averaging {avg['auc']:.4f} (central, clean: "
                      f"{two['results'][0]['auc']:.4f})")
    return [one, two, three]


def _describe(attack) -> str:
    """``sign flip x 10000`` or ``alie``, ``ipm epsilon=0.5``: the attack in a title."""
    if attack.name == "sign_flip" and set(attack.params) <= {"scale"}:
        return f"sign flip x {attack.params.get('scale', 1.0):g}"
    return " ".join([attack.name, *(f"{k}={v}" for k, v in attack.params.items())])


# ------------------------------------------------------------------ output


def _table(regime) -> list:
    head = f"{'method':<26}{'height':>7}{'models':>8}{'AUC':>9}{'accuracy':>10}{'time [s]':>10}{'speed-up':>10}"
    lines = [regime["title"], head, "-" * len(head)]
    for r in regime["results"]:
        lines.append(
            f"{r['label']:<26}{r['height']:>7}{r['n_models']:>8}{r['auc']:>9.4f}{r['accuracy']:>10.4f}"
            f"{r['train_time']:>10.2f}{r['speedup']:>9.2f}x"
        )
    if regime.get("verdict"):
        lines.append(f"=> {regime['verdict']}")
    return lines


def _write_plot(regimes, path: str) -> None:
    C.use_file_backend()
    import matplotlib.pyplot as plt

    from ..plot import plot_compare_regimes

    plt.close(plot_compare_regimes(regimes, path=path))


def run(args) -> int:
    """Run ``radonml compare``; returns the exit status.

    Without ``--dataset``/``--data``/``--estimator``/``--central`` it runs the default three
    regimes (speed-up, robustness, no speed-up); with one of them, one comparison: the
    central learner, the Radon machine of height 1 and of ``--height``, and the averaging,
    coordinate-median and geometric-median baselines on the same base models. Writes
    ``compare.json`` (and ``compare.png``) into ``--out`` and prints the table.

    Parameters
    ----------
    args : argparse.Namespace
        The options of :func:`add_arguments`, parsed.

    Returns
    -------
    status : int
        0 on success.

    Raises
    ------
    ValueError
        For options that contradict each other (``--scheduler`` without ``--backend dask``,
        ``--target``/``--test`` without ``--data``, both ``--dataset`` and ``--data``,
        ``--attack`` without ``--corrupt``), checked before anything is fitted.

    Examples
    --------
    >>> import contextlib, io, json, os, tempfile
    >>> from radonml.cli import build_parser
    >>> from radonml.cli.compare import run
    >>> out = tempfile.mkdtemp()
    >>> args = build_parser().parse_args(["compare", "--dataset", "breast-cancer", "--height", "1",
    ...                                   "--n-jobs", "1", "--out", out, "--quiet", "--no-plot"])
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(args)
    >>> status, os.listdir(out)
    (0, ['compare.json'])
    >>> run(build_parser().parse_args(["compare", "--data", "x.csv", "--dataset", "digits"]))
    Traceback (most recent call last):
    ...
    ValueError: give either --dataset or --data, not both
    """
    import tempfile

    if args.scheduler and args.backend != "dask":
        raise ValueError("--scheduler needs --backend dask")
    if args.data is None:
        for flag, value in (("--target", args.target), ("--test", args.test)):
            if value is not None:
                raise ValueError(f"{flag} applies to --data FILE only")
    elif args.dataset is not None:
        raise ValueError("give either --dataset or --data, not both")
    attack = parse_attack(args.attack, args.corrupt_scale)  # before anything is fitted
    # neither --height nor --min-samples: the height falls back to 1 on data too small for 100 rows per part
    args.default_height = args.height is None and args.min_samples is None
    args.height = "auto" if args.height is None else args.height
    args.min_samples = DEFAULT_MIN_SAMPLES if args.min_samples is None else args.min_samples
    n_jobs = C.resolve_n_jobs(args.n_jobs)
    say = C.Reporter(args.quiet)
    os.makedirs(args.out, exist_ok=True)
    single = any(v is not None for v in (args.dataset, args.data, args.estimator, args.central))
    if single and args.attack is not None and not args.corrupt:
        raise ValueError("--attack needs --corrupt K, the number of base models it makes Byzantine (one comparison "
                         "corrupts none by default)")
    with tempfile.TemporaryDirectory(prefix="data-maps-", dir=args.out) as maps_dir:
        if single:
            if args.data is not None:
                data = _from_file(args, maps_dir, say)
            else:
                say(f"loading {args.dataset or 'synthetic'} ...")
                data = _generated(args.dataset or "synthetic", args.n_samples, args.label_noise, args.seed)
            estimator = args.estimator
            if estimator is None:
                estimator = KERNEL_ESTIMATOR if args.dataset == "spheres" else "logistic"
                if args.dataset == "spheres":
                    C.note("radonml compare", f"no linear model separates spheres (a ball in a shell): --estimator "
                                              f"{KERNEL_ESTIMATOR}, the kernel pipeline of the default run")
            regimes = [_comparison(args, data, estimator, args.central or estimator, args.corrupt or 0, n_jobs, say,
                                   attack)]
        else:
            regimes = _three_regimes(args, n_jobs, say, attack)
    for regime in regimes:
        regime.pop("_machine", None)
        print("\n".join(_table(regime)) + "\n")
    config = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    config.update(n_jobs=n_jobs, mode="one comparison" if single else "three regimes")
    json_path = os.path.join(args.out, "compare.json")
    C.write_json(json_path, {"config": config, "regimes": regimes})
    say(f"wrote {json_path}")
    if not args.no_plot:
        png = os.path.join(args.out, "compare.png")
        _write_plot(regimes, png)
        say(f"wrote {png}")
    return 0
