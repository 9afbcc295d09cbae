"""The Flower App in examples/flower-app and the strategy's simulated adversary.

- ``FedAggregate`` takes every registered aggregator (and pre-aggregator pipeline) by name and
  gives what ``radonml.aggregate`` gives on the replies in node order;
- ``FedAggregate(attack=...)`` (the server-side colluding adversary) against independent
  numpy transcriptions of the attacks on the clients' updates, the documented per-round draw,
  arrival-order independence, non-finite attacks dropped, misuse named;
- the app's own pieces (the run config it ships, a malicious client's attack on its update);
- the app as a user starts it: ``flwr run examples/flower-app`` in Flower's local simulation
  (a managed local SuperLink, the Ray backend) in a subprocess; its JSON results say that the
  median stays good under a sign-flip and an IPM minority while the mean is ruined.
"""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("flwr")

from flwr.app import Array, ArrayRecord, Message, Metadata, MetricRecord, RecordDict  # noqa: E402
from flwr.common.config import flatten_dict  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the same parser, as Flower itself uses it
    import tomli as tomllib

import radonml  # noqa: E402
from radonml import FallbackWarning, aggregate  # noqa: E402
from radonml import aggregators as aggregators_module  # noqa: E402
from radonml.attacks import Attack, alie_z, available_attacks  # noqa: E402
from radonml.flower import FedAggregate, FedRadon  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "examples" / "flower-app"


# ------------------------------------------------------------------ replies without a simulation


def _reply(node, arrays, n=10, malicious=None, mid=None):
    """A train reply of ``node`` as Flower's runtime delivers it (real Metadata, RecordDict)."""
    meta = Metadata(run_id=1, message_id=str(node) if mid is None else mid, src_node_id=node, dst_node_id=0,
                    reply_to_message_id="i", group_id="1", created_at=0.0, ttl=60.0, message_type="train")
    metrics = {"num-examples": n}
    if malicious is not None:
        metrics["malicious"] = int(malicious)
    record = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})
    return Message(RecordDict({"arrays": record, "metrics": MetricRecord(metrics)}), metadata=meta)


def _record(arrays):
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def _quiet(strategy, rnd, replies):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        return strategy.aggregate_train(rnd, replies)


def _registered_methods():
    """Every registered aggregator and, where the registry has pre-aggregators, each of them
    before the mean (``"pre>mean"``), with the options a rule that takes ``f`` needs."""
    names = list(radonml.available_aggregators())
    pre = getattr(aggregators_module, "available_preaggregators", None)
    if pre is not None:
        names += [f"{p}>mean" for p in pre()]
    accepts = getattr(aggregators_module, "accepts_option", None)
    out = []
    for name in names:
        if accepts is not None and accepts(name, "f"):
            options = {"f": 1}
        else:
            options = {"beta": 0.2} if name == "trimmed_mean" else {}
        if name == "radon" or (accepts is not None and accepts(name, "rng")):
            options["rng"] = 3  # an int seed: the strategy and the reference draw the same
        out.append(pytest.param(name, options, id=name))
    return out


@pytest.mark.parametrize("method,options", _registered_methods())
def test_fedaggregate_takes_every_registered_rule_by_name(method, options):
    """10 replies of a d = 5 model: the strategy's global model is radonml.aggregate of the
    replies in node order (arrival order shuffled), with the rule's options; weighted exactly
    when the rule uses weights (num-examples differ per node)."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=(10, 4)).astype(np.float64)
    b = rng.normal(size=(10, 1))
    n_ex = np.arange(10) + 5
    replies = [_reply(node + 1, {"w": W[node], "b": b[node]}, n=int(n_ex[node])) for node in range(10)]
    order = rng.permutation(10)
    strategy = FedAggregate(method, aggregator_options=options)
    strategy.set_global_arrays(1, _record({"w": np.zeros(4), "b": np.zeros(1)}))
    arrays, _ = _quiet(strategy, 1, [replies[i] for i in order])
    assert arrays is not None, f"{method} kept the previous model"
    X = np.hstack([W, b])
    weights = n_ex.astype(float) if radonml.supports_weights(method) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        want = aggregate(X, method, weights=weights, **options)
    np.testing.assert_allclose(np.concatenate([arrays["w"].numpy(), arrays["b"].numpy()]), want, rtol=1e-12, atol=1e-12)
    assert strategy.methods_used == {1: method}


# ------------------------------------------------------------------ the simulated adversary


def _round(rng, k=7, d=(3, 2)):
    """A global model g (float32 w, float64 b, an int64 counter) and k replies near it."""
    g = {"w": rng.normal(size=d).astype(np.float32), "b": rng.normal(size=d[1]), "n": np.array([4], dtype=np.int64)}
    models = []
    for i in range(k):
        models.append({"w": (g["w"] + rng.normal(scale=0.1, size=d)).astype(np.float32),
                       "b": g["b"] + rng.normal(scale=0.1, size=d[1]), "n": np.array([10 + i], dtype=np.int64)})
    return g, models


def _flat(arrays):
    return np.concatenate([np.asarray(arrays["w"], dtype=np.float64).ravel(), np.asarray(arrays["b"]).ravel()])


def test_ipm_on_the_flagged_updates_matches_the_formula():
    """IPM (Xie et al. 2020) on the updates: each flagged client sends g - eps * mean(honest
    updates); the mean of all replies is then g + ((k - f) - f eps) / k * mean(honest updates)."""
    rng = np.random.default_rng(0)
    g, models = _round(rng, k=7)
    flags = [False, True, False, False, True, False, False]
    replies = [_reply(node + 1, m, malicious=fl) for node, (m, fl) in enumerate(zip(models, flags))]
    strategy = FedAggregate("mean", weighted=False, attack=Attack("ipm", epsilon=3.0), byzantine="malicious", attack_rng=1)
    strategy.set_global_arrays(4, _record(g))
    out = strategy.corrupt_replies(4, replies)
    honest_delta = np.array([_flat(m) - _flat(g) for m, fl in zip(models, flags) if not fl])
    want = _flat(g) - 3.0 * honest_delta.mean(axis=0)
    for msg, sent, fl, m in zip(out, replies, flags, models):
        got = msg.content["arrays"]
        if fl:
            np.testing.assert_allclose(_flat({k: got[k].numpy() for k in ("w", "b")}), want, rtol=1e-6, atol=1e-6)
            assert got["w"].numpy().dtype == np.float32 and got["b"].numpy().dtype == np.float64
            np.testing.assert_array_equal(got["n"].numpy(), m["n"])  # integer arrays stay the client's
            assert msg.content["metrics"]["malicious"] == 1 and msg.metadata.src_node_id in (2, 5)
        else:
            assert msg is sent  # honest replies are passed on as they are
    assert strategy.attacked_nodes == {4: [2, 5]}
    arrays, _ = strategy.aggregate_train(4, replies)
    mean_delta = honest_delta.mean(axis=0) * (5 - 2 * 3.0) / 7
    np.testing.assert_allclose(_flat({k: arrays[k].numpy() for k in ("w", "b")}), _flat(g) + mean_delta, rtol=1e-5, atol=1e-6)


def test_alie_on_node_ids_matches_the_formula_and_attack_on_model():
    """ALIE (Baruch et al. 2019): mu - z_max(n, f) sigma of the honest updates, per coordinate
    (sample std); attack_on="model" uses the models themselves."""
    rng = np.random.default_rng(1)
    g, models = _round(rng, k=8)
    replies = [_reply(node + 1, m) for node, m in enumerate(models)]
    byz = {3, 8}
    D = np.array([_flat(m) for m in models])
    honest = np.array([i + 1 not in byz for i in range(8)])
    z = alie_z(8, 2)
    for on, ref in (("update", _flat(g)), ("model", 0.0)):
        strategy = FedAggregate("median", attack="alie", byzantine=byz, attack_on=on, attack_rng=0)
        strategy.set_global_arrays(2, _record(g))
        out = strategy.corrupt_replies(2, replies)
        H = D[honest] - ref
        want = ref + H.mean(axis=0) - z * H.std(axis=0, ddof=1)
        for i in np.flatnonzero(~honest):
            got = out[i].content["arrays"]
            np.testing.assert_allclose(_flat({k: got[k].numpy() for k in ("w", "b")}), want, rtol=1e-5, atol=1e-6)


def test_f_byzantine_replies_drawn_per_round_as_documented():
    """byzantine=None: rng.choice(k, f, replace=False) with numpy.random.default_rng([seed, round])
    over the usable replies in node order, whatever order they arrive in; reproducible per round."""
    rng = np.random.default_rng(2)
    g, models = _round(rng, k=9)
    replies = [_reply(node * 3 + 1, m) for node, m in enumerate(models)]  # node ids 1, 4, 7, ...
    nodes = [r.metadata.src_node_id for r in replies]
    seen = {}
    for rnd in (1, 2, 3):
        for perm in (np.arange(9), rng.permutation(9)):
            strategy = FedAggregate("median", attack=Attack("sign_flip", f=3, scale=2.0), attack_rng=11)
            strategy.set_global_arrays(rnd, _record(g))
            arrays, _ = _quiet(strategy, rnd, [replies[i] for i in perm])
            want = sorted(nodes[j] for j in np.random.default_rng([11, rnd]).choice(9, 3, replace=False))
            assert sorted(strategy.attacked_nodes[rnd]) == want
            vec = _flat({k: arrays[k].numpy() for k in ("w", "b")})
            if rnd in seen:
                np.testing.assert_array_equal(vec, seen[rnd])  # arrival order changes nothing
            seen[rnd] = vec
    assert not np.array_equal(seen[1], seen[2])  # another round, another draw


def test_non_finite_attack_is_dropped_like_a_real_one(caplog):
    rng = np.random.default_rng(3)
    g, models = _round(rng, k=6)
    replies = [_reply(node + 1, m, malicious=node in (0, 5)) for node, m in enumerate(models)]
    strategy = FedAggregate("mean", weighted=False, attack=Attack("inf_nan", value=float("nan")), byzantine="malicious")
    strategy.set_global_arrays(1, _record(g))
    with caplog.at_level(logging.WARNING):
        arrays, _ = strategy.aggregate_train(1, replies)
    want = np.mean([_flat(m) for m in models[1:5]], axis=0)
    np.testing.assert_allclose(_flat({k: arrays[k].numpy() for k in ("w", "b")}), want, rtol=1e-6)
    assert "dropping the reply of node 1: its arrays hold NaN or inf" in caplog.text
    assert "dropping the reply of node 6: its arrays hold NaN or inf" in caplog.text


def test_attack_that_cannot_run_is_logged_and_changes_nothing(caplog):
    rng = np.random.default_rng(4)
    g, models = _round(rng, k=3)
    replies = [_reply(node + 1, m) for node, m in enumerate(models)]
    strategy = FedAggregate("mean", weighted=False, attack="alie", byzantine=[1, 2])  # one honest reply: no std
    strategy.set_global_arrays(1, _record(g))
    with caplog.at_level(logging.WARNING):
        out = strategy.corrupt_replies(1, replies)
    assert all(a is b for a, b in zip(out, replies))
    assert "the simulated attack 'alie' cannot run on these 3 replies (alie needs at least 2 honest model(s)" in caplog.text
    assert strategy.attacked_nodes == {1: []}


def test_attack_arguments_are_checked_once():
    with pytest.raises(ValueError, match="'label_flip' changes a client's data; it runs in the malicious ClientApp"):
        FedAggregate("mean", attack="label_flip", byzantine="malicious")
    with pytest.raises(ValueError, match="the attack has no f"):
        FedAggregate("mean", attack="ipm")
    with pytest.raises(ValueError, match="byzantine is used only with attack="):
        FedAggregate("mean", byzantine=[1])
    with pytest.raises(ValueError, match=r"attack_on must be one of \['update', 'model'\], got 'gradient'"):
        FedAggregate("mean", attack=Attack("ipm", f=1), attack_on="gradient")
    with pytest.raises(ValueError, match="attack_on is used only with attack="):
        FedAggregate("mean", attack_on="model")
    with pytest.raises(ValueError, match="unknown attack 'nope'"):
        FedAggregate("mean", attack="nope", byzantine=[1])
    with pytest.raises(TypeError, match="byzantine must be None, a metric name or a collection of node ids"):
        FedAggregate("mean", attack="ipm", byzantine=3)
    with pytest.raises(TypeError, match="attack must be an attack name or a radonml.attacks.Attack"):
        FedAggregate("mean", attack=3.0, byzantine=[1])
    strategy = FedRadon(attack=Attack("ipm", f=1), rng=0)  # FedRadon passes the adversary on
    with pytest.raises(RuntimeError, match="round 2: the simulated attack needs the global arrays sent in this round"):
        strategy.aggregate_train(2, [_reply(1, {"w": np.ones(2)})])


def test_no_attack_leaves_the_strategy_as_it_was():
    rng = np.random.default_rng(5)
    g, models = _round(rng, k=5)
    replies = [_reply(node + 1, m) for node, m in enumerate(models)]
    plain = FedAggregate("median")
    plain.set_global_arrays(1, _record(g))
    assert plain.attack is None and plain._global_values == {}
    with pytest.raises(RuntimeError, match="corrupt_replies needs an attack"):
        plain.corrupt_replies(1, replies)
    arrays, _ = plain.aggregate_train(1, replies)
    np.testing.assert_array_equal(arrays["b"].numpy(), np.median([m["b"] for m in models], axis=0))


# ------------------------------------------------------------------ the app's pieces


@pytest.fixture(scope="module")
def app_task():
    """The app's task module, imported from examples/flower-app as flwr imports it."""
    sys.path.insert(0, str(APP_DIR))
    try:
        from radonml_app import task
    finally:
        sys.path.remove(str(APP_DIR))
    return task


def _shipped_config():
    return flatten_dict(tomllib.loads((APP_DIR / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"])


def test_the_shipped_run_config_names_registered_rules(app_task):
    cfg = _shipped_config()
    s = app_task.Settings.from_run_config(cfg)
    assert set(s.aggregators) <= set(radonml.available_aggregators())
    assert set(s.attacks) - {"none"} <= set(available_attacks())
    assert set(s.attack_options) <= set(available_attacks())  # every options table names a registered attack
    for name in available_attacks():
        s.make_attack(name)  # the shipped options are accepted by each attack
    assert [s.attack_on_client(a) for a in ("sign_flip", "gaussian_noise", "inf_nan", "label_flip")] == [True] * 4
    assert [s.attack_on_client(a) for a in ("alie", "ipm", "mimic", "min_max", "min_sum")] == [False] * 5
    with pytest.raises(ValueError, match="unknown attack 'nope'"):
        app_task.Settings.from_run_config({**cfg, "attacks": "none nope"})
    with pytest.raises(TypeError, match="attack 'ipm' has no parameter"):
        app_task.Settings.from_run_config({**cfg, "attacks": "ipm", "attack-options.ipm.scale": 2.0})
    assert len(s.malicious_partitions(10)) == 3 and len(set(s.malicious_partitions(10))) == 3
    # a rule with a table gets exactly its table; f goes only to rules that take it (none on a
    # registry without radonml.aggregators.accepts_option)
    assert s.options_for("trimmed_mean", 10) == {"beta": 0.3}
    for name in radonml.available_aggregators():
        if name != "trimmed_mean":
            assert s.options_for(name, 10) == ({"f": 3} if app_task.takes_f(name) else {}), name


def test_a_malicious_client_attacks_its_own_update(app_task):
    """sign flip: g - scale * (x - g); Inf/NaN: every float entry; integers stay the client's."""
    s = app_task.Settings.from_run_config(_shipped_config())
    rng = np.random.default_rng(6)
    g, (x,) = _round(rng, k=1)
    out = app_task.attack_own_update(s, "sign_flip", _record(g), _record(x), np.random.default_rng(0))
    for k in ("w", "b"):
        want = g[k].astype(np.float64) - 4.0 * (x[k].astype(np.float64) - g[k])
        np.testing.assert_allclose(out[k].numpy(), want.astype(g[k].dtype), rtol=1e-6)
        assert out[k].numpy().dtype == g[k].dtype
    np.testing.assert_array_equal(out["n"].numpy(), x["n"])
    out = app_task.attack_own_update(s, "inf_nan", _record(g), _record(x), np.random.default_rng(0))
    assert np.isposinf(out["w"].numpy()).all() and np.isposinf(out["b"].numpy()).all()
    y = np.array([0, 1, 9, 3])  # digits: 10 classes, y -> 9 - y
    np.testing.assert_array_equal(app_task.flip_labels(s, np.zeros((4, 2)), y, None)[1], [9, 8, 0, 6])


# ------------------------------------------------------------------ `flwr run`, as a user starts it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children() -> dict:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except (OSError, IndexError):
        return False


def _stop_local_superlink(flwr_home: Path) -> None:
    """End the SuperLink that `flwr run` started for this test (its command line names this
    test's FLWR_HOME) and every process under it (SuperExec, flwr-simulation, Ray), by id."""
    if not Path("/proc").is_dir():  # pragma: no cover - Linux only; elsewhere nothing is found
        return
    roots = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and str(flwr_home) in _cmdline(int(p.name))]
    kids, pids, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        if pid != os.getpid() and pid not in pids:
            pids.append(pid)
            todo += kids.get(pid, [])
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.monotonic() + wait
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)


@pytest.mark.slow
def test_flwr_run_the_app_robust_aggregator_survives_the_attacks(tmp_path, app_task):
    """`flwr run examples/flower-app --stream` with 10 simulated clients, 3 of them malicious,
    4 rounds per (attack, aggregator): without an attack both aggregators learn the digits; a
    sign-flip minority (in the ClientApps) and an IPM minority with eps = 4 > (n - f) / f
    (colluding, in the strategy) ruin the mean while the median stays within 5 points of its
    clean accuracy. The initial accuracy is recomputed here from the data and the seed."""
    ray = pytest.importorskip("ray")  # noqa: F841 - Flower's simulation backend
    flwr = Path(sys.executable).with_name("flwr")
    flwr = str(flwr) if flwr.exists() else shutil.which("flwr")
    if flwr is None:
        pytest.skip("the flwr command is not installed")
    home, result = tmp_path / "flwr-home", tmp_path / "results.json"
    env = dict(os.environ)
    env.update({
        "FLWR_HOME": str(home),  # a fresh Flower config: the default local SuperLink connection
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(_free_port()),  # never another test's SuperLink
        "FLWR_LOCAL_CONTROL_API_PORT": str(_free_port()),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "UV_OFFLINE": "1",  # the app declares no dependencies: nothing to download
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),  # the SuperLink's (empty) runtime install
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    cmd = [flwr, "run", str(APP_DIR), "--stream",
           "--federation-config", "num-supernodes=10 client-resources-num-cpus=1 init-args-num-cpus=2",
           "--run-config", f"num-server-rounds=4 aggregators='mean median' attacks='none sign_flip ipm' "
                           f"attack-options.ipm.epsilon=4.0 result-file='{result}'"]
    log_file = tmp_path / "flwr-run.log"
    try:
        for _ in range(2):
            with open(log_file, "w") as log:
                try:
                    rc = subprocess.run(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600).returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout (600 s)"
            # flwr gives its local SuperLink 15 s to start; on a loaded machine it may need longer
            if "Failed to start local SuperLink within" not in log_file.read_text(errors="replace"):
                break
    finally:
        _stop_local_superlink(home)
    text = log_file.read_text(errors="replace")
    assert rc == 0 and result.exists(), f"flwr run failed (exit {rc}):\n{text[-6000:]}"
    out = json.loads(result.read_text())
    assert out["clients"] == 10 and len(out["malicious_partitions"]) == 3
    runs = out["attacks"]
    assert {a: runs[a]["runs_on"] for a in runs} == {"none": None, "sign_flip": "client", "ipm": "server"}
    acc = {(a, g): r["accuracy"] for a in runs for g, r in runs[a]["results"].items()}
    # the initial model, evaluated here: make_mlp(64, [], 10, seed=0) on digits' test split (seed 0)
    from radonml.datasets import load_digits
    from radonml.torch import make_mlp

    ds = load_digits(seed=0)
    with torch.no_grad():
        pred = make_mlp(64, [], 10, seed=0)(torch.from_numpy(ds.X_test)).argmax(1).numpy()
    for key, a in acc.items():
        assert len(a) == 5, key
        assert a[0] == pytest.approx(float((pred == ds.y_test).mean()), abs=1e-12), key
    clean_mean, clean_median = acc["none", "mean"][-1], acc["none", "median"][-1]
    assert clean_mean > 0.85 and clean_median > 0.85
    for attack in ("sign_flip", "ipm"):
        assert acc[attack, "median"][-1] > clean_median - 0.05, (attack, acc[attack, "median"])
        assert acc[attack, "mean"][-1] < 0.3, (attack, acc[attack, "mean"])
    # the colluding adversary replaced the 3 flagged replies in every round, for both aggregators
    for g in ("mean", "median"):
        attacked = runs["ipm"]["results"][g]["attacked_nodes"]
        assert sorted(attacked) == ["1", "2", "3", "4"] and all(len(v) == 3 for v in attacked.values())
        assert runs["sign_flip"]["results"][g]["attacked_nodes"] == {}
    assert "test accuracy after 4 rounds, 3 of 10 clients malicious" in text
