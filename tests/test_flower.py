"""radonml.flower: FedRadon in a real Flower simulation (Ray backend, offline) with failing, stale and
NaN clients; FedAggregate on real Flower Messages: replies matched to the global model by name, every
arrival and key order giving the same model, one tensor policy shared with radonml.torch."""

import itertools
import logging
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")
pytest.importorskip("ray")

from flwr.app import Array, ArrayRecord, Context, Message, Metadata, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

import radonml  # noqa: E402
from radonml import FallbackWarning, aggregate  # noqa: E402
from radonml.flower import FedAggregate, FedRadon, arrayrecord_to_vector, vector_to_arrays  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_CLIENTS = 5  # logistic regression on 2 features: d = 3, Radon number r = 5
FAIL_NODE, FAIL_ROUND = 0, 2  # raises: an error reply
STALE_NODES, STALE_ROUND = (2, 3, 4), 2  # a majority of the round's replies come from another architecture
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
        arrays = msg.content["arrays"]
        new = _local_train({"weight": arrays["weight"].numpy(), "bias": arrays["bias"].numpy()}, pid)
        if pid in STALE_NODES and int(msg.content["config"]["server-round"]) == STALE_ROUND:
            new = {"bias": new["bias"], "weight": np.zeros((1, 3))}  # a client still on a 3-feature model
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
    # round 2: client 0 fails and clients 2, 3, 4 (3 of the 4 replies) send a (1, 3) weight: the
    # global model's arrays (recorded by configure_train), not the majority, decide; client 1's
    # reply alone is usable -> fewer than r = 5 -> geometric median fallback of that one reply
    start2 = {"weight": g[1][:2].reshape(1, 2), "bias": g[1][2:]}
    np.testing.assert_allclose(g[2], np.concatenate([v.ravel() for v in _local_train(start2, 1).values()]), rtol=0, atol=0)
    assert caplog.text.count("'weight' has shape (1, 3), expected (1, 2)") == len(STALE_NODES)
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


# ------------------------------------------- replies on real Flower Messages, without a simulation


def _reply(node, arrays, n=10, order=None, mid=None):
    """A train reply of ``node`` as Flower's runtime delivers it (real Metadata, RecordDict)."""
    meta = Metadata(run_id=1, message_id=str(node) if mid is None else mid, src_node_id=node, dst_node_id=0,
                    reply_to_message_id="i", group_id="1", created_at=0.0, ttl=60.0, message_type="train")
    keys = list(arrays) if order is None else list(order)
    record = ArrayRecord({k: Array(np.asarray(arrays[k], order="C")) for k in keys})  # keeps 0-d arrays 0-d
    return Message(RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": n})}), metadata=meta)


def _global(arrays):
    return ArrayRecord({k: Array(np.asarray(v, order="C")) for k, v in arrays.items()})


def _lower_median_ref(values, w):
    """Smallest v with weight(x <= v) >= half the total, by brute force."""
    return min(v for v in values if sum(wi for x, wi in zip(values, w) if x <= v) >= sum(w) / 2)


def _weiszfeld_ref(P, tol=1e-14, max_iter=10_000):
    z = np.median(P, axis=0)
    for _ in range(max_iter):
        d = np.linalg.norm(P - z, axis=1)
        z_new = (P / d[:, None]).sum(0) / (1 / d).sum()
        if np.linalg.norm(z_new - z) < tol:
            return z_new
        z = z_new
    return z


def _quiet_aggregate(strategy, rnd, replies):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        return strategy.aggregate_train(rnd, replies)


def test_case16_stale_first_reply_is_dropped(caplog):
    rng = np.random.default_rng(0)
    good = [{"w": rng.normal(size=(3, 3)), "b": rng.normal(size=3)} for _ in range(4)]
    stale = {"w": rng.normal(size=(2, 3)), "b": rng.normal(size=2)}
    replies = [_reply(1, stale)] + [_reply(i + 2, g) for i, g in enumerate(good)]
    with caplog.at_level(logging.WARNING):
        arrays, _ = FedAggregate("median").aggregate_train(1, replies)  # no global arrays: the majority's shapes
    np.testing.assert_array_equal(arrays["w"].numpy(), np.median(np.stack([g["w"] for g in good]), axis=0))
    assert "dropping the reply of node 1: its arrays do not match those 4 of 5 replies share: " \
           "'b' has shape (2,), expected (3,); 'w' has shape (2, 3), expected (3, 3)" in caplog.text


def test_global_arrays_decide_not_the_majority(caplog):
    """Three stale clients outnumber two current ones: the arrays the server sent decide."""
    rng = np.random.default_rng(1)
    good = [{"w": rng.normal(size=(3, 3)), "b": rng.normal(size=3)} for _ in range(2)]
    stale = [{"w": rng.normal(size=(2, 3)), "b": rng.normal(size=2)} for _ in range(3)]
    replies = [_reply(10 + i, s) for i, s in enumerate(stale)] + [_reply(20 + i, g) for i, g in enumerate(good)]
    s = FedAggregate("mean")
    s.set_global_arrays(7, _global({"w": np.zeros((3, 3)), "b": np.zeros(3)}))
    with caplog.at_level(logging.WARNING):
        arrays, _ = s.aggregate_train(7, replies)
    np.testing.assert_allclose(arrays["w"].numpy(), (good[0]["w"] + good[1]["w"]) / 2, rtol=1e-15, atol=0)
    for node in (10, 11, 12):
        assert f"dropping the reply of node {node}: its arrays do not match the global model's: 'w' has shape (2, 3)" in caplog.text
    # without the round's global arrays the documented rule takes the signature most replies share
    arrays, _ = FedAggregate("mean").aggregate_train(8, replies)
    assert arrays["w"].numpy().shape == (2, 3)
    # the strategy keeps the global arrays of the two most recent rounds only
    for rnd in (8, 9):
        s.set_global_arrays(rnd, _global({"w": np.zeros((3, 3)), "b": np.zeros(3)}))
    assert sorted(s._global_signatures) == [8, 9]
    with pytest.raises(TypeError, match="arrays must be a flwr.app.ArrayRecord, got dict"):
        s.set_global_arrays(1, {"w": np.zeros(2)})
    with pytest.raises(TypeError, match="tensor 'z': complex tensors"):
        s.set_global_arrays(1, _global({"z": np.zeros(2, dtype=np.complex128)}))


def _small_replies(n_good, seed):
    rng = np.random.default_rng(seed)
    good = [{"w": rng.normal(size=2), "b": rng.normal(size=1), "n": np.array([int(k)]), "flag": np.array([bool(k % 2)])}
            for k in rng.integers(0, 100, size=n_good)]
    stale = {"w": rng.normal(size=3), "b": rng.normal(size=1), "n": np.array([5]), "flag": np.array([True])}
    return good, stale


@pytest.mark.parametrize("method, options", [
    ("mean", {}), ("median", {}), ("trimmed_mean", {"beta": 0.25}), ("geometric_median", {}), ("radon", {}),
])
@pytest.mark.parametrize("with_global", [True, False])
def test_every_arrival_and_key_order_gives_the_same_model(method, options, with_global):
    """All 120 orders of 5 replies (4 usable, 1 stale), each reply's keys in a random order:
    bit-identical arrays, the independent value; the Radon tree of a seeded rng included."""
    n_good = 6 if method == "radon" else 4  # d = 3: the Radon number is 5, so a tree with randomness needs 6
    good, stale = _small_replies(n_good, seed=2)
    nodes = [31, 7, 12, 55, 3, 40, 19][: n_good + 1]
    weights = [10, 30, 20, 40, 50, 60][:n_good] if method == "mean" else [10] * n_good
    items = [(nodes[i], good[i], weights[i]) for i in range(n_good)] + [(nodes[-1], stale, 10)]
    key_rng = np.random.default_rng(3)
    orders = list(itertools.permutations(range(len(items))))
    if len(orders) > 120:  # 7! orders for the Radon case: 120 of them, drawn with a seed
        orders = [orders[i] for i in np.random.default_rng(4).choice(len(orders), 120, replace=False)]
    results = []
    for perm in orders:
        replies = [_reply(items[i][0], items[i][1], n=items[i][2], order=key_rng.permutation(["w", "b", "n", "flag"]))
                   for i in perm]
        s = FedAggregate(method, rng=0, aggregator_options=options)
        if with_global:
            s.set_global_arrays(1, _global({"w": np.zeros(2), "b": np.zeros(1), "n": np.zeros(1, np.int64),
                                            "flag": np.zeros(1, bool)}))
        arrays, _ = _quiet_aggregate(s, 1, replies)
        results.append({k: arrays[k].numpy() for k in arrays.keys()})
    first = results[0]
    for r in results[1:]:
        assert list(r) == list(first)
        for k in first:
            assert r[k].dtype == first[k].dtype and r[k].tobytes() == first[k].tobytes()
    assert list(first) == (["w", "b", "n", "flag"] if with_global else ["b", "flag", "n", "w"])  # without: sorted
    # the independent value, over the usable replies in node order
    by_node = sorted(items[:n_good], key=lambda t: t[0])
    P = np.stack([np.concatenate([g["w"], g["b"]]) for _, g, _ in by_node])
    w = np.array([wt for _, _, wt in by_node], dtype=float)
    expected = {
        "mean": lambda: (w @ P) / w.sum(),
        "median": lambda: np.median(P, axis=0),
        "trimmed_mean": lambda: np.sort(P, axis=0)[1:-1].mean(axis=0),
        "geometric_median": lambda: _weiszfeld_ref(P),
        "radon": lambda: aggregate(P, "radon", rng=np.random.default_rng(0)),  # the replies in node order
    }[method]()
    tol = 1e-7 if method == "geometric_median" else 1e-12  # Weiszfeld stops at 1e-10 of the models' scale
    np.testing.assert_allclose(np.concatenate([first["w"], first["b"]]), expected, rtol=tol, atol=tol)
    assert first["n"].dtype == np.int64 and first["flag"].dtype == bool
    assert int(first["n"][0]) == _lower_median_ref([int(g["n"][0]) for _, g, _ in by_node], w if method == "mean" else [1] * n_good)
    assert bool(first["flag"][0]) == _lower_median_ref([bool(g["flag"][0]) for _, g, _ in by_node], [1] * n_good) or method == "mean"


def test_same_node_and_message_id_still_order_independent():
    good, _ = _small_replies(5, seed=5)
    outs = set()
    for perm in itertools.permutations(range(5)):
        replies = [_reply(1, good[i], mid="same") for i in perm]
        arrays, _ = _quiet_aggregate(FedAggregate("mean"), 1, replies)
        outs.add(arrays["w"].numpy().tobytes())
    assert len(outs) == 1


def test_unusable_replies_are_dropped_and_named(caplog):
    rng = np.random.default_rng(6)
    ref = {"w": np.zeros((2, 2)), "b": np.zeros(2)}
    good = [{"w": rng.normal(size=(2, 2)), "b": rng.normal(size=2)} for _ in range(3)]
    nan_b = {"w": rng.normal(size=(2, 2)), "b": np.array([np.nan, 1.0])}
    inf_w = {"w": np.array([[np.inf, 0], [0, -np.inf]]), "b": np.zeros(2)}
    missing = {"w": rng.normal(size=(2, 2))}
    extra = {"w": rng.normal(size=(2, 2)), "b": rng.normal(size=2), "c": np.ones(1)}
    f32 = {"w": rng.normal(size=(2, 2)).astype(np.float32), "b": rng.normal(size=2)}
    replies = [_reply(i + 1, g) for i, g in enumerate(good)] + [
        _reply(10, nan_b), _reply(11, inf_w), _reply(12, missing), _reply(13, extra), _reply(14, f32)]
    s = FedAggregate("median")
    s.set_global_arrays(1, _global(ref))
    with caplog.at_level(logging.WARNING):
        arrays, _ = s.aggregate_train(1, replies)
    np.testing.assert_array_equal(arrays["w"].numpy(), np.median(np.stack([g["w"] for g in good]), axis=0))
    text = caplog.text
    assert "node 10: its arrays hold NaN or inf: 'b' (1 value)" in text
    assert "node 11: its arrays hold NaN or inf: 'w' (2 values)" in text
    assert "node 12: its arrays do not match the global model's: missing array(s) ['b']" in text
    assert "node 13: its arrays do not match the global model's: extra array(s) ['c']" in text
    assert "node 14: its arrays do not match the global model's: 'w' has dtype float32, expected float64" in text


def _nan_agg(X, weights=None):
    out = X.mean(axis=0)
    out[0] = np.nan
    return out


def test_non_finite_aggregate_never_becomes_the_global_model(caplog):
    good = [{"w": np.array([1.0, 2.0]), "b": np.array([0.5])}, {"w": np.array([3.0, 4.0]), "b": np.array([1.5])},
            {"w": np.array([5.0, 0.0]), "b": np.array([2.5])}]
    replies = [_reply(i + 1, g) for i, g in enumerate(good)]
    with caplog.at_level(logging.WARNING), pytest.warns(FallbackWarning, match="returned 1 NaN or infinite value.*aggregating with 'median'"):
        arrays, _ = FedAggregate(_nan_agg, fallback="median").aggregate_train(1, replies)
    np.testing.assert_array_equal(arrays["w"].numpy(), [3.0, 2.0])
    with pytest.warns(FallbackWarning, match="keeping the previous global model"):
        assert FedAggregate(_nan_agg, fallback=None).aggregate_train(1, replies)[0] is None
    # an aggregate beyond the arrays' dtype (float16) keeps the previous model, logged
    half = [{k: v.astype(np.float16) for k, v in g.items()} for g in good]
    s = FedAggregate(lambda X: np.full(X.shape[1], 1e6), fallback=None)
    with caplog.at_level(logging.WARNING):
        assert s.aggregate_train(1, [_reply(i + 1, g) for i, g in enumerate(half)])[0] is None
    assert "the aggregate of 'b' does not fit in its dtype float16 (it would become inf); keeping the previous global model" in caplog.text
    # a client's NaN train metric: the aggregated metric is NaN, said in the log with the node
    r = [_reply(i + 1, g) for i, g in enumerate(good)]
    next(iter(r[1].content.metric_records.values()))["loss"] = float("nan")
    for i in (0, 2):
        next(iter(r[i].content.metric_records.values()))["loss"] = 0.5
    with caplog.at_level(logging.WARNING):
        FedAggregate("median").aggregate_train(1, r)
    assert "the aggregated train metric 'loss' is NaN or infinite (reported by node(s) [2])" in caplog.text
    with pytest.raises(ValueError, match="vector must be finite"):
        vector_to_arrays(np.array([np.nan]), ["b"], [np.zeros(1)])
    with pytest.raises(ValueError, match="the values for array 'b' do not fit in its dtype float16"):
        vector_to_arrays(np.array([1e6]), ["b"], [np.zeros(1, np.float16)])


def test_an_aggregator_registered_later_works_unchanged():
    seen = []

    def heaviest(models, weights=None):
        seen.append(np.asarray(weights, dtype=float))
        return models[int(np.argmax(weights))]

    name = "test_flower_heaviest"
    radonml.register_aggregator(name, heaviest, weighted=True, overwrite=True)
    try:
        rng = np.random.default_rng(7)
        good = [{"w": rng.normal(size=(2, 2)), "b": rng.normal(size=2)} for _ in range(4)]
        n = [5, 40, 10, 20]
        replies = [_reply(node, g, n=k) for node, g, k in zip((4, 2, 9, 1), good, n)]
        arrays, _ = FedAggregate(name).aggregate_train(1, replies)
        np.testing.assert_array_equal(arrays["w"].numpy(), good[1]["w"])
        # the weights arrive in node order (1, 2, 4, 9), proportional to num-examples, not pre-multiplied
        np.testing.assert_allclose(seen[0] / seen[0].sum(), np.array([20, 40, 5, 10]) / 75, rtol=1e-15)
    finally:
        from radonml import aggregators

        registry = getattr(aggregators, "REGISTRY", None)  # public once the aggregators package lands
        (registry if registry is not None else aggregators._REGISTRY).pop(name)
    assert name not in radonml.available_aggregators()


@pytest.fixture(scope="module")
def bn_models():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 3, generator=g)
    y = (X[:, 0] - X[:, 2] > 0).long()
    out = []
    for seed in range(5):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(10 + 7 * seed):  # num_batches_tracked differs per model
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
        out.append(net.eval())
    with torch.no_grad():
        out[0][1].running_var.mul_(1e6)  # one corrupted client (the lightest: weight 10 of 150)
    return out


@pytest.mark.parametrize("method", ["median", "geometric_median", "mean", "trimmed_mean"])
def test_torch_adapter_and_flower_give_the_same_model(bn_models, method):
    """The one tensor policy: radonml.torch.aggregate_modules on the modules and FedAggregate on
    their state_dict arrays agree bit for bit, BatchNorm statistics and counters included."""
    from radonml.torch import aggregate_modules

    n = [10, 20, 30, 40, 50]
    weighted = method != "geometric_median"
    agg = aggregate_modules(bn_models, method, weights=n if weighted else None,
                            **({"beta": 0.2} if method == "trimmed_mean" else {}))
    s = FedAggregate(method, weighted=weighted, aggregator_options={"beta": 0.2} if method == "trimmed_mean" else None)
    s.set_global_arrays(1, ArrayRecord(bn_models[0].state_dict()))
    replies = [_reply(i + 1, {k: v.numpy() for k, v in m.state_dict().items()}, n=k) for i, (m, k) in enumerate(zip(bn_models, n))]
    arrays, _ = s.aggregate_train(1, replies[::-1])
    assert list(arrays.keys()) == list(agg.state_dict())
    for k, t in agg.state_dict().items():
        a = arrays[k].numpy()
        assert a.dtype == t.numpy().dtype and a.tobytes() == t.numpy().tobytes(), k
    assert int(agg[1].num_batches_tracked) == _lower_median_ref([10 + 7 * s for s in range(5)], n if weighted else [1] * 5)
    if method != "mean":
        assert float(agg[1].running_var.max()) < 100  # the corrupted client does not set the statistics
