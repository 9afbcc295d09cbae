"""Federated logistic regression with Flower and the Radon point (radonml.flower.FedRadon).

Twelve hospitals (Flower SuperNodes, simulated with Flower's Ray backend, offline) each hold a
slice of scikit-learn's bundled breast-cancer data (6 standardized features, so a model is a
vector in R^7 and the Radon number is r = 9). Every round each client trains a torch logistic
regression for a few epochs from the global model and sends its arrays back; the server
aggregates them with the iterated Radon point. Clients fail at random (``--fail-rate``); in a
round where fewer than r clients reply the strategy falls back to the geometric median and
logs a warning instead of crashing.

    python examples/flower_radon.py                  # FedRadon
    python examples/flower_radon.py --method mean    # plain FedAvg aggregation, same code path
    python examples/flower_radon.py --fail-rate 0.4  # force fallback rounds

Run time: about 15-30 s, most of it Ray's start-up.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from radonml import FallbackWarning
from radonml.datasets import load_breast_cancer
from radonml.flower import FedAggregate

N_FEATURES = 6


def load_data():
    ds = load_breast_cancer(seed=0)
    return ds.X_train[:, :N_FEATURES], ds.y_train, ds.X_test[:, :N_FEATURES], ds.y_test


def model_from(arrays: ArrayRecord) -> torch.nn.Linear:
    model = torch.nn.Linear(N_FEATURES, 1).double()
    model.load_state_dict(arrays.to_torch_state_dict())
    return model


def to_record(model: torch.nn.Module) -> ArrayRecord:
    return ArrayRecord({k: Array(v.detach().numpy().copy()) for k, v in model.state_dict().items()})


def make_client_app(n_clients: int, fail_rate: float, seed: int) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context):
        pid = int(context.node_config["partition-id"])
        rnd = int(msg.content["config"]["server-round"])
        if np.random.default_rng([seed, pid, rnd]).random() < fail_rate:
            raise RuntimeError(f"client {pid} dropped out in round {rnd}")
        X, y, _, _ = load_data()
        part = np.array_split(np.random.default_rng(seed).permutation(len(y)), n_clients)[pid]
        Xp, yp = torch.as_tensor(X[part]), torch.as_tensor(y[part], dtype=torch.float64)
        model = model_from(msg.content["arrays"])
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(20):  # full-batch epochs
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(model(Xp)[:, 0], yp).backward()
            opt.step()
        content = RecordDict({"arrays": to_record(model), "metrics": MetricRecord({"num-examples": len(part)})})
        return Message(content=content, reply_to=msg)

    return app


def make_server_app(method: str, n_clients: int, rounds: int, seed: int) -> ServerApp:
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context):
        _, _, Xt, yt = load_data()

        def evaluate(rnd: int, arrays: ArrayRecord) -> MetricRecord:
            with torch.no_grad():
                acc = float(((model_from(arrays)(torch.as_tensor(Xt))[:, 0] > 0).numpy() == yt).mean())
            print(f"round {rnd}: global test accuracy {acc:.4f}")
            return MetricRecord({"accuracy": acc})

        strategy = FedAggregate(
            method, fraction_evaluate=0.0, min_train_nodes=n_clients, min_available_nodes=n_clients, rng=seed
        )
        torch.manual_seed(seed)
        init = to_record(torch.nn.Linear(N_FEATURES, 1).double())
        with warnings.catch_warnings():
            warnings.simplefilter("always", FallbackWarning)
            strategy.start(grid=grid, initial_arrays=init, num_rounds=rounds, evaluate_fn=evaluate)
        print(f"aggregation per round: {strategy.methods_used}; fallback rounds: {strategy.fallback_rounds}")

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="radon", help="any radonml aggregator name")
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fail-rate", type=float, default=0.15, help="probability that a client fails in a round")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run_simulation(
        server_app=make_server_app(args.method, args.clients, args.rounds, args.seed),
        client_app=make_client_app(args.clients, args.fail_rate, args.seed),
        num_supernodes=args.clients,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )


if __name__ == "__main__":
    main()
