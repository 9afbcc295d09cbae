r"""Byzantine base models: attacks of :mod:`radonml.attacks` applied inside the Radon machine
and :func:`radonml.sklearn.aggregate_estimators` (private module of :mod:`radonml.sklearn`).

A model-level attack replaces the Byzantine models' parameter rows by the attack's vectors,
computed from the honest rows, just before aggregation, in the space the aggregator works in
(per class row, or all rows jointly: the ``multiclass`` mode). A data-level attack (label
flip) changes the Byzantine parts' training data (a copy) before their base models are
fitted. The Byzantine models and the attack's randomness come from one seed:
``g = numpy.random.default_rng(seed)`` draws the mask first (:meth:`Attack.select`), then
whatever the attack draws, so for one block (binary, single-target or ``"joint"``) the
corrupted stack is exactly ``radonml.attacks.corrupt(rows, attack, f=f, rng=seed, **params)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..attacks import Attack, corrupt
from ._parameters import aggregation_blocks

__all__ = ["check_corrupt", "check_attack_fits", "byzantine_parts", "corrupt_models", "corrupt_parts"]


def check_corrupt(corrupt_param, options: dict, name: str = "corrupt") -> Optional[Attack]:
    """``corrupt`` as an :class:`~radonml.attacks.Attack` with its ``f`` set, or None.

    Accepted: None; an attack name of :func:`radonml.attacks.available_attacks`; an
    ``Attack``. Without an ``f`` of its own, the attack takes ``options["f"]`` (the number of
    Byzantine models the aggregator tolerates): ``corrupt="alie"`` with
    ``aggregation_options={"f": 3}`` is 3 ALIE attackers against a rule that tolerates 3."""
    if corrupt_param is None:
        return None
    if isinstance(corrupt_param, str):
        attack = Attack(corrupt_param)  # an unknown name fails here, naming the known ones
    elif isinstance(corrupt_param, Attack):
        attack = corrupt_param
    else:
        raise TypeError(
            f"{name} must be None, an attack name of radonml.attacks.available_attacks() or a "
            f"radonml.attacks.Attack (e.g. Attack('sign_flip', f=2, scale=10.0)), got {type(corrupt_param).__name__}"
        )
    if attack.f is None:
        f = options.get("f")
        if f is None:
            raise ValueError(
                f"{name}={attack!r} does not say how many base models are Byzantine: give "
                f"Attack({attack.name!r}, f=K, ...) or aggregation_options={{'f': K}} (then K attackers face a rule "
                "that tolerates K)"
            )
        attack = Attack(attack.info.fn, f=f, **attack.params)  # validates f
    return attack


def check_attack_fits(attack: Attack, n_models: int, name: str = "corrupt") -> None:
    """Refuse, before any model is fitted, more Byzantine models than there are models, and
    a model-level attack computed from the honest models (all but sign flip and Gaussian
    noise, which act on a learner's own model) when no model would be honest."""
    if attack.f > n_models:
        raise ValueError(
            f"{name}={attack!r} makes f = {attack.f} base models Byzantine, but there are only {n_models} "
            f"(r^height base models); use a smaller f or a larger height"
        )
    if attack.kind == "model" and not attack.info.takes_own and 0 < attack.f == n_models:
        raise ValueError(
            f"{name}={attack!r} computes the Byzantine models from the honest ones, but all {n_models} base "
            f"model(s) would be Byzantine (height 0 fits one); use a smaller f or more base models"
        )


def byzantine_parts(attack: Attack, n_models: int, gen: np.random.Generator) -> np.ndarray:
    """The (n_models,) bool mask of the Byzantine models: ``attack.f`` drawn from ``gen``
    (the first draw; as :func:`radonml.attacks.corrupt` draws them)."""
    return attack.select(n_models, rng=gen)


def corrupt_models(models: np.ndarray, attack: Attack, mask: np.ndarray, gen: np.random.Generator,
                   multiclass: str, aggregator=None, aggregator_options=None) -> np.ndarray:
    """The (m, k, d) stack ``models`` with the rows of the Byzantine models (``mask``)
    replaced by a model-level attack's vectors, block by block as they are aggregated (each
    class row with ``multiclass="per_class"``, all rows as one vector with ``"joint"``), the
    same models Byzantine in every block, the attack drawing from ``gen``.

    An attack that knows the aggregator (:attr:`radonml.attacks.AttackInfo.knows_aggregator`,
    min-max) and was given none attacks ``aggregator`` with ``aggregator_options``: the rule
    that will combine the models."""
    params = dict(attack.params)
    if attack.info.knows_aggregator and "aggregator" not in params and aggregator is not None:
        params["aggregator"] = aggregator
        params.setdefault("aggregator_options", dict(aggregator_options or {}))
    m, k, d = models.shape
    out = [corrupt(block, attack.info.fn, byzantine=mask, rng=gen, **params).models
           for block in aggregation_blocks(models, multiclass)]
    if len(out) == 1:
        return out[0].reshape(m, k, d)
    return np.stack(out, axis=1)


def corrupt_parts(attack: Attack, X, y, parts, mask: np.ndarray, gen: np.random.Generator, classes=None) -> dict:
    """A data-level attack on the Byzantine parts' rows: ``{i: (X', y')}`` for every part
    ``i`` in ``mask``, in increasing order, each from a copy (``X[idx]``, ``y[idx]``), the
    attack drawing from ``gen``. Classifiers pass their ``classes`` (all classes of the task,
    for label flip) unless the attack was given its own."""
    extra = {} if classes is None or "classes" in attack.params else {"classes": classes}
    out = {}
    for i in np.flatnonzero(mask):
        idx = parts[i]
        Xi, yi = attack.corrupt_data(X[idx], np.array(y[idx]), rng=gen, **extra)
        yi = np.asarray(yi)
        if np.shape(Xi)[0] != len(idx) or yi.shape[0] != len(idx):
            raise ValueError(f"the data-level attack {attack.name!r} returned {np.shape(Xi)[0]} rows of X and "
                             f"{yi.shape[0]} labels for a part of {len(idx)} rows; it must keep the rows")
        out[int(i)] = (Xi, yi)
    return out
