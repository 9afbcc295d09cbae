"""radonml.datasets: the synthetic generator and the offline loaders."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from radonml.datasets import (
    Dataset,
    iter_synthetic,
    load_breast_cancer,
    load_digits,
    load_mnist1d,
    load_synthetic,
    make_synthetic,
)


def test_deterministic_per_seed():
    X1, y1 = make_synthetic(5000, seed=7)
    X2, y2 = make_synthetic(5000, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, y3 = make_synthetic(5000, seed=8)
    assert not np.allclose(X1, X3)
    assert X1.dtype == np.float64 and y1.dtype == np.int64 and X1.shape == (5000, 18)
    assert set(np.unique(y1).tolist()) == {0, 1}


@pytest.mark.parametrize("chunk_size", [1, 9999, 65536, 70001])
def test_chunks_do_not_change_rows(chunk_size):
    n = 140_000  # crosses two block boundaries
    X, y = make_synthetic(n, seed=3)
    if chunk_size == 1:  # a few single rows, anywhere
        for i in (0, 65535, 65536, 139_999):
            Xi, yi = make_synthetic(1, seed=3, start=i)
            np.testing.assert_array_equal(Xi[0], X[i])
            assert yi[0] == y[i]
        return
    chunks = list(iter_synthetic(n, chunk_size=chunk_size, seed=3))
    assert all(c[0].shape[0] == chunk_size for c in chunks[:-1])
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y)


def test_range_across_block_boundary_and_float32():
    X, y = make_synthetic(70000, seed=2)
    Xs, ys = make_synthetic(1000, seed=2, start=65000)
    np.testing.assert_array_equal(Xs, X[65000:66000])
    np.testing.assert_array_equal(ys, y[65000:66000])
    X32, _ = make_synthetic(100, seed=2, dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, X[:100], rtol=1e-6)


def _linear_auc(ds):
    m = LogisticRegression(max_iter=500).fit(ds.X_train, ds.y_train)
    return roc_auc_score(ds.y_test, m.decision_function(ds.X_test))


@pytest.fixture
def one_thread():
    # small dense fits: multi-threaded BLAS/OpenMP only adds contention on a busy machine
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("n_features", [18, 28])
def test_linear_auc_is_realistic(n_features):
    ds = load_synthetic(60_000, test_size=0.5, n_features=n_features, seed=1)
    assert ds.X_train.shape == (30_000, n_features)
    auc = _linear_auc(ds)
    assert 0.8 < auc < 0.9, auc
    # a nonlinear model can do better: the set is not linearly separable to its Bayes limit
    from sklearn.ensemble import HistGradientBoostingClassifier

    hgb = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(ds.X_train, ds.y_train)
    assert roc_auc_score(ds.y_test, hgb.predict_proba(ds.X_test)[:, 1]) > auc + 0.01


@pytest.mark.usefixtures("one_thread")
def test_label_noise_flips_labels_of_the_same_data():
    n, eta = 100_000, 0.2
    X0, y0 = make_synthetic(n, seed=5)
    X1, y1 = make_synthetic(n, seed=5, label_noise=eta)
    np.testing.assert_array_equal(X0, X1)
    flipped = (y0 != y1).mean()
    assert abs(flipped - eta) < 4 * np.sqrt(eta * (1 - eta) / n)
    # AUC of a fixed scorer under symmetric label noise: 0.5 + (1 - 2 eta) (AUC_0 - 0.5)
    clean = load_synthetic(n, test_size=0.5, seed=5)
    noisy = load_synthetic(n, test_size=0.5, seed=5, label_noise=eta)
    m = LogisticRegression().fit(clean.X_train, clean.y_train)
    s = m.decision_function(clean.X_test)
    a0, a1 = roc_auc_score(clean.y_test, s), roc_auc_score(noisy.y_test, s)
    assert abs(a1 - (0.5 + (1 - 2 * eta) * (a0 - 0.5))) < 0.01


def test_positive_fraction():
    _, y = make_synthetic(50_000, seed=0, positive_fraction=0.3)
    assert abs(y.mean() - 0.3) < 4 * np.sqrt(0.21 / 50_000)


def test_load_synthetic_is_make_synthetic_split():
    ds = load_synthetic(1000, test_size=0.3, seed=9)
    X, y = make_synthetic(1000, seed=9)
    assert isinstance(ds, Dataset) and ds.name == "synthetic18"
    np.testing.assert_array_equal(ds.X_train, X[:700])
    np.testing.assert_array_equal(ds.X_test, X[700:])
    np.testing.assert_array_equal(np.r_[ds.y_train, ds.y_test], y)
    Xtr, ytr, Xte, yte = ds
    assert Xte.shape == (300, 18) and ds.n_classes == 2


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1"),
        ({"n_samples": 1.5}, TypeError, "n_samples must be an integer"),
        ({"n_samples": 10, "n_features": 1}, ValueError, "n_features must be >= 2"),
        ({"n_samples": 10, "label_noise": 0.5}, ValueError, r"label_noise must lie in \[0.0, 0.5\)"),
        ({"n_samples": 10, "label_noise": -0.1}, ValueError, "label_noise"),
        ({"n_samples": 10, "positive_fraction": 0.0}, ValueError, "positive_fraction must lie in"),
        ({"n_samples": 10, "seed": -1}, ValueError, "seed must be >= 0"),
        ({"n_samples": 10, "start": -5}, ValueError, "start must be >= 0"),
    ],
)
def test_make_synthetic_bad_input(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        make_synthetic(**kwargs)


def test_iter_and_load_bad_input():
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        next(iter_synthetic(10, chunk_size=0))
    with pytest.raises(ValueError, match="leaves 0 test"):
        load_synthetic(10, test_size=0.01)


# ----------------------------------------------------------------- bundled / generated sets


def test_breast_cancer_and_digits():
    bc = load_breast_cancer()
    assert bc.X_train.shape[1] == 30 and bc.X_train.shape[0] + bc.X_test.shape[0] == 569
    np.testing.assert_allclose(bc.X_train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(bc.X_train.std(axis=0), 1.0, rtol=1e-10)
    dg = load_digits()
    assert dg.X_train.shape[1] == 64 and dg.n_classes == 10 and dg.X_train.max() <= 1.0


def test_mnist1d_offline_and_restores_global_rng():
    import random

    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    ds = load_mnist1d(200, seed=0)
    assert ds.X_train.shape[1] == 40 and ds.X_train.shape[0] + ds.X_test.shape[0] == 200
    assert set(np.unique(np.r_[ds.y_train, ds.y_test])) <= set(range(10))
    assert np.random.random() == expected_np and random.random() == expected_py


def test_docstring_examples():
    import doctest

    import radonml.datasets

    res = doctest.testmod(radonml.datasets)
    assert res.attempted > 0 and res.failed == 0


# ----------------------------------------------------------------- generation cost


def _reference_block(seed, block, n_features=18, label_noise=0.0, positive_fraction=0.5):
    """One whole 65,536-row block, generated as the docstring describes, in float64."""
    from radonml.datasets import _synthetic_model

    mu, skewed, mixing, spread = _synthetic_model(n_features)
    g = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(block,)))
    y = g.random(65536) < positive_fraction
    z = g.standard_normal((65536, n_features))
    flip = g.random(65536) < label_noise
    z[y] = z[y] * spread + mu
    z[:, skewed] = np.log1p(np.exp(1.5 * z[:, skewed]))
    return z @ mixing, (y ^ flip).astype(np.int64)


@pytest.mark.parametrize("label_noise", [0.0, 0.2])
def test_rows_match_the_whole_block_reference(label_noise):
    ref = [_reference_block(4, b, label_noise=label_noise) for b in (0, 1)]
    Xr, yr = np.concatenate([r[0] for r in ref]), np.concatenate([r[1] for r in ref])
    for start, n in [(0, 10), (0, 65536), (65530, 12), (70000, 100), (65535, 1), (3, 131069)]:
        X, y = make_synthetic(n, seed=4, start=start, label_noise=label_noise)
        np.testing.assert_allclose(X, Xr[start : start + n], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(y, yr[start : start + n])


def test_small_chunks_generate_each_block_once(monkeypatch):
    import radonml.datasets as dsm

    calls = []
    real = dsm._synthetic_block

    def counting(seed, block, *args, **kwargs):
        calls.append(block)
        return real(seed, block, *args, **kwargs)

    monkeypatch.setattr(dsm, "_synthetic_block", counting)
    n = 140_000  # three blocks
    chunks = list(iter_synthetic(n, chunk_size=1000, seed=3))
    assert len(chunks) == 140 and sorted(calls) == [0, 1, 2]
    X, y = make_synthetic(n, seed=3)
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y)
