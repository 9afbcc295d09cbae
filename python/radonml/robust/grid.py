"""The grid of :func:`benchmark`: settings x heterogeneity x seeds x aggregators x f x attacks,
run in tasks (in parallel with joblib when asked), gathered into a :class:`RobustResult`."""

from __future__ import annotations

import numbers
from typing import Optional, Sequence

import numpy as np

from .._validation import check_int
from ..aggregators import check_method
from ..attacks import Attack, attack_info
from ._common import (
    DEFAULT_AGGREGATOR_PARAMS,
    DEFAULT_AGGREGATORS,
    DEFAULT_ATTACK_PARAMS,
    DEFAULT_ATTACKS,
    DEFAULT_FRACTIONS,
    DEFAULT_HETEROGENEITY,
    Stopwatch,
    byzantine_count,
    load_dataset,
    make_attack,
    parse_heterogeneity,
)
from .capture import radon_capture
from .federated import Federated, federated_cells
from .oneshot import OneShot, fit_base_models, oneshot_cells
from .result import RobustResult

__all__ = ["benchmark", "SETTINGS", "IDENTICAL_ATTACKS"]

SETTINGS = ("oneshot", "federated")
#: Attacks whose Byzantine models are all one vector (the ones that capture a Radon group).
IDENTICAL_ATTACKS = ("alie", "ipm", "mimic", "min_max", "min_sum")


def _settings(settings):
    if settings is None:
        settings = SETTINGS
    if isinstance(settings, (str, OneShot, Federated)):
        settings = [settings]
    out = []
    for s in settings:
        if s == "oneshot":
            s = OneShot()
        elif s == "federated":
            s = Federated()
        if not isinstance(s, (OneShot, Federated)):
            raise TypeError(f"settings must be 'oneshot', 'federated', OneShot(...) or Federated(...), got {s!r}")
        out.append(s)
    if not out:
        raise ValueError("settings must name at least one setting")
    return out


def _names(values, what: str, check) -> list:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{what} must not be empty")
    for v in values:
        check(v)
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must be distinct, got {values}")
    return values


def _fractions(fractions) -> list:
    if isinstance(fractions, numbers.Real):
        fractions = [fractions]
    out = []
    for p in fractions:
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < float(p) < 1:
            raise ValueError(f"fractions must lie in (0, 1), got {p!r}")
        out.append(float(p))
    if not out:
        raise ValueError("fractions must not be empty")
    return sorted(set(out))


def _attack_params(attacks, attack_params) -> dict:
    """The defaults, updated by the given parameters; each checked against its attack now."""
    params = {a: dict(DEFAULT_ATTACK_PARAMS.get(a, {})) for a in attacks}
    for name, p in (attack_params or {}).items():
        if name not in params:
            raise ValueError(f"attack_params names {name!r}, which is not among the attacks {attacks}")
        if not isinstance(p, dict):
            raise TypeError(f"attack_params[{name!r}] must be a dict of parameters, got {type(p).__name__}")
        params[name].update(p)
    for name, p in params.items():
        Attack(name, f=1, **p)  # unknown parameters fail here, before any work
    return params


def _aggregator_params(aggregators, aggregator_params) -> dict:
    """The defaults, updated by the given options; each checked against its rule now."""
    from ..aggregators import accepts_option

    params = {a: dict(DEFAULT_AGGREGATOR_PARAMS.get(a, {})) for a in aggregators}
    for name, p in (aggregator_params or {}).items():
        if name not in params:
            raise ValueError(f"aggregator_params names {name!r}, which is not among the aggregators {aggregators}")
        if not isinstance(p, dict):
            raise TypeError(f"aggregator_params[{name!r}] must be a dict of options, got {type(p).__name__}")
        for key in p:
            if key in ("f", "n_threads", "rng") or not accepts_option(name, key):
                raise ValueError(f"aggregator_params[{name!r}] sets {key!r}, which {name!r} does not take or the "
                                 "benchmark sets itself (f, n_threads, rng)")
        params[name].update(p)
    return {a: p for a, p in params.items() if p}


def _run_oneshot(setting, het, seed, aggregators, attacks, fractions, params, aware, agg_params):
    clock = Stopwatch()
    cells = oneshot_cells(setting, het, seed, aggregators, attacks, fractions, params, aware, agg_params)
    return cells, clock.cpu


def _run_federated(setting, het, seed, method, attacks, fractions, params, aware, agg_params):
    import torch

    clock = Stopwatch()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread per task is fastest
    try:
        cells = federated_cells(setting, het, seed, method, attacks, fractions, params, aware, agg_params)
    finally:
        torch.set_num_threads(threads)
    return cells, clock.cpu


def _capture(setting: OneShot, het, seed: int, attacks, params, fractions) -> list:
    """radon_capture on setting (a)'s base models, for each attack that sends identical vectors
    (computed at the largest f of the grid)."""
    ds = load_dataset(setting.dataset, setting.n_samples, seed)
    fit = fit_base_models(setting, het, np.asarray(ds.X_train, dtype=np.float64), np.asarray(ds.y_train), seed)
    n, k, d = fit.P.shape
    honest = fit.P[:, 0, :]  # all n base models (class row 0) are the honest pool
    f = byzantine_count(max(fractions), n)
    out = []
    for name in attacks:
        if name not in IDENTICAL_ATTACKS:
            continue
        atk = make_attack(name, f, params.get(name))  # min-max: the agnostic form
        stack = np.vstack([honest, honest[:f]])  # f Byzantine rows after the n honest ones
        b = atk(stack, byzantine=np.arange(n, n + f), rng=np.random.default_rng([seed, 4])).models[n]
        res = radon_capture(honest, b, counts=(0, 1, 2, 3), n_groups=100, rng=np.random.default_rng([seed, 5]),
                            label=name)
        out.append({**res.to_dict(), "setting": setting.name, "heterogeneity": het.label, "f": f})
    return out


def _order(cell: dict, aggregators, attacks) -> tuple:
    return (SETTINGS.index(cell["setting"]), cell["heterogeneity"] != "iid", cell["heterogeneity"], cell["seed"],
            aggregators.index(cell["aggregator"]), cell["f"],
            -1 if cell["attack"] == "none" else attacks.index(cell["attack"]))


def benchmark(
    settings=None,
    *,
    aggregators: Sequence[str] = DEFAULT_AGGREGATORS,
    attacks: Sequence[str] = DEFAULT_ATTACKS,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    heterogeneity: Sequence = DEFAULT_HETEROGENEITY,
    seeds: Sequence[int] = (0,),
    attack_params: Optional[dict] = None,
    aggregator_params: Optional[dict] = None,
    aware: bool = True,
    capture: bool = True,
    n_jobs: int = 1,
    progress: bool = False,
) -> RobustResult:
    r"""Every aggregator under every attack, at every fraction of Byzantine models, for iid
    and non-iid data, in one-shot aggregation and in federated rounds: the grid of
    ``radonml robust``.

    For each setting (:class:`OneShot`: linear scikit-learn models aggregated once, the Radon
    machine's setting; :class:`Federated`: rounds of a protocol in
    :func:`radonml.federated.simulate`), heterogeneity (``"iid"`` or Dirichlet label skew) and
    seed, every aggregator runs once clean (:math:`f = 0`) and once per attack at every
    :math:`f = \mathrm{round}(p\, n)` (:math:`p` in ``fractions``, at least 1), where
    :math:`n` is the number of models or learners. A rule that takes ``f`` is told the true
    :math:`f`; one that cannot run at this :math:`n` and :math:`f` (Krum with
    :math:`n < 2f + 3`, Bulyan with :math:`n < 4f + 3`, the Radon point with fewer than
    :math:`d + 2` models...) falls back to the geometric median through the registry's
    mechanism (:func:`radonml.aggregators.aggregate_with_fallback`), and the cell records it.
    The same :math:`f` models (learners) are Byzantine under every attack and aggregator of a
    (setting, heterogeneity, seed, f). Min-max, which knows the aggregator
    (:func:`radonml.attacks.attack_info` ``(name).knows_aggregator``), attacks the rule that
    actually runs (with ``aware=True``).

    Reported, as ByzFL does (Allouah et al.; González et al., 2025) and beyond: each
    aggregator's accuracy under its **worst** attack at every :math:`f`
    (:meth:`RobustResult.summary`, :meth:`RobustResult.heatmap`, :meth:`RobustResult.table`),
    the worst attack's name, the clean accuracy, the first :math:`f` at which the rule breaks
    (:meth:`RobustResult.breakdown`), the fallbacks, whether the aggregate *was* a Byzantine
    model (``captured``), and how colluding identical vectors capture the Radon point
    (:func:`radon_capture`, in :attr:`RobustResult.capture`).

    Parameters
    ----------
    settings : None, str, OneShot, Federated or a sequence of them
        Default both, with their defaults (``"oneshot"`` and ``"federated"`` name those).
    aggregators : sequence of str, default DEFAULT_AGGREGATORS
        Registered names or pipelines (``"nnm>krum"``).
    attacks : sequence of str, default DEFAULT_ATTACKS
        Names of :func:`radonml.attacks.available_attacks`.
    fractions : sequence of float, default (0.05, 0.1, 0.2, 0.3)
        Fractions :math:`p \in (0, 1)` of Byzantine models.
    heterogeneity : sequence, default ("iid", "dirichlet:0.3")
        ``"iid"``, ``"dirichlet:A"`` or a concentration ``A`` (see
        :func:`radonml.robust.parse_heterogeneity`).
    seeds : sequence of int, default (0,)
        Repetitions (data split, initialisation, Byzantine draws); accuracies are averaged
        over them before the worst attack is taken.
    attack_params : dict, optional
        ``{attack: {parameter: value}}``, updating :data:`DEFAULT_ATTACK_PARAMS`.
    aggregator_params : dict, optional
        ``{aggregator: {option: value}}``, updating :data:`DEFAULT_AGGREGATOR_PARAMS` (``f``,
        ``n_threads`` and ``rng`` are the benchmark's own).
    aware : bool, default True
        Whether min-max knows the aggregator (else its aggregator-agnostic form).
    capture : bool, default True
        Measure :func:`radon_capture` on setting (a)'s iid base models.
    n_jobs : int, default 1
        Parallel processes (joblib; -1: all cores). Tasks: one per (heterogeneity, seed) in
        setting (a), one per (heterogeneity, seed, aggregator) in setting (b).
    progress : bool, default False
        A tqdm bar over the tasks.

    Returns
    -------
    RobustResult
        ``cells``: one dict per (setting, heterogeneity, seed, aggregator, f, attack) with
        ``setting``, ``dataset``, ``heterogeneity``, ``seed``, ``n``, ``d``, ``k`` (class rows
        per model), ``f``, ``fraction``, ``aggregator``, ``attack`` (``"none"`` at f = 0),
        ``accuracy`` (test accuracy of the aggregate / the final global model), ``used`` (the
        rule that ran), ``fell_back``, ``fallback_reason``, ``dropped`` (non-finite models the
        coordinator left out), ``captured`` (setting (a): the aggregate equals a Byzantine
        model), ``deviation`` (setting (a): relative distance of the aggregate from the honest
        mean), ``error`` (why a cell could not run, else None), ``cpu_s``; setting (b) adds
        ``fallback_aggregations``, ``replaced`` and ``skipped`` (see
        :func:`radonml.federated.simulate`).

    Raises
    ------
    TypeError, ValueError
        An unknown setting, aggregator, attack or attack parameter, a fraction outside
        (0, 1), a bad heterogeneity, empty lists.

    Examples
    --------
    >>> from radonml.robust import benchmark, OneShot
    >>> res = benchmark(OneShot(n_samples=4000), aggregators=["mean", "median", "radon"],
    ...                 attacks=["sign_flip", "ipm"], fractions=[0.05, 0.1], heterogeneity=["iid"],
    ...                 capture=False)
    >>> hm = res.heatmap("oneshot", "iid")
    >>> hm["aggregators"], hm["f"]
    (['mean', 'median', 'radon'], [1, 2])
    >>> hm["attack"][2, 1], bool(hm["captured"][2, 1])   # radon at f = 2: two equal vectors capture it
    ('ipm', True)
    """
    clock = Stopwatch()
    settings = _settings(settings)
    aggregators = _names(aggregators, "aggregators", check_method)
    attacks = _names(attacks, "attacks", attack_info)
    fractions = _fractions(fractions)
    hets = [parse_heterogeneity(h) for h in ([heterogeneity] if isinstance(heterogeneity, str) else heterogeneity)]
    if not hets or len({h.label for h in hets}) != len(hets):
        raise ValueError(f"heterogeneity must be non-empty and distinct, got {heterogeneity!r}")
    seeds = [check_int(s, "seed", minimum=0) for s in ([seeds] if isinstance(seeds, numbers.Integral) else seeds)]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be non-empty and distinct, got {seeds}")
    params = _attack_params(attacks, attack_params)
    agg_params = _aggregator_params(aggregators, aggregator_params)
    n_jobs = check_int(n_jobs, "n_jobs")
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs}")
    tasks = []
    for setting in settings:
        for het in hets:
            for seed in seeds:
                if isinstance(setting, OneShot):
                    tasks.append((_run_oneshot, (setting, het, seed, aggregators, attacks, fractions, params, aware,
                                                 agg_params)))
                else:
                    for method in aggregators:
                        tasks.append((_run_federated, (setting, het, seed, method, attacks, fractions, params, aware,
                                                       agg_params)))
    from joblib import Parallel, delayed

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc="radonml robust", unit="task")
    cells, task_cpu = [], 0.0
    in_process = n_jobs == 1
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    for got, cpu in runner(delayed(fn)(*args) for fn, args in tasks):
        cells.extend(got)
        task_cpu += cpu
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    cells.sort(key=lambda c: _order(c, aggregators, attacks))
    cap = []
    if capture and "radon" in aggregators:
        for setting in settings:
            if isinstance(setting, OneShot):
                cap.extend(_capture(setting, hets[0], seeds[0], attacks, params, fractions))
    config = {
        "settings": [s.describe() for s in settings],
        "aggregators": aggregators,
        "attacks": attacks,
        "fractions": fractions,
        "heterogeneity": [h.label for h in hets],
        "seeds": seeds,
        "attack_params": params,
        "aggregator_params": agg_params,
        "aware": bool(aware),
        "n_jobs": n_jobs,
    }
    cpu = clock.cpu if in_process else clock.cpu + task_cpu
    return RobustResult(cells=cells, config=config, capture=cap, wall_s=clock.wall, cpu_s=cpu)
