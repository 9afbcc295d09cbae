"""The Radon machine on a real Dask cluster: worker processes on loopback, through joblib."""

import json

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
import joblib  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402

from radonml.cli import main  # noqa: E402
from radonml.datasets import make_synthetic  # noqa: E402
from radonml.sklearn import RadonMachineClassifier, RadonMachineRegressor  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.parametrize("base, height", [(SGDClassifier(), 2), (LogisticRegression(), 1)], ids=["sgd", "logistic"])
def test_cluster_run_equals_local_run(client, base, height):
    X, y = make_synthetic(30000, seed=1)
    local = RadonMachineClassifier(base, height=height, random_state=5).fit(X, y)
    with distributed.get_task_stream(client) as ts, joblib.parallel_config(backend="dask"):
        remote = RadonMachineClassifier(base, height=height, random_state=5).fit(X, y)
    assert len(ts.data) >= 1  # tasks really ran on the cluster's workers
    workers = {t["worker"] for t in ts.data}
    assert workers <= set(client.scheduler_info()["workers"])
    assert remote.n_models_ == local.n_models_ == 21**height
    np.testing.assert_array_equal(remote.coef_, local.coef_)
    np.testing.assert_array_equal(remote.intercept_, local.intercept_)
    for a, b in zip(local.estimators_[:5], remote.estimators_[:5]):
        np.testing.assert_array_equal(a.coef_, b.coef_)


def test_cluster_regressor(client, rng):
    X = rng.standard_normal((5000, 3))
    y = X @ [1.0, 2.0, -1.0] + rng.standard_normal(5000)
    local = RadonMachineRegressor(height=1, random_state=0).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        remote = RadonMachineRegressor(height=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(remote.coef_, local.coef_)


def test_cli_on_a_running_scheduler(client, tmp_path):
    common = ["compare", "--dataset", "synthetic", "--n-samples", "8000", "--seed", "2", "--n-jobs", "2", "--quiet",
              "--no-plot"]
    assert main([*common, "--out", str(tmp_path / "loky")]) == 0
    address = client.scheduler.address
    assert main([*common, "--backend", "dask", "--scheduler", address, "--out", str(tmp_path / "dask")]) == 0
    a = json.loads((tmp_path / "loky" / "compare.json").read_text())
    b = json.loads((tmp_path / "dask" / "compare.json").read_text())
    a, b = a["regimes"][0], b["regimes"][0]
    assert address in b["backend"]
    for ra, rb in zip(a["results"], b["results"]):
        assert ra["label"] == rb["label"]
        np.testing.assert_array_equal(ra["coef"], rb["coef"])
        assert ra["auc"] == rb["auc"]
