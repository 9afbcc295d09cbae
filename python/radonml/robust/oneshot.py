r"""Setting (a) of :func:`radonml.robust.benchmark`: one-shot aggregation of scikit-learn linear
models, the Radon machine's setting (Kamp et al., NeurIPS 2017).

The training set is dealt to :math:`n = r^h` parts (:math:`r = d + 2`, :math:`d` = features
+ 1 per class row); a linear model is fitted on every part, once per (heterogeneity, seed);
:math:`f` of the :math:`n` models are Byzantine. A model-level attack replaces their parameter
vectors (:func:`radonml.attacks.corrupt` on the stack of flattened models, every class row
together: an attacker sends one model); ``label_flip`` refits them on flipped labels. The
coordinator drops models holding NaN or inf, and aggregates each class row with every rule
(:func:`radonml.aggregators.aggregate_with_fallback`, as
:func:`radonml.sklearn.aggregate_parameters` does per class, with a fallback where the rule
cannot run at this n), and the aggregate is scored on the test set.

iid parts are :class:`radonml.sklearn.RadonMachineClassifier`'s own (its
``estimators_samples_``, ``base_parameters_`` and ``aggregation_seed_``: the base models the
Radon machine fits); Dirichlet parts come from :func:`dirichlet_parts`, which keeps at least
one example of every class in every part (a linear model needs every class).
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from .._validation import check_int, check_rng
from ..aggregators import accepts_option, aggregate_with_fallback
from ..attacks import attack_info, label_flip
from ..exceptions import FallbackWarning
from ._common import (
    DATASETS,
    FALLBACK,
    Heterogeneity,
    RecordedWarnings,
    Stopwatch,
    aggregator_options,
    byzantine_count,
    load_dataset,
    make_attack,
)

__all__ = ["OneShot", "BaseModels", "fit_base_models", "dirichlet_parts", "aggregate_rows", "oneshot_cells"]


@dataclass(frozen=True)
class OneShot:
    """Setting (a): one-shot aggregation of scikit-learn linear models.

    Parameters
    ----------
    dataset : {"synthetic", "breast-cancer", "digits", "mnist1d"}, default "synthetic"
    n_samples : int, default 12500
        Rows of the synthetic set (and of mnist1d), 20% held out for testing.
    height : int, default 1
        The Radon machine's height :math:`h`: :math:`n = r^h` models.
    estimator : scikit-learn classifier, optional
        The base model (a linear model with ``coef_``); default
        ``LogisticRegression(max_iter=1000)``.

    Raises
    ------
    ValueError
        If ``dataset`` is not one of the built-in sets, ``n_samples`` < 10 or ``height`` < 1.

    See Also
    --------
    Federated : setting (b).
    benchmark : runs a grid over one or both settings.

    Examples
    --------
    >>> from radonml.robust import OneShot
    >>> OneShot("breast-cancer").describe()
    {'setting': 'oneshot', 'dataset': 'breast-cancer', 'n_samples': 12500, 'height': 1, 'estimator': 'LogisticRegression'}
    """

    dataset: str = "synthetic"
    n_samples: int = 12500
    height: int = 1
    estimator: object = field(default=None, compare=False)
    name = "oneshot"

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {list(DATASETS)}, got {self.dataset!r}")
        check_int(self.n_samples, "n_samples", minimum=10)
        check_int(self.height, "height", minimum=1)

    def base_estimator(self):
        if self.estimator is not None:
            return self.estimator
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000)

    def describe(self) -> dict:
        est = self.base_estimator()
        return {"setting": self.name, "dataset": self.dataset, "n_samples": self.n_samples, "height": self.height,
                "estimator": type(est).__name__}


def dirichlet_parts(y, n_parts: int, alpha: float, *, min_per_class: int = 1, rng=None) -> List[np.ndarray]:
    r"""Deal the rows of ``y`` to ``n_parts`` parts with Dirichlet label proportions, every part
    keeping ``min_per_class`` examples of every class.

    For every class :math:`c` with :math:`n_c` examples (shuffled), each part first gets
    ``min_per_class`` of them; the other :math:`n_c - n_{\text{parts}} \cdot` ``min_per_class``
    are dealt in proportions :math:`p_c \sim \mathrm{Dirichlet}(\alpha \mathbf 1)` (Hsu, Qi,
    Brown, 2019, as :func:`radonml.federated.split_dirichlet`, which has no per-class floor:
    a linear model fitted on a part needs every class).

    Parameters
    ----------
    y : (n,) array-like
        Class labels.
    n_parts : int
    alpha : float
        Concentration :math:`\alpha > 0`.
    min_per_class : int, default 1
    rng : None, int or numpy.random.Generator

    Returns
    -------
    list of n_parts (n_i,) int64 ndarrays
        Sorted row indices, disjoint, together all rows.

    Raises
    ------
    ValueError
        A class with fewer than ``n_parts * min_per_class`` examples, or a bad argument.

    Examples
    --------
    >>> y = np.repeat([0, 1], 50)
    >>> parts = dirichlet_parts(y, 4, 0.1, rng=0)
    >>> all(set(y[p]) == {0, 1} for p in parts), sum(map(len, parts))
    (True, 100)
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels, got shape {y.shape}")
    n_parts = check_int(n_parts, "n_parts", minimum=1)
    min_per_class = check_int(min_per_class, "min_per_class", minimum=0)
    if not (isinstance(alpha, (int, float, np.floating)) and np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    gen = check_rng(rng)
    parts: List[list] = [[] for _ in range(n_parts)]
    for c in np.unique(y):
        idx = gen.permutation(np.flatnonzero(y == c))
        floor = n_parts * min_per_class
        if idx.size < floor:
            raise ValueError(f"class {c!r} has {idx.size} examples, fewer than n_parts * min_per_class = {floor}")
        for i in range(n_parts):
            parts[i].append(idx[i * min_per_class:(i + 1) * min_per_class])
        rest = idx[floor:]
        p = gen.dirichlet(np.full(n_parts, float(alpha)))
        cuts = (np.cumsum(p)[:-1] * rest.size).astype(int)
        for i, chunk in enumerate(np.split(rest, cuts)):
            parts[i].append(chunk)
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def aggregate_rows(models, method, *, f: int = 0, seed: int = 0, n_threads: int = 1, options: Optional[dict] = None):
    r"""Aggregate :math:`n` linear models of :math:`k` parameter rows, row by row, as the
    coordinator of the benchmark does.

    Models holding NaN or inf are dropped (and ``f`` drops by their number); each row
    :math:`j` of the others is aggregated with
    :func:`radonml.aggregators.aggregate_with_fallback` (``f`` and ``n_threads`` to the steps
    that take them, ``rng=seed`` to those that take an ``rng``, so every row of the Radon point
    uses one grouping, as :func:`radonml.sklearn.aggregate_parameters` does; the geometric
    median where the rule cannot run at this n).

    Parameters
    ----------
    models : (n, k, d) array-like of float
        The parameter rows of the :math:`n` models (:func:`radonml.sklearn.linear_parameters`).
    method : str
        A registered aggregator or pipeline.
    f : int, default 0
        Byzantine models the rule is told to tolerate.
    seed : int, default 0
        The ``rng`` of randomised rules (the Radon tree's grouping).
    n_threads : int, default 1
        Threads of the rules that take ``n_threads``.
    options : dict, optional
        Further options of the rule (e.g. ``{"max_subsets": 10**6}`` for ``"mda"``).

    Returns
    -------
    rows : (k, d) ndarray of float64
    fallbacks : list of str
        The :class:`~radonml.FallbackWarning` messages (empty: the rule itself ran).
    dropped : int
        Models left out as non-finite.

    Raises
    ------
    ValueError
        If ``models`` is not 3-dimensional, or every model holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from radonml.robust import aggregate_rows
    >>> P = np.array([[[0.0, 0.0]], [[1.0, 1.0]], [[2.0, 2.0]], [[np.inf, 0.0]]])
    >>> rows, fallbacks, dropped = aggregate_rows(P, "median", f=1)
    >>> rows.tolist(), fallbacks, dropped
    ([[1.0, 1.0]], [], 1)
    """
    M = np.asarray(models, dtype=np.float64)
    if M.ndim != 3:
        raise ValueError(f"models must be an (n, k, d) array, got shape {M.shape}")
    finite = np.isfinite(M).all(axis=(1, 2))
    dropped = int(M.shape[0] - finite.sum())
    if dropped == M.shape[0]:
        raise ValueError("every model holds NaN or inf; nothing is left to aggregate")
    M = M[finite]
    opts = aggregator_options(method, max(0, int(f) - dropped), n_threads, options)
    if accepts_option(method, "rng"):
        opts["rng"] = int(seed)
    with RecordedWarnings() as caught:
        rows = np.stack([aggregate_with_fallback(M[:, j, :], method, fallback=FALLBACK, **opts)[0]
                         for j in range(M.shape[1])])
    return rows, caught.fallbacks, dropped


def _accuracy(rows, has_icpt, classes, X, y) -> float:
    from ..sklearn import linear_decision

    dec = linear_decision(rows, X, fit_intercept=has_icpt)
    pred = classes[(dec[:, 0] > 0).astype(np.intp)] if dec.shape[1] == 1 else classes[np.argmax(dec, axis=1)]
    return float(np.mean(pred == y))


@dataclass
class BaseModels:
    """The base models of setting (a) for one (heterogeneity, seed), made by
    :func:`fit_base_models`.

    Attributes
    ----------
    P : (n, k, d) ndarray of float64
        Their parameter rows (:func:`radonml.sklearn.linear_parameters`).
    parts : list of n int64 ndarrays
        The rows of the training set each was fitted on.
    estimators : list of n fitted estimators
    agg_seed : int
        The seed of the Radon tree's grouping (and of any randomised rule).
    classes : (K,) ndarray
    has_icpt : bool
        Whether the last column of ``P`` is the intercept.

    Examples
    --------
    >>> from radonml.datasets import load_breast_cancer
    >>> from radonml.robust import OneShot, fit_base_models, parse_heterogeneity
    >>> X, y, _, _ = load_breast_cancer()
    >>> fit = fit_base_models(OneShot("breast-cancer"), parse_heterogeneity("iid"), X, y, seed=0)
    >>> fit.P.shape, fit.has_icpt, fit.classes.tolist(), len(fit.parts)   # r = 30 + 1 + 2 = 33 models
    ((33, 1, 31), True, [0, 1], 33)
    """

    P: np.ndarray
    parts: list
    estimators: list
    agg_seed: int
    classes: np.ndarray
    has_icpt: bool


def fit_base_models(setting: OneShot, het: Heterogeneity, X, y, seed: int) -> BaseModels:
    """Fit the :math:`n = r^h` base models of setting (a): with iid parts, a
    :class:`radonml.sklearn.RadonMachineClassifier` of height ``setting.height`` and
    ``random_state=seed`` (its partition, base models and aggregation seed); with Dirichlet
    parts, ``clone(estimator)`` on every part of :func:`dirichlet_parts` (seeded by
    ``default_rng([seed, 1])``).

    Parameters
    ----------
    setting : OneShot
        The data set, the height :math:`h` and the base estimator.
    het : Heterogeneity
        How the rows are dealt to the models (:func:`parse_heterogeneity`).
    X : (n_samples, n_features) ndarray of float64
        The training set.
    y : (n_samples,) ndarray
        Its labels.
    seed : int
        Seed of the partition, the base models and the aggregation.

    Returns
    -------
    BaseModels
        The :math:`n = r^h` fitted models, :math:`r = d + 2` for :math:`d` parameters per row.

    Examples
    --------
    >>> from radonml.datasets import load_breast_cancer
    >>> from radonml.robust import OneShot, fit_base_models, parse_heterogeneity
    >>> X, y, _, _ = load_breast_cancer()
    >>> fit = fit_base_models(OneShot("breast-cancer"), parse_heterogeneity("dirichlet:1"), X, y, seed=0)
    >>> fit.P.shape, sum(len(p) for p in fit.parts) == len(y)
    ((33, 1, 31), True)
    """
    from sklearn.base import clone

    from ..radon import radon_number
    from ..sklearn import RadonMachineClassifier, linear_parameters

    est = setting.base_estimator()
    if het.kind == "iid":
        rm = RadonMachineClassifier(est, height=setting.height, random_state=seed).fit(X, y)
        return BaseModels(rm.base_parameters_, rm.estimators_samples_, rm.estimators_, int(rm.aggregation_seed_),
                       rm.classes_, bool(rm.has_intercept_))
    classes = np.unique(y)
    has_icpt = bool(est.get_params().get("fit_intercept", True))
    d = X.shape[1] + has_icpt  # per class row
    n = radon_number(d) ** setting.height
    gen = np.random.default_rng([seed, 1])
    parts = dirichlet_parts(y, n, het.alpha, min_per_class=1, rng=gen)
    seeds = gen.integers(0, 2**31 - 1, size=n)
    ests = []
    for part, s in zip(parts, seeds):
        e = clone(est)
        if "random_state" in e.get_params():
            e.set_params(random_state=int(s))
        ests.append(e.fit(X[part], y[part]))
    P = np.stack([linear_parameters(e, fit_intercept=has_icpt) for e in ests])
    return BaseModels(P, parts, ests, int(gen.integers(0, 2**31 - 1)), classes, has_icpt)


def _label_flipped(fit: BaseModels, mask, X, y) -> np.ndarray:
    """The base parameters with the Byzantine parts' models refitted on flipped labels."""
    from sklearn.base import clone

    from ..sklearn import linear_parameters

    P = fit.P.copy()
    for i in np.flatnonzero(mask):
        part = fit.parts[i]
        e = clone(fit.estimators[i]).fit(X[part], label_flip(y[part], fit.classes))
        P[i] = linear_parameters(e, fit_intercept=fit.has_icpt)
    return P


def _attack_key(name: str) -> int:
    return zlib.crc32(name.encode())


def oneshot_cells(setting: OneShot, het: Heterogeneity, seed: int, aggregators: Sequence[str], attacks: Sequence[str],
                  fractions: Sequence[float], attack_params: Optional[dict] = None, aware: bool = True,
                  aggregator_params: Optional[dict] = None) -> List[dict]:
    """All cells of setting (a) for one heterogeneity and seed: every aggregator clean (f = 0)
    and under every attack at every fraction. See :func:`radonml.robust.benchmark` for the
    cells' keys.

    The Byzantine models at a given f are ``default_rng([seed, 2, f]).choice(n, f,
    replace=False)`` under every attack and aggregator; a model-level attack draws from
    ``default_rng([seed, 3, f, zlib.crc32(name)])``; ``label_flip`` refits
    ``clone(estimators[i])`` on the part's flipped labels.

    Parameters
    ----------
    setting : OneShot
        The data set, the height and the base estimator.
    het : Heterogeneity
        How the training rows are dealt to the models.
    seed : int
        Seed of the data, the partition, the base models and the attacks.
    aggregators : sequence of str
        Registered aggregators or pipelines (``"nnm>krum"``).
    attacks : sequence of str
        Names of :mod:`radonml.attacks`.
    fractions : sequence of float
        Fractions of Byzantine models (:func:`byzantine_count`).
    attack_params : dict, optional
        Attack name to its options.
    aware : bool, default True
        Tell the attacks that take it (``min_max``) the aggregator they attack.
    aggregator_params : dict, optional
        Aggregator name to its options.

    Returns
    -------
    cells : list of dict
        One per (aggregator, f, attack), the clean cells (f = 0, attack ``"none"``) first.

    Examples
    --------
    >>> from radonml.robust import OneShot, parse_heterogeneity
    >>> from radonml.robust.oneshot import oneshot_cells
    >>> cells = oneshot_cells(OneShot("breast-cancer"), parse_heterogeneity("iid"), 0, ["mean", "median"],
    ...                       ["sign_flip"], [0.1])
    >>> [(c["aggregator"], c["attack"], c["f"]) for c in cells]
    [('mean', 'none', 0), ('median', 'none', 0), ('mean', 'sign_flip', 3), ('median', 'sign_flip', 3)]
    """
    clock = Stopwatch()
    attack_params = attack_params or {}
    aggregator_params = aggregator_params or {}
    ds = load_dataset(setting.dataset, setting.n_samples, seed)
    X, y = np.asarray(ds.X_train, dtype=np.float64), np.asarray(ds.y_train)
    Xt, yt = np.asarray(ds.X_test, dtype=np.float64), np.asarray(ds.y_test)
    fit = fit_base_models(setting, het, X, y, seed)
    n, k, d = fit.P.shape
    base = {"setting": setting.name, "dataset": setting.dataset, "heterogeneity": het.label, "seed": int(seed),
            "n": int(n), "d": int(d), "k": int(k)}
    fit_cpu = clock.cpu
    cells = []

    def cell(method, attack, f, fraction, M, mask):
        t = Stopwatch()
        out = {**base, "f": int(f), "fraction": float(fraction), "aggregator": method, "attack": attack}
        try:
            rows, fallbacks, dropped = aggregate_rows(M, method, f=f, seed=fit.agg_seed,
                                                      options=aggregator_params.get(method))
        except ValueError as exc:
            out.update(accuracy=float("nan"), used=None, fell_back=False, fallback_reason=None, dropped=0,
                       captured=False, deviation=float("nan"), error=str(exc), cpu_s=t.cpu)
            return out
        honest = M[~mask].reshape(int((~mask).sum()), k * d)
        agg = rows.ravel()
        byz = M[mask].reshape(int(mask.sum()), k * d)
        byz = byz[np.isfinite(byz).all(axis=1)]
        scale = np.maximum(1.0, np.abs(byz).max(axis=1)) if byz.size else np.ones(0)
        captured = bool(byz.size and (np.abs(byz - agg).max(axis=1) <= 1e-9 * scale).any())
        hm = honest.mean(axis=0)
        out.update(accuracy=_accuracy(rows, fit.has_icpt, fit.classes, Xt, yt),
                   used=FALLBACK if fallbacks else method, fell_back=bool(fallbacks),
                   fallback_reason=fallbacks[0] if fallbacks else None, dropped=int(dropped), captured=captured,
                   deviation=float(np.linalg.norm(agg - hm) / max(np.linalg.norm(hm), 1e-300)), error=None,
                   cpu_s=t.cpu)
        return out

    none = np.zeros(n, dtype=bool)
    for method in aggregators:
        cells.append(cell(method, "none", 0, 0.0, fit.P, none))
    flat = fit.P.reshape(n, k * d)
    seen = set()
    for fraction in fractions:
        f = byzantine_count(fraction, n)
        if f in seen:
            continue
        seen.add(f)
        mask = np.zeros(n, dtype=bool)
        mask[np.random.default_rng([seed, 2, f]).choice(n, size=f, replace=False)] = True
        for name in attacks:
            info = attack_info(name)
            params = attack_params.get(name)
            gen_key = [seed, 3, f, _attack_key(name)]
            if info.kind == "data":
                M = _label_flipped(fit, mask, X, y)
                cells.extend(cell(method, name, f, fraction, M, mask) for method in aggregators)
                continue
            shared = None
            for method in aggregators:
                if aware and info.knows_aggregator:
                    rule = _coordinator(method, k, d, f, fit.agg_seed, aggregator_params.get(method))
                    atk = make_attack(name, f, params, aggregator=rule)
                else:
                    if shared is None:
                        shared = make_attack(name, f, params)
                    atk = shared
                try:
                    M = atk(flat, byzantine=mask, rng=np.random.default_rng(gen_key)).models.reshape(n, k, d)
                except ValueError as exc:
                    cells.append({**base, "f": int(f), "fraction": float(fraction), "aggregator": method,
                                  "attack": name, "accuracy": float("nan"), "used": None, "fell_back": False,
                                  "fallback_reason": None, "dropped": 0, "captured": False,
                                  "deviation": float("nan"), "error": f"attack: {exc}", "cpu_s": 0.0})
                    continue
                cells.append(cell(method, name, f, fraction, M, mask))
    for c in cells:
        c["fit_cpu_s"] = fit_cpu
    return cells


def _coordinator(method, k: int, d: int, f: int, seed: int, options: Optional[dict] = None):
    """The coordinator's rule as a function of the flattened stack (n, k d), for an attack that
    knows the aggregator (min-max): per class row, with its fallback and seed."""

    def aggregate_flat(X, weights=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)
            rows, _, _ = aggregate_rows(X.reshape(X.shape[0], k, d), method, f=f, seed=seed, options=options)
        return rows.ravel()

    aggregate_flat.__name__ = method
    return aggregate_flat
