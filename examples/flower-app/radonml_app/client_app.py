"""The ClientApp: honest clients train the global model on their partition; the malicious ones
(``fraction-malicious`` of them, drawn with the seed) attack.

The attack of a round is the train config's ``"attack"`` (the ServerApp goes through the run
config's ``attacks`` one after the other). A malicious client

- with a non-colluding attack (``sign_flip``, ``gaussian_noise``, ``inf_nan``: on its own
  update; ``label_flip``: on its own labels before training) sends the corrupted result itself;
- with a colluding attack (``alie``, ``ipm``, ``mimic``, ``min_max``, ``min_sum``), which
  needs the honest clients' updates, trains honestly and marks its reply with the metric
  ``malicious = 1``; the strategy, playing the colluding adversary, replaces the marked
  replies (``FedAggregate(attack=..., byzantine="malicious")``, see server_app.py);
- with ``"none"`` behaves honestly.

Every reply carries ``num-examples``, ``train-loss`` and ``malicious`` (0 or 1: whether the
client attacked, or asked the adversary to).
"""

from __future__ import annotations

import numpy as np
import torch
from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from radonml_app.task import (
    NO_ATTACK,
    Settings,
    attack_own_update,
    evaluate,
    flip_labels,
    from_record,
    load_partition,
    to_record,
    train,
)

torch.set_num_threads(1)  # tiny models: one thread per simulated client

app = ClientApp()


def _client(context: Context):
    s = Settings.from_run_config(context.run_config)
    pid = int(context.node_config["partition-id"])
    n = int(context.node_config["num-partitions"])
    return s, pid, n, pid in s.malicious_partitions(n)


@app.train()
def train_fn(msg: Message, context: Context) -> Message:
    s, pid, n, malicious = _client(context)
    config = msg.content["config"]
    rnd = int(config["server-round"])
    attack = str(config.get("attack", NO_ATTACK))
    if attack != NO_ATTACK and attack not in s.attacks:
        raise ValueError(f"the server asked for attack {attack!r}, which the run config's attacks {list(s.attacks)} lack")
    attacking = malicious and attack != NO_ATTACK
    rng = np.random.default_rng([s.seed, 3, pid, rnd])
    X, y = load_partition(s, pid, n)
    if attacking and attack == "label_flip":
        X, y = flip_labels(s, X, y, rng)
    sent = msg.content["arrays"]
    model = from_record(s, sent)
    loss = train(model, X, y, s, seed=[s.seed, 4, pid, rnd])
    arrays = to_record(model)
    if attacking and attack != "label_flip" and s.attack_on_client(attack):
        arrays = attack_own_update(s, attack, sent, arrays, rng)
    metrics = MetricRecord({"num-examples": len(y), "train-loss": loss, "malicious": int(attacking)})
    return Message(content=RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate_fn(msg: Message, context: Context) -> Message:
    s, pid, n, _ = _client(context)
    X, y = load_partition(s, pid, n)
    loss, acc = evaluate(from_record(s, msg.content["arrays"]), X, y)
    metrics = MetricRecord({"num-examples": len(y), "eval-loss": loss, "eval-accuracy": acc})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
