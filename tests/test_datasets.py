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


# ----------------------------------------------------------------- a set no linear model can fit


def test_spheres_follow_their_definition_and_defeat_linear_models():
    from scipy.stats import chi2

    from radonml.datasets import load_spheres, make_spheres

    X, y = make_spheres(70000, n_features=5, label_noise=0.0, seed=2)
    np.testing.assert_array_equal(y, (np.sum(X**2, axis=1) < chi2.ppf(0.5, 5)).astype(int))
    assert abs(y.mean() - 0.5) < 0.01
    noisy = make_spheres(70000, n_features=5, label_noise=0.1, seed=2)
    np.testing.assert_array_equal(noisy[0], X)  # the same X, labels flipped with probability 0.1
    assert abs(np.mean(noisy[1] != y) - 0.1) < 0.005
    part = make_spheres(100, n_features=5, label_noise=0.1, seed=2, start=65500)  # across a block boundary
    np.testing.assert_array_equal(part[0], X[65500:65600])
    np.testing.assert_array_equal(part[1], noisy[1][65500:65600])
    ds = load_spheres(20000, seed=1)
    auc = roc_auc_score(ds.y_test, LogisticRegression().fit(ds.X_train, ds.y_train).decision_function(ds.X_test))
    assert abs(auc - 0.5) < 0.03
    with pytest.raises(ValueError, match="label_noise must lie in"):
        make_spheres(10, label_noise=0.5)


# ----------------------------------------------------------------- load_table: your own files


def _write_csv(path, n=3000, seed=0, late_text_at=None):
    """A CSV with a numeric column with gaps, a categorical one, an integer one and string labels;
    returns the columns as Python lists (the independent reference)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).round(6)
    a_cells = [("" if i % 17 == 0 else ("NA" if i % 29 == 0 else repr(float(v)))) for i, v in enumerate(a)]
    colors = rng.choice(["red", "green", "blue"], size=n)
    color_cells = [("" if i % 50 == 3 else str(c)) for i, c in enumerate(colors)]
    k = rng.integers(0, 5, size=n)
    k_cells = [str(v) for v in k]
    if late_text_at is not None:
        k_cells[late_text_at] = "many"
    labels = np.where(a + (colors == "red") > 0.3, "pos", "neg")
    with open(path, "w") as fh:
        fh.write("row,a,color,k,label\n")
        for i, row in enumerate(zip(a_cells, color_cells, k_cells, labels)):
            fh.write(",".join((str(i),) + row) + "\n")
    return a_cells, color_cells, k_cells, list(labels)


def _reference(cells):
    a_cells, color_cells, k_cells, labels = cells
    a = np.array([np.nan if c in ("", "NA") else float(c) for c in a_cells])
    cats = sorted(set(c for c in color_cells if c)) + ["(missing)"]
    color = np.array([cats.index(c if c else "(missing)") for c in color_cells], dtype=float)
    return a, color, cats, labels


def test_load_table_csv_against_an_independent_parse(tmp_path):
    from radonml.datasets import load_table

    path = tmp_path / "d.csv"
    cells = _write_csv(path)
    a, color, cats, labels = _reference(cells)
    ds = load_table(path, "label", test_size=0.25, seed=3, chunk_rows=128)
    assert ds.feature_names == ["row", "a", "color", "k"] and ds.classes.tolist() == ["neg", "pos"]
    assert ds.categories == {2: cats} and ds.missing == {"a": sum(c in ("", "NA") for c in cells[0])}
    X = np.c_[np.arange(len(a)), a, color, np.array(cells[2], dtype=float)]
    y = np.array([["neg", "pos"].index(v) for v in labels])
    # the split: every row once, in file order within each split, with its label; stratified
    rows_tr, rows_te = ds.X_train[:, 0].astype(int), ds.X_test[:, 0].astype(int)
    np.testing.assert_array_equal(np.sort(np.r_[rows_tr, rows_te]), np.arange(len(a)))
    assert (np.diff(rows_tr) > 0).all() and (np.diff(rows_te) > 0).all()
    np.testing.assert_array_equal(ds.X_train, X[rows_tr])
    np.testing.assert_array_equal(ds.X_test, X[rows_te])
    np.testing.assert_array_equal(ds.y_train, y[rows_tr])
    np.testing.assert_array_equal(ds.y_test, y[rows_te])
    for c in (0, 1):
        assert (ds.y_test == c).sum() == round(0.25 * (y == c).sum())
    # chunking does not change anything
    again = load_table(path, "label", test_size=0.25, seed=3, chunk_rows=100000)
    np.testing.assert_array_equal(again.X_train, ds.X_train)


def test_load_table_column_that_turns_categorical_late(tmp_path):
    from radonml.datasets import load_table

    path = tmp_path / "late.csv"
    cells = _write_csv(path, n=1000, late_text_at=900)
    ds = load_table(path, "label", test_size=0.2, chunk_rows=64)
    cats = sorted(set(cells[2]))  # '0'..'4' and 'many', as text
    assert ds.categories[3] == cats
    both = np.r_[ds.X_train[:, 3], ds.X_test[:, 3]]
    np.testing.assert_array_equal(np.sort(both), np.sort([cats.index(c) for c in cells[2]]))


def test_load_table_out_of_core_into_a_memory_map(tmp_path):
    """A file read in chunks of 25 rows into .npy memory maps: the same values as in memory,
    with a traced peak far below the array's size (what stays is O(n): the labels and the split)."""
    import tracemalloc

    from radonml.datasets import load_table

    n, p = 10000, 50
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, p)).round(5)
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "big.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.5f", header=",".join([f"f{j}" for j in range(p)] + ["y"]),
               comments="")
    small = tmp_path / "small.csv"
    small.write_text("a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n")
    load_table(small, "y", memmap=True, memmap_dir=tmp_path / "warm")  # imports happen before tracing
    tracemalloc.start()
    ds = load_table(path, "y", test_size=0.1, chunk_rows=25, memmap=True, memmap_dir=tmp_path / "maps")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(ds.X_train, np.memmap) and isinstance(ds.X_test, np.memmap)
    assert (tmp_path / "maps" / "X_train.npy").exists()
    assert peak < 0.25 * X.nbytes, peak  # the 4 MB array never sat in memory (the labels, O(n), do)
    mem = load_table(path, "y", test_size=0.1, chunk_rows=500, memmap=False)
    assert not isinstance(mem.X_train, np.memmap)
    np.testing.assert_array_equal(np.asarray(ds.X_train), mem.X_train)
    np.testing.assert_array_equal(ds.y_test, mem.y_test)
    np.testing.assert_allclose(np.sort(np.r_[ds.X_train, ds.X_test][:, 3]), np.sort(X[:, 3]))
    # auto: the arrays exceed max_memory
    assert isinstance(load_table(small, "y", max_memory=10, memmap_dir=tmp_path / "m2").X_train, np.memmap)
    assert not isinstance(load_table(small, "y").X_train, np.memmap)
    # np.load(mmap_mode="r") reads the same file back
    np.testing.assert_array_equal(np.load(tmp_path / "maps" / "X_train.npy", mmap_mode="r"), mem.X_train)


@pytest.mark.parametrize("compressed", [False, True])
def test_load_table_npz_streamed(tmp_path, compressed):
    from radonml.datasets import load_table

    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 3))
    y = np.where(X[:, 0] > 0, "b", "a")
    path = tmp_path / "d.npz"
    (np.savez_compressed if compressed else np.savez)(path, X=X, target=y)
    ds = load_table(path, "target", test_size=0.2, chunk_rows=333)
    assert ds.classes.tolist() == ["a", "b"] and ds.feature_names == ["x0", "x1", "x2"]
    both = np.r_[ds.X_train, ds.X_test]
    np.testing.assert_array_equal(both[np.lexsort(both.T)], X[np.lexsort(X.T)])
    np.testing.assert_array_equal(ds.X_train[:, 0] > 0, ds.y_train == 1)
    Xf = np.asfortranarray(X)
    np.savez(tmp_path / "f.npz", X=Xf, y=(X[:, 1] > 0).astype(int))
    f = load_table(tmp_path / "f.npz", test_size=0.2, chunk_rows=1000)
    np.testing.assert_array_equal(f.X_train[:, 1] > 0, f.y_train == 1)
    # a data file never runs code: object arrays are refused, not unpickled
    np.savez(tmp_path / "o.npz", X=X, y=np.array([{"a": 1}] * 5000, dtype=object))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_table(tmp_path / "o.npz")
    with pytest.raises(ValueError, match=r"has no array 'label'.*\['X', 'target'\]"):
        load_table(path, "label")


@pytest.mark.parametrize("zero_based", [True, False])
def test_load_table_svmlight(tmp_path, zero_based):
    from sklearn.datasets import dump_svmlight_file

    from radonml.datasets import load_table

    rng = np.random.default_rng(2)
    X = rng.standard_normal((4000, 6)) * (rng.random((4000, 6)) < 0.5)
    X[:, 0] = np.abs(X[:, 0]) + 1.0  # a 0 index in every line when zero-based
    y = np.where(X[:, 1] > 0, 1, -1)
    path = tmp_path / "d.svm"
    dump_svmlight_file(X, y, str(path), zero_based=zero_based)
    ds = load_table(path, test_size=0.25, chunk_rows=300)
    assert ds.classes.tolist() == [-1, 1] and ds.X_train.shape == (3000, 6)
    both = np.r_[ds.X_train, ds.X_test]
    np.testing.assert_allclose(both[np.lexsort(both.T)], X[np.lexsort(X.T)], rtol=1e-15)
    # a separate test file: the training file's width, even when its own last columns are empty
    Xt = X[:50].copy()
    Xt[:, 5] = 0.0
    dump_svmlight_file(Xt, y[:50], str(tmp_path / "t.svm"), zero_based=zero_based)
    two = load_table(path, test=tmp_path / "t.svm")
    assert two.X_test.shape == (50, 6) and two.X_train.shape == (4000, 6)
    np.testing.assert_allclose(two.X_test, Xt)


def test_load_table_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from radonml.datasets import load_table

    n = 2000
    rng = np.random.default_rng(3)
    a = rng.standard_normal(n)
    table = pa.table({
        "a": pa.array([None if i % 13 == 0 else float(v) for i, v in enumerate(a)]),
        "n": pa.array(rng.integers(0, 9, size=n)),
        "city": pa.array(rng.choice(["Bonn", "Graz"], size=n)).dictionary_encode(),
        "y": pa.array(np.where(a > 0, "up", "down")),
    })
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=300)
    ds = load_table(tmp_path / "d.parquet", "y", test_size=0.2, chunk_rows=256)
    assert ds.feature_names == ["a", "n", "city"] and ds.categories == {2: ["Bonn", "Graz"]}
    assert ds.missing == {"a": len(range(0, n, 13))} and ds.classes.tolist() == ["down", "up"]
    both = np.r_[ds.X_train, ds.X_test]
    assert np.isnan(both[:, 0]).sum() == len(range(0, n, 13))
    np.testing.assert_allclose(np.sort(both[:, 1]), np.sort(table["n"].to_numpy().astype(float)))
    ok = ~np.isnan(ds.X_train[:, 0])
    np.testing.assert_array_equal(ds.X_train[ok, 0] > 0, ds.y_train[ok] == 1)


def test_load_table_refuses_bad_files_clearly(tmp_path):
    from radonml.datasets import load_table

    path = tmp_path / "d.csv"
    _write_csv(path, n=200)
    with pytest.raises(ValueError, match=r"has no column 'target'; its columns are \['row', 'a', 'color', 'k', 'label'\]"):
        load_table(path, "target")
    with pytest.raises(ValueError, match="needs the target column's name"):
        load_table(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,0\n3,4\n")
    with pytest.raises(ValueError, match="line 3: 2 fields, but the header has 3"):
        load_table(bad, "y")
    one = tmp_path / "one.csv"
    one.write_text("a,y\n1,x\n2,x\n")
    with pytest.raises(ValueError, match="one class only"):
        load_table(one, "y")
    gap = tmp_path / "gap.csv"
    gap.write_text("a,y\n1,0\n2,\n3,1\n")
    with pytest.raises(ValueError, match="target column 'y' has a missing value"):
        load_table(gap, "y")
    ids = tmp_path / "ids.csv"
    ids.write_text("id,y\n" + "".join(f"u{i},{i % 2}\n" for i in range(1500)))
    with pytest.raises(ValueError, match="column 'id' is categorical.*more than 1000 distinct values"):
        load_table(ids, "y")
    test = tmp_path / "t.csv"
    test.write_text("row,a,color,k,label\n0,0.5,red,1,maybe\n")
    with pytest.raises(ValueError, match="label 'maybe'.*does not occur in the training data"):
        load_table(path, "label", test=test)
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_table(tmp_path / "d.xlsx", "y")
    with pytest.raises(ValueError, match="does not exist"):
        load_table(tmp_path / "nope.csv", "y")
