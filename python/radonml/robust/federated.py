r"""Setting (b) of :func:`radonml.robust.benchmark`: federated rounds in the simulator
(:func:`radonml.federated.simulate`) with Byzantine learners.

:math:`m` learners share a small torch model (logistic regression by default) and train on
their shards (iid or Dirichlet label skew, :func:`radonml.federated.split_indices`); the
protocol (periodic averaging by default) aggregates with the rule under test, told ``f``.
:math:`f` learners, drawn once per (f, seed), are Byzantine: ``simulate(..., attack=...)``
replaces their messages in every aggregation (on their updates, by default), or they train on
flipped labels. The score is the global model's final test accuracy. Needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .._validation import check_int
from ._common import (
    DATASETS,
    Heterogeneity,
    RecordedWarnings,
    Stopwatch,
    aggregator_options,
    byzantine_count,
    effective_method,
    load_dataset,
    make_attack,
)

__all__ = ["Federated", "PROTOCOLS", "federated_cells"]

PROTOCOLS = ("periodic", "sgd", "dynamic", "oneshot")


@dataclass(frozen=True)
class Federated:
    """Setting (b): federated rounds in the simulator.

    Parameters
    ----------
    dataset : {"synthetic", "breast-cancer", "digits", "mnist1d"}, default "synthetic"
    n_samples : int, default 12500
        Rows of the synthetic set (and of mnist1d), 20% held out for testing.
    learners : int, default 40
        :math:`m`; 40 = d + 2 for logistic regression on the synthetic set (d = 2 x 19), so
        that the Radon point can run.
    protocol : {"periodic", "sgd", "dynamic", "oneshot"}, default "periodic"
        :class:`~radonml.federated.PeriodicAveraging` (every ``period`` steps),
        :class:`~radonml.federated.MiniBatchSGD`, :class:`~radonml.federated.DynamicAveraging`
        (threshold ``delta``) or :class:`~radonml.federated.RadonOneShot`, each with the rule
        under test.
    steps : int, default 100
        Local SGD steps.
    period : int, default 10
    delta : float, default 1.0
    lr : float, default 0.1
    batch_size : int, default 32
    hidden : tuple of int, default ()
        Hidden widths of the MLP; () is logistic regression.
    attack_on : {"update", "model"}, default "update"
        See :func:`radonml.federated.simulate`.

    Raises
    ------
    ValueError
        If ``dataset``, ``protocol`` or ``attack_on`` is not one of its values, or a count or
        rate is not positive.

    See Also
    --------
    OneShot : setting (a).
    benchmark : runs a grid over one or both settings.

    Examples
    --------
    >>> from radonml.robust import Federated
    >>> Federated("breast-cancer", learners=8, steps=20).describe()["protocol"]
    'periodic'
    >>> Federated(protocol="fedprox")
    Traceback (most recent call last):
    ...
    ValueError: protocol must be one of ['periodic', 'sgd', 'dynamic', 'oneshot'], got 'fedprox'
    """

    dataset: str = "synthetic"
    n_samples: int = 12500
    learners: int = 40
    protocol: str = "periodic"
    steps: int = 100
    period: int = 10
    delta: float = 1.0
    lr: float = 0.1
    batch_size: int = 32
    hidden: Tuple[int, ...] = ()
    attack_on: str = "update"
    name = "federated"

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {list(DATASETS)}, got {self.dataset!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {self.protocol!r}")
        if self.attack_on not in ("update", "model"):
            raise ValueError(f"attack_on must be 'update' or 'model', got {self.attack_on!r}")
        check_int(self.n_samples, "n_samples", minimum=10)
        check_int(self.learners, "learners", minimum=2)
        check_int(self.steps, "steps", minimum=1)
        check_int(self.period, "period", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        object.__setattr__(self, "hidden", tuple(check_int(h, "hidden width", minimum=1) for h in self.hidden))
        for name in ("lr", "delta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")

    def describe(self) -> dict:
        return {"setting": self.name, "dataset": self.dataset, "n_samples": self.n_samples, "learners": self.learners,
                "protocol": self.protocol, "steps": self.steps, "period": self.period, "delta": self.delta,
                "lr": self.lr, "batch_size": self.batch_size, "hidden": list(self.hidden),
                "attack_on": self.attack_on}

    def build_protocol(self, method, options: dict):
        """The protocol of this setting aggregating with ``method`` and ``options``."""
        from .. import federated as F

        if self.protocol == "periodic":
            return F.PeriodicAveraging(self.period, method=method, **options)
        if self.protocol == "sgd":
            return F.MiniBatchSGD(method=method, **options)
        if self.protocol == "dynamic":
            return F.DynamicAveraging(self.delta, method=method, **options)
        return F.RadonOneShot(method=method, **options)

    def build_learners(self, het: Heterogeneity, seed: int):
        """The learners of one (heterogeneity, seed), and the data set."""
        from .. import federated as F

        ds = load_dataset(self.dataset, self.n_samples, seed)
        model = F.make_mlp(ds.n_features, list(self.hidden), ds.n_classes, seed=seed)
        split = {"split": "iid"} if het.kind == "iid" else {"split": "dirichlet", "alpha": het.alpha}
        L = F.make_learners(model, np.asarray(ds.X_train, dtype=np.float32), ds.y_train, self.learners,
                            lr=self.lr, batch_size=self.batch_size, X_test=np.asarray(ds.X_test, dtype=np.float32),
                            y_test=ds.y_test, seed=seed, **split)
        return L


def federated_cells(setting: Federated, het: Heterogeneity, seed: int, method: str, attacks: Sequence[str],
                    fractions: Sequence[float], attack_params: Optional[dict] = None, aware: bool = True,
                    aggregator_params: Optional[dict] = None, learners=None) -> List[dict]:
    """The cells of setting (b) for one heterogeneity, seed and aggregator: clean (f = 0) and
    under every attack at every fraction. See :func:`radonml.robust.benchmark` for the keys.

    Parameters
    ----------
    setting : Federated
        The data set, the learners and the protocol.
    het : Heterogeneity
        How the training rows are dealt to the learners.
    seed : int
        Seed of the data, the model, the split and the attacks.
    method : str
        The aggregator (or pipeline) under test.
    attacks : sequence of str
        Names of :mod:`radonml.attacks`.
    fractions : sequence of float
        Fractions of Byzantine learners (:func:`radonml.robust.byzantine_count`).
    attack_params : dict, optional
        Attack name to its options.
    aware : bool, default True
        Tell the attacks that take it (``min_max``) the aggregator they attack.
    aggregator_params : dict, optional
        Aggregator name to its options.
    learners : radonml.federated.Learners, optional
        Learners to reuse (default: ``setting.build_learners(het, seed)``).

    Returns
    -------
    cells : list of dict
        One per (f, attack), the clean cell (f = 0, attack ``"none"``) first.

    Examples
    --------
    >>> from radonml.robust import Federated, parse_heterogeneity
    >>> from radonml.robust.federated import federated_cells
    >>> cells = federated_cells(Federated("breast-cancer", learners=8, steps=10), parse_heterogeneity("iid"), 0,
    ...                         "median", ["sign_flip"], [0.25])
    >>> [(c["aggregator"], c["attack"], c["f"], c["n"]) for c in cells]
    [('median', 'none', 0, 8), ('median', 'sign_flip', 2, 8)]
    """
    from .. import federated as F

    attack_params = attack_params or {}
    L = setting.build_learners(het, seed) if learners is None else learners
    m, d = L.m, L.d
    base = {"setting": setting.name, "dataset": setting.dataset, "heterogeneity": het.label, "seed": int(seed),
            "n": int(m), "d": int(d), "k": 1, "aggregator": method}
    cells = []
    fs, seen = [(0, 0.0)], {0}
    for fraction in fractions:
        f = byzantine_count(fraction, m)
        if f not in seen:
            seen.add(f)
            fs.append((f, float(fraction)))
    for f, fraction in fs:
        options = aggregator_options(method, f, params=(aggregator_params or {}).get(method))
        eff, _ = effective_method(method, m, d, options)
        eff_options = (options if eff == method
                       else aggregator_options(eff, f, params=(aggregator_params or {}).get(eff)))
        for name in (["none"] if f == 0 else attacks):
            clock = Stopwatch()
            out = {**base, "f": int(f), "fraction": fraction, "attack": name}
            atk = None
            if name != "none":
                atk = make_attack(name, f, attack_params.get(name), aggregator=eff if aware else None,
                                  aggregator_options=eff_options)
            protocol = setting.build_protocol(method, options)
            try:
                with RecordedWarnings() as caught:
                    h = F.simulate(protocol, L, steps=setting.steps, steps_per_round=setting.steps, attack=atk,
                                   attack_on=setting.attack_on, attack_rng=seed if atk is not None else None)
            except ValueError as exc:
                out.update(accuracy=float("nan"), used=None, fell_back=False, fallback_reason=None,
                           fallback_aggregations=0, dropped=0, replaced=0, skipped=0, captured=None,
                           deviation=float("nan"), error=str(exc), cpu_s=clock.cpu)
                cells.append(out)
                continue
            fin = h.final
            acc = float(fin["accuracy"])
            used = protocol.used_method
            out.update(accuracy=acc, used=used if isinstance(used, str) else getattr(used, "__name__", "callable"),
                       fell_back=bool(caught.fallbacks),
                       fallback_reason=caught.fallbacks[0] if caught.fallbacks else None,
                       fallback_aggregations=len(caught.fallbacks), dropped=int(fin.get("dropped", 0)),
                       replaced=int(fin.get("replaced", 0)), skipped=len(caught.notes), captured=None,
                       deviation=float("nan"), error=None if np.isfinite(acc) else "the global model is not finite",
                       cpu_s=clock.cpu)
            cells.append(out)
    return cells
