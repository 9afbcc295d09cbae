"""`radonml compare` end to end, with every number in its JSON recomputed independently."""

import json

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

from radonml.cli import main
from radonml.datasets import load_synthetic
from radonml.sklearn import RadonMachineClassifier

N, SEED = 6000, 3
ARGS = ["--n-samples", str(N), "--seed", str(SEED), "--n-jobs", "2", "--quiet"]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # many small dense fits: multi-threaded BLAS only adds contention (joblib's workers get one thread each)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    return load_synthetic(N, seed=SEED)


@pytest.fixture(scope="module")
def run_compare(tmp_path_factory):
    def _run(*extra):
        out = tmp_path_factory.mktemp("compare")
        rc = main(["compare", *ARGS, "--out", str(out), *extra])
        assert rc == 0
        with open(out / "compare.json") as f:
            return json.load(f), out

    return _run


def _auc_acc(res, ds):
    dec = ds.X_test @ np.asarray(res["coef"])[0] + res["intercept"][0]
    return roc_auc_score(ds.y_test, dec), accuracy_score(ds.y_test, (dec > 0).astype(int))


def test_compare_end_to_end(run_compare, data, capsys):
    js, out = run_compare("--estimator", "sgd", "--height", "2")  # SGD: 441 fast fits
    printed = capsys.readouterr().out
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert js["data"]["n_train"] == 4800 and js["data"]["radon_number"] == 21
    assert js["config"]["height_auto"] == 2
    labels = [r["label"] for r in js["results"]]
    assert labels == ["central", "radon h=1", "radon h=2", "averaging h=2", "coord. median h=2", "geom. median h=2"]
    for lab in labels:
        assert lab in printed
    by = {r["label"]: r for r in js["results"]}

    # every reported AUC and accuracy, recomputed from the reported model on the test set
    for r in js["results"]:
        auc, acc = _auc_acc(r, data)
        assert r["auc"] == pytest.approx(auc, abs=1e-12)
        assert r["accuracy"] == pytest.approx(acc, abs=1e-12)
        assert r["speedup"] == pytest.approx(by["central"]["train_time"] / r["train_time"])
        assert r["n_models"] == (1 if r["method"] == "central" else 21 ** r["height"])

    # the central learner, refitted here with plain scikit-learn
    central = SGDClassifier(random_state=SEED).fit(data.X_train, data.y_train)
    np.testing.assert_allclose(by["central"]["coef"][0], central.coef_[0], rtol=1e-10)
    assert by["central"]["auc"] == pytest.approx(roc_auc_score(data.y_test, central.decision_function(data.X_test)))

    # the Radon machine rows are what RadonMachineClassifier computes with the same seed
    base = SGDClassifier(random_state=SEED)
    for h, agg, label in [(1, "radon", "radon h=1"), (2, "radon", "radon h=2"), (2, "mean", "averaging h=2")]:
        rm = RadonMachineClassifier(base, height=h, aggregation=agg, random_state=SEED, n_jobs=2)
        rm.fit(data.X_train, data.y_train)
        np.testing.assert_allclose(by[label]["coef"][0], rm.coef_[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(by[label]["intercept"][0], rm.intercept_[0], rtol=1e-9, atol=1e-12)
    assert by["radon h=1"]["auc"] > by["central"]["auc"] - 0.02
    for r in js["results"][2:]:  # parts of about 11 rows for 19 parameters: a rough regime
        assert r["auc"] > 0.75


def test_compare_corrupt_breaks_the_mean_not_the_radon_point(run_compare, data):
    js, _ = run_compare("--corrupt", "1", "--no-plot")  # logistic, height auto = 1 (4800 / 21 >= 100)
    by = {r["label"]: r for r in js["results"]}
    assert list(by) == ["central", "radon h=1", "averaging h=1", "coord. median h=1", "geom. median h=1"]
    central = by["central"]["auc"]
    assert by["averaging h=1"]["auc"] < 0.5  # one sign-flipped, scaled model drags the mean over
    for lab in ("radon h=1", "coord. median h=1", "geom. median h=1"):
        assert abs(by[lab]["auc"] - central) < 0.01, lab
        auc, _ = _auc_acc(by[lab], data)
        assert by[lab]["auc"] == pytest.approx(auc, abs=1e-12)


@pytest.mark.parametrize(
    "extra, msg",
    [
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --backend dask"),
        (["--corrupt", "500"], r"--corrupt 500 exceeds the number of base models \(21 at height 1\)"),
        (["--height", "3"], r"--height=3 needs r\^height = 21\^3 = 9261 parts.*smallest class has \d+ examples"),
        (["--estimator", "svc-linear", "--dataset", "digits"], "binary data sets only"),
    ],
)
def test_compare_bad_options(extra, msg, tmp_path, capsys):
    rc = main(["compare", *ARGS, "--out", str(tmp_path), *extra])
    assert rc == 2
    import re

    assert re.search(msg, capsys.readouterr().err)
    assert not (tmp_path / "compare.json").exists()  # refused before anything is fitted or written


@pytest.mark.parametrize(
    "extra, msg",
    [
        (["--n-jobs", "0"], "argument --n-jobs: expected a positive integer or -1 (all cores), got '0'"),
        (["--label-noise", "0.7"], "argument --label-noise: expected a number in [0, 0.5), got 0.7"),
        (["--corrupt-scale", "0"], "argument --corrupt-scale: expected a positive number, got 0.0"),
    ],
)
def test_compare_bad_values(extra, msg, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", *ARGS, "--out", str(tmp_path), *extra])
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err


def test_compare_multiclass_and_argparse_errors(tmp_path, capsys):
    rc = main(["compare", "--dataset", "digits", "--estimator", "linear-svc", "--height", "1", "--quiet",
               "--n-jobs", "1", "--no-plot", "--out", str(tmp_path)])
    assert rc == 0
    js = json.loads((tmp_path / "compare.json").read_text())
    from radonml.datasets import load_digits

    ds = load_digits(seed=0)
    for r in js["results"]:
        dec = ds.X_test.astype(float) @ np.asarray(r["coef"]).T + np.asarray(r["intercept"])
        macro = np.mean([roc_auc_score(ds.y_test == c, dec[:, c]) for c in range(10)])
        assert r["auc"] == pytest.approx(macro, abs=1e-12)
        assert r["accuracy"] == pytest.approx(np.mean(dec.argmax(axis=1) == ds.y_test), abs=1e-12)
    with pytest.raises(SystemExit):
        main(["compare", "--estimator", "knn"])
    with pytest.raises(SystemExit):
        main(["compare", "--height", "0"])


def test_plot_compare(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radonml.plot import plot_compare

    res = [
        {"label": "central", "method": "central", "train_time": 10.0, "auc": 0.85},
        {"label": "radon h=1", "method": "radon", "train_time": 0.5, "auc": 0.849},
        {"label": "other", "method": "trimmed_mean", "train_time": 0.6, "auc": 0.848},
    ]
    fig = plot_compare(res, path=tmp_path / "c.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"  # a ratio of 20 or less stays linear
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(offsets, [[10.0, 0.85], [0.5, 0.849], [0.6, 0.848]])
    assert (tmp_path / "c.png").stat().st_size > 0
    plt.close(fig)
    res[1]["train_time"] = 0.01
    fig = plot_compare(res)
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one entry"):
        plot_compare([])
    with pytest.raises(ValueError, match="needs a 'auc' key"):
        plot_compare([{"label": "a", "method": "mean", "train_time": 1.0}])
