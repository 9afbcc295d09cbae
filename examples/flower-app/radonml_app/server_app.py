"""The ServerApp: for each attack and each aggregator of the run config, ``num-server-rounds``
rounds of federated training with :class:`radonml.flower.FedAggregate` from the same initial
model, the global model evaluated on the test set after every round. The round's attack goes
to the clients in the train config (``"attack"``).

With a colluding attack (one that needs the honest clients' updates: ALIE, IPM, Mimic,
min-max, min-sum) the strategy plays the adversary: ``FedAggregate(attack=...,
byzantine="malicious")`` replaces the replies that the malicious ClientApps marked, using the
honest replies of the same round, before it aggregates (``radonml.flower`` explains how).

At the end it logs one line per aggregator and, if ``result-file`` is set, writes them as JSON:
``{"settings": ..., "clients": n, "malicious_partitions": [...], "attacks": {attack: {"runs_on":
"client" | "server" | null, "results": {aggregator: {"accuracy": [...], "loss": [...],
"final_accuracy": ..., "methods_used": ..., "fallback_rounds": [...], "attacked_nodes":
...}}}}}``, where ``accuracy[t]`` is the test accuracy after round ``t`` (``t = 0``: the
initial model).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from logging import INFO

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.supercore import log

from radonml import FallbackWarning
from radonml.aggregators import resolve_aggregator
from radonml.flower import FedAggregate
from radonml_app.task import NO_ATTACK, Settings, evaluate, from_record, load_test, make_model, to_record

torch.set_num_threads(1)

app = ServerApp()


def _json_number(x):
    return x if math.isfinite(x) else str(x)


def _run(grid, s: Settings, n: int, attack: str, aggregator: str, X_test, y_test) -> dict:
    """``num-server-rounds`` rounds of one aggregator under one attack; its results."""
    options = s.options_for(aggregator, n)
    server_side = attack != NO_ATTACK and not s.attack_on_client(attack)
    adversary = {}
    if server_side:  # the colluding attack, played by the strategy on the replies marked "malicious"
        adversary = dict(attack=s.make_attack(attack, aggregator, options), byzantine="malicious", attack_rng=s.seed)
    strategy = FedAggregate(
        aggregator,
        fallback=s.fallback,
        rng=s.seed,
        aggregator_options=options,
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=n,
        min_available_nodes=n,
        **adversary,
    )
    accuracy, loss = {}, {}

    def evaluate_fn(rnd: int, arrays: ArrayRecord) -> MetricRecord:
        loss[rnd], accuracy[rnd] = evaluate(from_record(s, arrays), X_test, y_test)
        return MetricRecord({"accuracy": accuracy[rnd], "loss": loss[rnd]})

    log(INFO, "radonml app: attack %r, aggregator %r", attack, aggregator)
    with warnings.catch_warnings():
        warnings.simplefilter("always", FallbackWarning)
        strategy.start(grid=grid, initial_arrays=to_record(make_model(s)), num_rounds=s.num_rounds,
                       train_config=ConfigRecord({"attack": attack}), evaluate_fn=evaluate_fn)
    rounds = sorted(accuracy)
    return {
        "accuracy": [accuracy[t] for t in rounds],
        "loss": [_json_number(loss[t]) for t in rounds],
        "final_accuracy": accuracy[rounds[-1]],
        "methods_used": {str(k): v for k, v in strategy.methods_used.items()},
        "fallback_rounds": list(strategy.fallback_rounds),
        "attacked_nodes": {str(k): v for k, v in strategy.attacked_nodes.items()},
    }


@app.main()
def main(grid: Grid, context: Context) -> None:
    s = Settings.from_run_config(context.run_config)
    for aggregator in s.aggregators:  # an unknown name fails now, not after the others' rounds
        resolve_aggregator(aggregator, fallback=s.fallback)
    n = len(list(grid.get_node_ids()))
    malicious = s.malicious_partitions(n)
    log(INFO, "radonml app: %d clients, %d malicious (partitions %s); attacks %s; aggregators %s",
        n, len(malicious), malicious, list(s.attacks), list(s.aggregators))
    X_test, y_test = load_test(s)
    attacks = {}
    for attack in s.attacks:
        runs_on = None if attack == NO_ATTACK or not malicious else "client" if s.attack_on_client(attack) else "server"
        results = {agg: _run(grid, s, n, attack, agg, X_test, y_test) for agg in s.aggregators}
        attacks[attack] = {"runs_on": runs_on, "results": results}
    log(INFO, "radonml app: test accuracy after %d rounds, %d of %d clients malicious", s.num_rounds, len(malicious), n)
    width = {a: max(10, len(a) + 2) for a in s.attacks}
    first = max(12, *(len(g) + 2 for g in s.aggregators))
    log(INFO, "    %s%s", "aggregator".ljust(first), "".join(a.rjust(width[a]) for a in s.attacks))
    for agg in s.aggregators:
        accs = (f"{attacks[a]['results'][agg]['final_accuracy']:.4f}".rjust(width[a]) for a in s.attacks)
        log(INFO, "    %s%s", agg.ljust(first), "".join(accs))
    if s.result_file:
        out = {"settings": dataclasses.asdict(s), "clients": n, "malicious_partitions": malicious, "attacks": attacks}
        path = os.path.abspath(os.path.expanduser(s.result_file))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(out, fh, indent=1, default=_json_number)
        os.replace(tmp, path)  # a reader never sees a half-written file
        log(INFO, "radonml app: results written to %s", path)
