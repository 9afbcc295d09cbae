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
ARGS = ["--dataset", "synthetic", "--n-samples", str(N), "--seed", str(SEED), "--n-jobs", "2", "--quiet"]


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
            js = json.load(f)
        assert len(js["regimes"]) == 1  # one comparison
        return js["regimes"][0], out

    return _run


def _auc_acc(res, ds):
    dec = ds.X_test @ np.asarray(res["coef"])[0] + res["intercept"][0]
    return roc_auc_score(ds.y_test, dec), accuracy_score(ds.y_test, (dec > 0).astype(int))


def test_compare_end_to_end(run_compare, data, capsys):
    js, out = run_compare("--estimator", "sgd", "--height", "2")  # SGD: 441 fast fits
    printed = capsys.readouterr().out
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert js["data"]["n_train"] == 4800 and js["data"]["radon_number"] == 21
    assert js["height_auto"] == 2
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
        (["--target", "y"], "--target applies to --data FILE only"),
        (["--data", "x.csv"], "either --dataset or --data"),
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
    js = json.loads((tmp_path / "compare.json").read_text())["regimes"][0]
    from radonml.datasets import load_digits

    ds = load_digits(seed=0)
    for r in js["results"]:
        dec = ds.X_test.astype(float) @ np.asarray(r["coef"]).T + np.asarray(r["intercept"])
        macro = np.mean([roc_auc_score(ds.y_test == c, dec[:, c]) for c in range(10)])
        assert r["auc"] == pytest.approx(macro, abs=1e-12)
        assert r["accuracy"] == pytest.approx(np.mean(dec.argmax(axis=1) == ds.y_test), abs=1e-12)
    with pytest.raises(SystemExit):
        main(["compare", "--estimator", "knn"])
    assert "unknown step 'knn'" in capsys.readouterr().err
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


# ----------------------------------------------------------------- the default run: three regimes


def test_three_regimes_recomputed(tmp_path):
    """The default run (made small): every reported AUC recomputed with plain scikit-learn and
    radonml's public API."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.svm import SVC

    from radonml.attacks import corrupt
    from radonml.cli.compare import KERNEL_ESTIMATOR, parse_estimator
    from radonml.datasets import load_spheres
    from radonml.sklearn import aggregate_parameters

    out = tmp_path / "three"
    rc = main(["compare", "--n-samples", "20000", "--kernel-samples", "3000", "--seed", "1", "--n-jobs", "2",
               "--quiet", "--out", str(out)])
    assert rc == 0
    js = json.loads((out / "compare.json").read_text())
    assert js["config"]["mode"] == "three regimes"
    assert [r["name"] for r in js["regimes"]] == ["speed-up", "robustness", "no speed-up"]
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    one, two, three = js["regimes"]

    # (1) the exact kernel SVM and the kernel Radon machine, refitted here
    ds = load_spheres(3000, seed=1)
    by = {r["label"]: r for r in one["results"]}
    svc = SVC(kernel="rbf", random_state=1).fit(ds.X_train, ds.y_train)
    assert by["central"]["auc"] == pytest.approx(roc_auc_score(ds.y_test, svc.decision_function(ds.X_test)), abs=1e-12)
    rm = RadonMachineClassifier(parse_estimator(KERNEL_ESTIMATOR, 1), height=1, random_state=1, n_jobs=2)
    rm.fit(ds.X_train, ds.y_train)
    assert rm.radon_number_ == 33 and by["radon h=1"]["n_models"] == 33
    assert by["radon h=1"]["auc"] == pytest.approx(roc_auc_score(ds.y_test, rm.decision_function(ds.X_test)),
                                                   abs=1e-10)
    np.testing.assert_allclose(by["radon h=1"]["coef"][0], rm.coef_[0], rtol=1e-9, atol=1e-12)
    linear = LogisticRegression().fit(ds.X_train, ds.y_train)
    assert by["linear model (central)"]["auc"] == pytest.approx(
        roc_auc_score(ds.y_test, linear.decision_function(ds.X_test)), abs=1e-12)
    assert abs(by["linear model (central)"]["auc"] - 0.5) < 0.06  # no linear model fits the spheres
    assert by["radon h=1"]["auc"] > by["central"]["auc"] - 0.02

    # (2) the same partition, 2^h - 1 models corrupted through radonml.attacks.corrupt
    data = load_synthetic(20000, seed=1)
    h = two["height_auto"]
    assert h == 1 and two["corrupt"] == 2**h - 1
    base = RadonMachineClassifier(LogisticRegression(max_iter=1000, random_state=1), height=h, random_state=1,
                                  n_jobs=2).fit(data.X_train, data.y_train)
    bad = corrupt(base.base_parameters_[:, 0, :], "sign_flip", f=two["corrupt"], scale=1e4,
                  rng=np.random.default_rng([1, h])).models
    by2 = {r["method"]: r for r in two["results"]}
    rows = aggregate_parameters(bad, "radon", height=h, rng=base.aggregation_seed_)
    np.testing.assert_allclose(by2["radon"]["coef"][0], rows[0, :-1], rtol=1e-9)
    np.testing.assert_allclose(by2["mean"]["coef"][0], bad.mean(axis=0)[:-1], rtol=1e-9)
    assert by2["mean"]["auc"] < 0.5 < by2["central"]["auc"] - 0.3  # averaging breaks
    assert abs(by2["radon"]["auc"] - by2["central"]["auc"]) < 0.01  # the Radon point holds
    auc, _ = _auc_acc(by2["radon"], data)
    assert by2["radon"]["auc"] == pytest.approx(auc, abs=1e-12)

    # (3) the same fits, clean, labelled as the regime that does not pay
    assert "does not pay" in three["verdict"]
    assert [r["method"] for r in three["results"]] == ["central", "radon", "mean"]
    np.testing.assert_allclose(three["results"][1]["coef"][0], base.coef_[0], rtol=1e-9)


# ----------------------------------------------------------------- your own data


def _write_table(path, n=3000, seed=0, missing=True):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    city = rng.choice(["Bonn", "Graz", "Pisa"], size=n)
    y = (a + 0.8 * (city == "Pisa") - 0.5 * b + 0.3 * rng.standard_normal(n) > 0.2)
    with open(path, "w") as fh:
        fh.write("a,b,city,label\n")
        for i in range(n):
            cell = "" if (missing and i % 23 == 0) else f"{a[i]:.6f}"
            fh.write(f"{cell},{b[i]:.6f},{city[i]},{'yes' if y[i] else 'no'}\n")


def test_compare_on_a_csv_with_categories_and_missing_values(tmp_path, capsys):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from radonml.datasets import load_table

    path = tmp_path / "t.csv"
    _write_table(path)
    common = ["compare", "--data", str(path), "--target", "label", "--n-jobs", "2", "--quiet", "--no-plot",
              "--min-samples", "50", "--seed", "2"]
    # missing values that nothing imputes: refused before anything is fitted, naming the column
    rc = main([*common, "--out", str(tmp_path / "no")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "column 'a' has 131 missing value(s)" in err and "--impute mean" in err
    rc = main([*common, "--impute", "mean", "--categorical", "error", "--out", str(tmp_path / "no")])
    assert rc == 2 and "column 'city' of" in capsys.readouterr().err
    rc = main([*common, "--impute", "median", "--out", str(tmp_path / "ok")])
    assert rc == 0
    js = json.loads((tmp_path / "ok" / "compare.json").read_text())["regimes"][0]
    assert js["data"]["categorical"] == {"city": ["Bonn", "Graz", "Pisa"]} and js["data"]["missing"] == {"a": 131}
    assert js["data"]["classes"] == ["no", "yes"]
    # the central model, rebuilt by hand: median imputation, one-hot city, logistic regression
    ds = load_table(path, "label", test_size=0.2, seed=2)
    pipe = Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("onehot", ColumnTransformer([("onehot", OneHotEncoder(categories=[[0, 1, 2]], handle_unknown="ignore",
                                                               sparse_output=False), [2])], remainder="passthrough")),
        ("lr", LogisticRegression(max_iter=1000, random_state=2)),
    ]).fit(ds.X_train, ds.y_train)
    central = js["results"][0]
    assert central["auc"] == pytest.approx(roc_auc_score(ds.y_test, pipe.decision_function(ds.X_test)), abs=1e-12)
    np.testing.assert_allclose(central["coef"][0], pipe[-1].coef_[0], rtol=1e-9)
    # the Radon machine's models live in the one-hot space: 3 + 2 features and an intercept, r = 8
    assert js["data"]["radon_number"] == 8 and len(js["results"][1]["coef"][0]) == 5
    assert js["results"][1]["auc"] > central["auc"] - 0.02


def test_compare_on_npz_and_svmlight_files(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    X, y = load_synthetic(6000, seed=4).X_train, load_synthetic(6000, seed=4).y_train
    np.savez_compressed(tmp_path / "d.npz", X=X, y=y)
    dump_svmlight_file(X, 2 * y - 1, str(tmp_path / "d.svm"))
    for name, extra in (("d.npz", []), ("d.svm", ["--estimator", "scale+sgd"])):
        out = tmp_path / name.replace(".", "_")
        rc = main(["compare", "--data", str(tmp_path / name), "--n-jobs", "2", "--quiet", "--no-plot", "--out",
                   str(out), *extra])
        assert rc == 0, name
        js = json.loads((out / "compare.json").read_text())["regimes"][0]
        assert js["data"]["n_train"] + js["data"]["n_test"] == 4800 and js["data"]["n_features"] == 18
        assert all(r["auc"] > 0.8 for r in js["results"]), name


def test_estimator_specifications():
    from sklearn.kernel_approximation import Nystroem
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC, LinearSVC

    from radonml.cli.compare import parse_estimator

    est = parse_estimator("scale+nystroem:n_components=12,gamma=0.5+linear-svc:C=1e+2", seed=7)
    assert isinstance(est, Pipeline) and [n for n, _ in est.steps] == ["scale", "nystroem", "linear-svc"]
    assert est[1].get_params()["n_components"] == 12 and est[1].random_state == 7 and est[1].gamma == 0.5
    assert isinstance(est[-1], LinearSVC) and est[-1].C == 100.0
    assert isinstance(parse_estimator("svc-rbf", central=True), SVC)
    assert isinstance(parse_estimator("nystroem+logistic")[0], Nystroem)
    for bad, msg in [
        ("knn", "unknown step 'knn'"),
        ("scale", "ends in the feature map 'scale'"),
        ("logistic+scale", "has the model 'logistic' before its last step"),
        ("svc-rbf", "use it as --central"),
        ("logistic:cost=2", "step 'logistic' has no option 'cost'"),
        ("logistic:C", "must be key=value"),
        ("", "empty value"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_estimator(bad)


def test_a_base_that_cannot_be_aggregated_fails_before_fitting(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", *ARGS, "--out", str(tmp_path), "--estimator", "svc-rbf"])
    assert exc.value.code == 2 and "use it as --central" in capsys.readouterr().err  # argparse, before any data
    assert not (tmp_path / "compare.json").exists()


def test_plot_compare_regimes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radonml.plot._compare import plot_compare_regimes

    res = [{"label": "central", "method": "central", "train_time": 10.0, "auc": 0.85},
           {"label": "radon h=1", "method": "radon", "train_time": 0.5, "auc": 0.849}]
    fig = plot_compare_regimes([{"title": "a", "verdict": "v", "results": res}, {"title": "b", "results": res},
                                {"title": "c", "results": res[:1]}], path=tmp_path / "r.png")
    assert len(fig.axes) == 3 and fig.axes[0].get_title().endswith("v")
    assert (tmp_path / "r.png").stat().st_size > 0
    plt.close(fig)
    with pytest.raises(ValueError, match="needs a 'results' key"):
        plot_compare_regimes([{"title": "x"}])
