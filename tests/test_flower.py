"""radonml.flower in a real Flower simulation (Ray backend, offline): FedRadon with a failing client."""

import logging
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")
pytest.importorskip("ray")

from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from radonml import FallbackWarning, aggregate  # noqa: E402
from radonml.flower import FedAggregate, FedRadon, arrayrecord_to_vector, vector_to_arrays  # noqa: E402

N_CLIENTS = 5  # logistic regression on 2 features: d = 3, Radon number r = 5
FAIL_NODE, FAIL_ROUND = 0, 2  # raises: an error reply
NAN_NODE, NAN_ROUND = 2, 3  # replies with NaN arrays: dropped by the strategy


def _client_data(pid):
    rng = np.random.default_rng(100 + pid)
    X = rng.normal(size=(40, 2)) + 0.3 * pid
    y = (X @ np.array([1.0, -2.0]) + 0.5 * rng.normal(size=40) > 0).astype(np.float64)
    return X, y


def _local_train(state, pid):
    """5 full-batch gradient steps of logistic regression (float64), deterministic."""
    model = torch.nn.Linear(2, 1).double()
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    X, y = _client_data(pid)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(torch.as_tensor(X))[:, 0], torch.as_tensor(y)).backward()
        opt.step()
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _record(state):
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in state.items()})


def _make_client_app():
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context):
        pid = int(context.node_config["partition-id"])
        if pid == FAIL_NODE and int(msg.content["config"]["server-round"]) == FAIL_ROUND:
            raise RuntimeError("simulated client failure")
        state = msg.content["arrays"].to_numpy_ndarrays()
        new = _local_train({"weight": state[0], "bias": state[1]}, pid)
        if pid == NAN_NODE and int(msg.content["config"]["server-round"]) == NAN_ROUND:
            new["bias"] = np.array([np.nan])
        content = RecordDict({"arrays": _record(new), "metrics": MetricRecord({"num-examples": 40})})
        return Message(content=content, reply_to=msg)

    return app


def _radon_point_ref(P):
    r = P.shape[0]
    lam = np.linalg.svd(np.vstack([P.T, np.ones(r)]))[2][-1]
    pos = lam > 0
    return (lam[pos] @ P[pos]) / lam[pos].sum()


def test_fedradon_real_simulation_with_failing_client(caplog):
    init = {"weight": np.array([[0.1, -0.2]]), "bias": np.array([0.05])}
    out = {}
    strategy = FedRadon(fraction_evaluate=0.0, min_train_nodes=N_CLIENTS, min_available_nodes=N_CLIENTS, rng=0)
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context):
        globals_ = {}

        def evaluate_fn(rnd, arrays):
            globals_[rnd] = arrayrecord_to_vector(arrays)[0]
            return MetricRecord({"round": rnd})

        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out["result"] = strategy.start(grid=grid, initial_arrays=_record(init), num_rounds=3, evaluate_fn=evaluate_fn)
        out["warnings"] = [w for w in rec if issubclass(w.category, FallbackWarning)]
        out["globals"] = globals_

    with caplog.at_level(logging.WARNING):
        run_simulation(
            server_app=server,
            client_app=_make_client_app(),
            num_supernodes=N_CLIENTS,
            backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
        )
    assert "result" in out, "the server app did not finish"
    g = out["globals"]
    # round 1: all 5 clients reply -> the Radon point of their 5 models in R^3
    locals1 = np.stack([np.concatenate([v.ravel() for v in _local_train(init, p).values()]) for p in range(N_CLIENTS)])
    np.testing.assert_allclose(g[1], _radon_point_ref(locals1), rtol=1e-8, atol=1e-10)
    assert strategy.methods_used[1] == "radon"
    # round 2: client 0 fails -> 4 replies < r = 5 -> geometric median fallback, warned and logged
    start2 = {"weight": g[1][:2].reshape(1, 2), "bias": g[1][2:]}
    locals2 = np.stack([np.concatenate([v.ravel() for v in _local_train(start2, p).values()]) for p in range(1, N_CLIENTS)])
    np.testing.assert_allclose(g[2], aggregate(locals2, "geometric_median"), rtol=1e-7, atol=1e-9)
    # round 3: all reply, but node 2's arrays hold NaN -> dropped, 4 usable replies -> fallback again
    start3 = {"weight": g[2][:2].reshape(1, 2), "bias": g[2][2:]}
    locals3 = np.stack(
        [np.concatenate([v.ravel() for v in _local_train(start3, p).values()]) for p in range(N_CLIENTS) if p != NAN_NODE]
    )
    np.testing.assert_allclose(g[3], aggregate(locals3, "geometric_median"), rtol=1e-7, atol=1e-9)
    assert strategy.fallback_rounds == [2, 3] and strategy.methods_used[3] == "geometric_median"
    assert "dropping the reply of node" in caplog.text and "NaN or inf" in caplog.text
    assert "fewer than the Radon number r = d + 2 = 5" in caplog.text
    assert len(out["warnings"]) == 2 and all("fewer than the Radon number" in str(w.message) for w in out["warnings"])
    final = out["result"].arrays
    assert list(final.keys()) == ["weight", "bias"] and final["weight"].numpy().shape == (1, 2)
    np.testing.assert_allclose(arrayrecord_to_vector(final)[0], g[3], rtol=0, atol=0)


def test_vector_roundtrip_keeps_shapes_dtypes_and_integer_arrays():
    rec = ArrayRecord(
        {"w": Array(np.arange(6, dtype=np.float32).reshape(2, 3)), "n": Array(np.array([7], dtype=np.int64)), "b": Array(np.ones(2))}
    )
    v, keys, arrays = arrayrecord_to_vector(rec)
    np.testing.assert_array_equal(v, [0, 1, 2, 3, 4, 5, 1, 1])
    back = vector_to_arrays(v * 2, keys, arrays)
    assert list(back.keys()) == ["w", "n", "b"]
    assert back["w"].numpy().dtype == np.float32 and back["w"].numpy().shape == (2, 3)
    assert back["n"].numpy().tolist() == [7] and back["n"].numpy().dtype == np.int64
    np.testing.assert_array_equal(back["b"].numpy(), [2.0, 2.0])
    with pytest.raises(ValueError, match="vector has 3 entries, but the arrays hold 8"):
        vector_to_arrays(np.zeros(3), keys, arrays)


def test_strategy_arguments():
    with pytest.raises(ValueError, match="unknown aggregator"):
        FedAggregate("nope")
    with pytest.raises(ValueError, match="weighted=True needs an aggregator that uses weights"):
        FedAggregate("radon", weighted=True)
    with pytest.raises(TypeError, match="method must be an aggregator name or a callable"):
        FedAggregate(3)
    s = FedAggregate("median", min_train_nodes=4)
    assert s.weighted and s.min_train_nodes == 4 and isinstance(FedRadon(), FedAggregate)


def _broken(X, weights=None):
    raise ValueError("singular input")


def test_aggregate_vectors_fallbacks_never_raise(rng):
    X = rng.normal(size=(6, 3))  # r = 5 <= 6: a Radon point exists
    s = FedRadon(rng=0)
    v = s.aggregate_vectors(1, X)
    np.testing.assert_allclose(v, aggregate(X, "radon", rng=np.random.default_rng(0)))
    assert s.methods_used == {1: "radon"} and s.fallback_rounds == []
    with pytest.warns(FallbackWarning, match="fewer than the Radon number"):
        v = s.aggregate_vectors(2, X[:4])
    np.testing.assert_allclose(v, aggregate(X[:4], "geometric_median"))
    assert s.fallback_rounds == [2] and s.methods_used[2] == "geometric_median"
    s0 = FedRadon(fallback=None)
    with pytest.warns(FallbackWarning, match="needs at least r = d \\+ 2 = 5 models.*keeping the previous global model") as rec:
        assert s0.aggregate_vectors(3, X[:4]) is None
    assert len(rec) == 1
    assert s0.fallback_rounds == [3]
    # an aggregator that fails on the replies: the fallback takes over, weighted by the replies
    b = FedAggregate(_broken, fallback="median")
    w = np.array([1.0, 1, 1, 1, 1, 10])
    with pytest.warns(FallbackWarning, match="aggregator .* failed on 6 replies \\(singular input\\); aggregating with 'median'"):
        v = b.aggregate_vectors(4, X, w)
    np.testing.assert_allclose(v, aggregate(X, "median", weights=w))
    assert b.methods_used[4] == "median" and b.fallback_rounds == [4]
    with pytest.warns(FallbackWarning, match="keeping the previous global model"):
        assert FedAggregate(_broken, fallback=None).aggregate_vectors(5, X) is None
