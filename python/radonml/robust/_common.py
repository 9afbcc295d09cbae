"""What the two settings of :mod:`radonml.robust` share (private module, public names): the
grid's defaults, heterogeneity specifications, the options each aggregator gets, the attacks
as the benchmark configures them, and which rule actually runs at a given n (fallbacks)."""

from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from ..aggregators import check_method
from ..attacks import Attack, attack_info
from ..exceptions import FallbackWarning, RadonmlWarning

__all__ = [
    "DEFAULT_AGGREGATORS",
    "DEFAULT_ATTACKS",
    "DEFAULT_ATTACK_PARAMS",
    "DEFAULT_AGGREGATOR_PARAMS",
    "DEFAULT_FRACTIONS",
    "DEFAULT_HETEROGENEITY",
    "FALLBACK",
    "Heterogeneity",
    "parse_heterogeneity",
    "byzantine_count",
    "aggregator_options",
    "effective_method",
    "make_attack",
    "Stopwatch",
    "RecordedWarnings",
    "load_dataset",
    "DATASETS",
]

#: The rules of the default grid: the coordinate-wise, the distance-based and the geometric
#: families, one pre-aggregator pipeline, and the Radon point.
DEFAULT_AGGREGATORS = ("mean", "median", "trimmed_mean", "meamed", "geometric_median", "centered_clipping", "krum",
                       "multi_krum", "bulyan", "mda", "nnm>krum", "radon")
#: Every registered attack of radonml.attacks (model-level and label flip).
DEFAULT_ATTACKS = ("sign_flip", "gaussian_noise", "alie", "ipm", "mimic", "inf_nan", "min_max", "min_sum", "label_flip")
#: The attacks' parameters in the benchmark: those of the Flower App in examples/flower-app
#: (a sign flip scaled by 4, which reverses the mean for f/n > 1/5; IPM with the paper's 0.1);
#: the others use their defaults (ALIE's z_max(n, f), min-max's unit-vector perturbation).
DEFAULT_ATTACK_PARAMS: Dict[str, dict] = {
    "sign_flip": {"scale": 4.0},
    "gaussian_noise": {"sigma": 1.0},
    "ipm": {"epsilon": 0.1},
    "inf_nan": {"value": float("inf")},
    "min_max": {"perturbation": "unit_vec"},
    "min_sum": {"perturbation": "unit_vec"},
}
#: Options of the aggregators in the benchmark (besides f and n_threads): minimum-diameter
#: averaging searches at most 10^6 subsets exactly (all of them at n = 21; at n = 40 up to
#: f = 5), above that its documented 2-approximation, which keeps a cell within seconds where
#: the exact search of C(40, 8) = 7.7e7 subsets, repeated by an attack that knows the rule,
#: takes minutes.
DEFAULT_AGGREGATOR_PARAMS: Dict[str, dict] = {"mda": {"max_subsets": 10**6}}
#: Fractions of Byzantine models: f = the nearest integer to fraction * n, at least 1.
DEFAULT_FRACTIONS = (0.05, 0.1, 0.2, 0.3)
DEFAULT_HETEROGENEITY = ("iid", "dirichlet:0.3")
#: What a rule that cannot run at this n (e.g. Krum with n < 2f + 3) aggregates with instead.
FALLBACK = "geometric_median"
DATASETS = ("synthetic", "breast-cancer", "digits", "mnist1d")


@dataclass(frozen=True)
class Heterogeneity:
    r"""How the training data are dealt to the n models: ``"iid"``, or label proportions drawn
    from a Dirichlet(``alpha``) distribution (Hsu, Qi, Brown, 2019).

    Each model's share of class :math:`c` follows :math:`p \sim \mathrm{Dir}(\alpha \mathbf{1})`
    over the models: a small :math:`\alpha` (0.1) gives each model a few classes, a large one
    (100) approaches the iid split.

    Parameters
    ----------
    kind : {"iid", "dirichlet"}
        The kind of split.
    alpha : float or None, default None
        The Dirichlet concentration (> 0) of ``"dirichlet"``; None for ``"iid"``.

    References
    ----------
    .. [1] T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the Effects of Non-Identical Data
       Distribution for Federated Visual Classification", arXiv:1909.06335, 2019.

    Examples
    --------
    >>> from radonml.robust import Heterogeneity
    >>> Heterogeneity("dirichlet", 0.3).label, str(Heterogeneity("iid"))
    ('dirichlet(0.3)', 'iid')
    """

    kind: str
    alpha: Optional[float] = None

    @property
    def label(self) -> str:
        return "iid" if self.kind == "iid" else f"dirichlet({self.alpha:g})"

    def __str__(self) -> str:
        return self.label


def parse_heterogeneity(spec) -> Heterogeneity:
    r"""``"iid"``, ``"dirichlet:A"`` / ``"dirichlet(A)"`` or a positive number ``A`` (a
    Dirichlet concentration) as a :class:`Heterogeneity`.

    Parameters
    ----------
    spec : str, float or Heterogeneity
        ``"iid"``, ``"dirichlet:A"``, ``"dirichlet(A)"`` or ``A`` > 0; a
        :class:`Heterogeneity` is returned as it is.

    Returns
    -------
    Heterogeneity

    Raises
    ------
    ValueError
        If ``spec`` is none of these, or ``A`` is not a positive finite number.

    Examples
    --------
    >>> from radonml.robust import parse_heterogeneity
    >>> parse_heterogeneity("dirichlet:0.3").label, parse_heterogeneity(1.0).label
    ('dirichlet(0.3)', 'dirichlet(1)')
    """
    if isinstance(spec, Heterogeneity):
        return spec
    alpha = None
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        alpha = float(spec)
    elif isinstance(spec, str):
        s = spec.strip().lower()
        if s == "iid":
            return Heterogeneity("iid")
        for prefix, suffix in (("dirichlet:", ""), ("dirichlet(", ")")):
            if s.startswith(prefix) and s.endswith(suffix):
                try:
                    alpha = float(s[len(prefix):len(s) - len(suffix)])
                except ValueError:
                    alpha = None
                break
    if alpha is None or not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"heterogeneity must be 'iid', 'dirichlet:A' or a positive Dirichlet concentration A, "
                         f"got {spec!r}")
    return Heterogeneity("dirichlet", alpha)


def byzantine_count(fraction: float, n: int) -> int:
    r"""f for a fraction of n models: the nearest integer to ``fraction * n`` (halves up), at
    least 1 and at most n - 1.

    :math:`f = \min(\max(\lfloor \text{fraction} \cdot n + 1/2 \rfloor, 1), n - 1)`.

    Parameters
    ----------
    fraction : float in [0, 1]
        Fraction of Byzantine models.
    n : int
        Number of models (>= 2).

    Returns
    -------
    f : int
        The number of Byzantine models, in [1, n - 1].

    Examples
    --------
    >>> from radonml.robust import byzantine_count
    >>> [byzantine_count(p, 21) for p in (0.05, 0.1, 0.2, 0.3)]
    [1, 2, 4, 6]
    """
    f = int(np.floor(fraction * n + 0.5))
    return int(min(max(f, 1), n - 1))


def aggregator_options(method, f: int, n_threads: int = 1, params: Optional[dict] = None) -> dict:
    """The options the benchmark gives ``method``: ``params`` (its own options, e.g.
    ``{"max_subsets": 10**6}``), ``f`` (the true number of Byzantine models) to every step that
    takes it, ``n_threads`` to every step that takes it."""
    steps = check_method(method)
    out = dict(params or {})
    if any(r.accepts("f") for r in steps):
        out["f"] = int(f)
    if any(r.accepts("n_threads") for r in steps):
        out["n_threads"] = int(n_threads)
    return out


def effective_method(method: str, n: int, d: int, options: dict, fallback: str = FALLBACK) -> Tuple[str, Optional[str]]:
    """The rule that :func:`radonml.aggregators.aggregate_with_fallback` runs on n models in
    R^d with these options, and why it falls back (None if it does not): each step's
    registered condition, in order, at the number of models it would get."""
    for rule in check_method(method):
        opts = {k: v for k, v in options.items() if rule.accepts(k)}
        if rule.condition is not None:
            why = rule.condition(n, d, **opts)
            if why:
                return fallback, why
        if rule.kind == "preaggregator" and rule.n_out is not None:
            n = int(rule.n_out(n, **opts))
    return method, None


def make_attack(name: str, f: int, params: Optional[dict] = None, *, aggregator=None,
                aggregator_options: Optional[dict] = None) -> Attack:
    """``Attack(name, f=f, **params)``; an attack that knows the aggregator (min-max) also gets
    ``aggregator`` and ``aggregator_options`` when ``aggregator`` is given."""
    params = dict(DEFAULT_ATTACK_PARAMS.get(name, {}) if params is None else params)
    if aggregator is not None and attack_info(name).knows_aggregator:
        params["aggregator"] = aggregator
        if aggregator_options:
            params["aggregator_options"] = dict(aggregator_options)
    return Attack(name, f=f, **params)


class Stopwatch:
    """Wall and CPU seconds (this process) since it was made."""

    def __init__(self):
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()

    @property
    def wall(self) -> float:
        return time.perf_counter() - self.wall0

    @property
    def cpu(self) -> float:
        return time.process_time() - self.cpu0


class RecordedWarnings:
    """Context manager that records the warnings radonml raises inside: the
    :class:`~radonml.FallbackWarning` messages in ``.fallbacks``, the others (e.g. an attack the
    simulator could not run on some aggregation) in ``.notes``; every other warning goes through."""

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self._log = self._cm.__enter__()
        warnings.simplefilter("always", RadonmlWarning)
        self.fallbacks = []
        self.notes = []
        return self

    def __exit__(self, *exc):
        caught = list(self._log)
        self._cm.__exit__(*exc)
        for w in caught:
            if issubclass(w.category, FallbackWarning):
                self.fallbacks.append(str(w.message))
            elif issubclass(w.category, RadonmlWarning):
                self.notes.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False


def load_dataset(name: str, n_samples: int, seed: int):
    """One of the built-in data sets (:mod:`radonml.datasets`) as a train/test split: the
    synthetic one (SUSY-like, 18 features, binary) with ``n_samples`` rows, 20% for testing, and
    mnist1d with ``n_samples`` (its published generator seed); digits and breast-cancer are
    bundled (``seed`` draws their test split)."""
    from .. import datasets

    if name == "synthetic":
        return datasets.load_synthetic(n_samples, test_size=0.2, seed=seed)
    if name == "breast-cancer":
        return datasets.load_breast_cancer(seed=seed)
    if name == "digits":
        return datasets.load_digits(seed=seed)
    if name == "mnist1d":
        return datasets.load_mnist1d(n_samples)  # the published generator seed
    raise ValueError(f"dataset must be one of {list(DATASETS)}, got {name!r}")
