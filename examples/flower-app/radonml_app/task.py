"""What the ServerApp and the ClientApp share: the run configuration, the data, the model, the
training and the simulated attacks.

Everything here is deterministic given the run config's ``seed``: which clients are malicious,
each client's partition, the initial model, each client's mini-batches in each round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np
import torch
from flwr.app import Array, ArrayRecord

import radonml.aggregators
from radonml.attacks import Attack, attack_info
from radonml.datasets import load_digits, load_mnist1d, load_synthetic
from radonml.federated.splits import split_indices
from radonml.torch import make_mlp

DATASETS = ("digits", "mnist1d", "synthetic")
PARTITIONS = ("iid", "dirichlet")
#: Attacks a malicious ClientApp runs on its own update (or data): they need no other client's vector.
CLIENT_SIDE_ATTACKS = ("sign_flip", "gaussian_noise", "inf_nan", "label_flip")
#: The name that means "no attack" in the run config's ``attacks``.
NO_ATTACK = "none"


def _words(value: str) -> List[str]:
    return [w for w in str(value).replace(",", " ").split() if w]


@dataclass(frozen=True)
class Settings:
    """The run configuration (``[tool.flwr.app.config]`` plus ``--run-config``), checked once."""

    dataset: str
    synthetic_features: int
    synthetic_samples: int
    partition: str
    dirichlet_alpha: float
    hidden: int
    num_rounds: int
    local_epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    aggregators: Tuple[str, ...]
    fallback: str
    attacks: Tuple[str, ...]
    fraction_malicious: float
    aggregator_f: str
    result_file: str
    attack_options: Dict[str, Dict[str, object]] = field(default_factory=dict)
    aggregator_options: Dict[str, Dict[str, object]] = field(default_factory=dict)

    @classmethod
    def from_run_config(cls, cfg) -> "Settings":
        cfg = dict(cfg)
        s = cls(
            dataset=str(cfg["dataset"]),
            synthetic_features=int(cfg["synthetic-features"]),
            synthetic_samples=int(cfg["synthetic-samples"]),
            partition=str(cfg["partition"]),
            dirichlet_alpha=float(cfg["dirichlet-alpha"]),
            hidden=int(cfg["hidden"]),
            num_rounds=int(cfg["num-server-rounds"]),
            local_epochs=int(cfg["local-epochs"]),
            learning_rate=float(cfg["learning-rate"]),
            batch_size=int(cfg["batch-size"]),
            seed=int(cfg["seed"]),
            aggregators=tuple(_words(cfg["aggregators"])),
            fallback=str(cfg["fallback"]),
            attacks=tuple(_words(cfg["attacks"])),
            fraction_malicious=float(cfg["fraction-malicious"]),
            aggregator_f=str(cfg["aggregator-f"]),
            result_file=str(cfg["result-file"]),
            attack_options=_tables(cfg, "attack-options."),
            aggregator_options=_tables(cfg, "aggregator-options."),
        )
        s.check()
        return s

    def check(self) -> None:
        """Clear errors for a bad run config, before any round."""
        if self.dataset not in DATASETS:
            raise ValueError(f"run config 'dataset' must be one of {list(DATASETS)}, got {self.dataset!r}")
        if self.partition not in PARTITIONS:
            raise ValueError(f"run config 'partition' must be one of {list(PARTITIONS)}, got {self.partition!r}")
        if not 0.0 <= self.fraction_malicious < 1.0:
            raise ValueError(f"run config 'fraction-malicious' must lie in [0, 1), got {self.fraction_malicious}")
        for name, values in (("aggregators", self.aggregators), ("attacks", self.attacks)):
            if not values:
                raise ValueError(f"run config {name!r} names nothing")
            if len(set(values)) < len(values):
                raise ValueError(f"run config {name!r} names one twice: {list(values)}")
        for name, value in (("num-server-rounds", self.num_rounds), ("local-epochs", self.local_epochs),
                            ("batch-size", self.batch_size)):
            if value < 1:
                raise ValueError(f"run config {name!r} must be at least 1, got {value}")
        if self.aggregator_f not in ("auto", "none") and not (self.aggregator_f.isdigit()):
            raise ValueError(f"run config 'aggregator-f' must be 'auto', 'none' or an integer >= 0, got {self.aggregator_f!r}")
        if self.hidden < 0 or self.seed < 0:
            raise ValueError("run config 'hidden' and 'seed' must be non-negative")
        for attack in self.attacks:
            if attack != NO_ATTACK:
                attack_info(attack)  # an unknown name fails here, naming the registered ones
                self.make_attack(attack)  # unknown parameters fail here

    # ------------------------------------------------------------------ attacks

    def attack_on_client(self, attack: str) -> bool:
        """Whether the malicious ClientApps run ``attack`` themselves (else the strategy does)."""
        params = self.attack_options.get(attack, {})
        if attack in ("sign_flip", "gaussian_noise"):  # unless they attack the honest mean
            return params.get("of", "own") == "own" and params.get("center", "own") != "mean"
        return attack in CLIENT_SIDE_ATTACKS

    def make_attack(self, attack: str, aggregator=None, aggregator_options=None) -> Attack:
        """``attack`` with its options; an aggregator-aware one (min-max with ``aware = true``)
        attacks ``aggregator``."""
        params = dict(self.attack_options.get(attack, {}))
        aware = bool(params.pop("aware", False))
        if aware and aggregator is not None and attack_info(attack).knows_aggregator:
            params["aggregator"] = aggregator
            if aggregator_options:
                params["aggregator_options"] = dict(aggregator_options)
        return Attack(attack, **params)

    def n_malicious(self, n_clients: int) -> int:
        return int(round(self.fraction_malicious * n_clients))

    def malicious_partitions(self, n_clients: int) -> List[int]:
        """The partition ids of the malicious clients: ``n_malicious`` drawn with the seed."""
        perm = np.random.default_rng([self.seed, 1]).permutation(n_clients)
        return sorted(int(p) for p in perm[: self.n_malicious(n_clients)])

    def options_for(self, aggregator: str, n_clients: int) -> Dict[str, object]:
        """The options of ``aggregator``: its table of ``aggregator-options`` if it has one
        (the table then says everything); else, for a rule that takes ``f`` (the number of
        Byzantine clients it must tolerate), ``f`` = the number of malicious clients
        (``aggregator-f = "auto"``), a given number, or nothing (``"none"``)."""
        options = dict(self.aggregator_options.get(aggregator, {}))
        if not options and self.aggregator_f != "none" and takes_f(aggregator):
            options["f"] = self.n_malicious(n_clients) if self.aggregator_f == "auto" else int(self.aggregator_f)
        return options


def takes_f(aggregator: str) -> bool:
    """Whether the registered rule (or pipeline) has an option ``f``, as the registry says
    (``radonml.aggregators.accepts_option``; a registry without it has no such rule)."""
    accepts = getattr(radonml.aggregators, "accepts_option", None)
    return bool(accepts is not None and accepts(aggregator, "f"))


def _tables(cfg: dict, prefix: str) -> Dict[str, Dict[str, object]]:
    """``{name: {option: value}}`` from the flattened keys ``<prefix><name>.<option>``."""
    out: Dict[str, Dict[str, object]] = {}
    for key, value in cfg.items():
        if key.startswith(prefix):
            name, _, option = key[len(prefix):].rpartition(".")
            out.setdefault(name.strip('"'), {})[option] = value
    return out


# ------------------------------------------------------------------ data


def _dataset(s: Settings):
    return _load(s.dataset, s.synthetic_samples, s.synthetic_features, s.seed)


@lru_cache(maxsize=4)  # a simulated client's process loads the data once
def _load(dataset: str, synthetic_samples: int, synthetic_features: int, seed: int):
    if dataset == "digits":
        ds = load_digits(seed=seed)
    elif dataset == "mnist1d":
        ds = load_mnist1d(seed=42)  # the published MNIST-1D
    else:
        ds = load_synthetic(synthetic_samples, n_features=synthetic_features, seed=seed)
        # standardized with the training set's statistics
        mu, sd = ds.X_train.mean(axis=0), ds.X_train.std(axis=0) + 1e-12
        ds.X_train, ds.X_test = (ds.X_train - mu) / sd, (ds.X_test - mu) / sd
    X_train, X_test = (np.ascontiguousarray(a, dtype=np.float32) for a in (ds.X_train, ds.X_test))
    return X_train, ds.y_train, X_test, ds.y_test, ds.n_classes


@lru_cache(maxsize=4)
def _partitions(dataset: tuple, partition: str, alpha: float, seed: int, n_clients: int):
    y = _load(*dataset)[1]
    return split_indices(y, n_clients, partition, alpha=alpha, rng=np.random.default_rng([seed, 2]))


def load_partition(s: Settings, partition_id: int, n_clients: int):
    """The training examples of one client: ``(X, y)``."""
    X, y = _dataset(s)[:2]
    key = (s.dataset, s.synthetic_samples, s.synthetic_features, s.seed)
    idx = _partitions(key, s.partition, s.dirichlet_alpha, s.seed, n_clients)[partition_id]
    return X[idx], y[idx]


def load_test(s: Settings):
    """The test set the server evaluates on: ``(X, y)``."""
    _, _, X, y, _ = _dataset(s)
    return X, y


def n_classes(s: Settings) -> int:
    return _dataset(s)[4]


# ------------------------------------------------------------------ model


def make_model(s: Settings) -> torch.nn.Module:
    """Logistic regression (``hidden = 0``) or a one-hidden-layer MLP, initialised from the seed."""
    X = _dataset(s)[0]
    return make_mlp(X.shape[1], [s.hidden] if s.hidden else [], n_classes(s), seed=s.seed)


def to_record(model: torch.nn.Module) -> ArrayRecord:
    return ArrayRecord({k: Array(v.detach().cpu().numpy().copy()) for k, v in model.state_dict().items()})


def from_record(s: Settings, record: ArrayRecord) -> torch.nn.Module:
    model = make_model(s)
    model.load_state_dict({k: torch.from_numpy(np.array(record[k].numpy())) for k in record.keys()})
    return model


def train(model: torch.nn.Module, X, y, s: Settings, seed) -> float:
    """Mini-batch SGD on cross-entropy for ``local-epochs`` epochs; returns the mean training loss."""
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=s.learning_rate)
    losses = []
    model.train()
    for _ in range(s.local_epochs):
        for batch in torch.randperm(len(yt), generator=gen).split(s.batch_size):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[batch]), yt[batch])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return float(np.mean(losses)) if losses else math.nan


@torch.no_grad()
def evaluate(model: torch.nn.Module, X, y) -> Tuple[float, float]:
    """``(loss, accuracy)`` on ``(X, y)``."""
    model.eval()
    logits = model(torch.from_numpy(X))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    return float(torch.nn.functional.cross_entropy(logits, yt)), float((logits.argmax(1) == yt).double().mean())


# ------------------------------------------------------------------ a malicious client's own attack


def attack_own_update(s: Settings, attack: str, sent: ArrayRecord, trained: ArrayRecord, rng) -> ArrayRecord:
    """What a malicious client sends instead of ``trained``: :math:`g + b`, with :math:`b` the
    attack's vector for its own update :math:`\\Delta = x - g` (sign flip :math:`b = -s\\Delta`,
    Gaussian noise :math:`b = \\Delta + \\sigma\\xi`, Inf/NaN :math:`b = (v, \\dots, v)`),
    computed by :mod:`radonml.attacks` with no honest vector (the client knows none)."""
    keys = list(sent.keys())
    g = {k: sent[k].numpy() for k in keys}
    x = {k: trained[k].numpy() for k in keys}
    floats = [k for k in keys if g[k].dtype.kind == "f"]
    delta = np.concatenate([(x[k].astype(np.float64) - g[k]).ravel() for k in floats])
    b = s.make_attack(attack)(delta[None, :], byzantine=[0], rng=rng).models[0]
    out = ArrayRecord()
    start = 0
    for k in keys:
        if k in floats:
            n = g[k].size
            with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN are the attack
                arr = (g[k].astype(np.float64) + b[start:start + n].reshape(g[k].shape)).astype(g[k].dtype)
            start += n
        else:
            arr = x[k]
        out[k] = Array(np.ascontiguousarray(arr))
    return out


def flip_labels(s: Settings, X, y, rng):
    """Label flip on a malicious client's data."""
    return s.make_attack("label_flip").corrupt_data(X, y, classes=n_classes(s), rng=rng)
