"""Offline data sets, generated locally or bundled with installed packages, and your own files.

Nothing here downloads anything. ``load_mnist1d`` runs the ``mnist1d`` package's generator
(Greydanus, 2020) with downloading disabled; ``load_digits`` and ``load_breast_cancer`` use
scikit-learn's bundled copies; ``make_synthetic``/``iter_synthetic``/``load_synthetic``
generate a SUSY- or HIGGS-shaped binary classification set of any size, in chunks;
``make_spheres``/``load_spheres`` a set no linear model can fit (a ball inside a shell), for
kernel methods. ``load_table`` reads a CSV, Parquet, ``.npz`` or LIBSVM/svmlight file in
chunks, into memory or into a memory map when it is larger than memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._validation import check_fraction, check_int

__all__ = [
    "Dataset",
    "load_mnist1d",
    "load_digits",
    "load_breast_cancer",
    "make_synthetic",
    "iter_synthetic",
    "load_synthetic",
    "make_spheres",
    "load_spheres",
    "load_table",
    "MISSING_VALUES",
]


@dataclass
class Dataset:
    """A train/test split.

    Attributes
    ----------
    X_train : (n_train, n_features) ndarray of float64 (float32 for image-like sets)
    y_train : (n_train,) ndarray of int64
    X_test : (n_test, n_features) ndarray
    y_test : (n_test,) ndarray of int64
    name : str
    feature_names : list of str, optional
        Column names (:func:`load_table`).
    categories : dict, optional
        ``{column index: category labels}`` of categorical columns, whose values in ``X_*``
        are codes into these labels (:func:`load_table`).
    classes : ndarray, optional
        The original labels of the codes ``0 .. k-1`` in ``y_*`` (:func:`load_table`).
    missing : dict, optional
        ``{column name: number of missing values}`` of numeric columns, NaN in ``X_*``.

    Examples
    --------
    >>> from radonml.datasets import load_synthetic
    >>> ds = load_synthetic(100, test_size=0.2, seed=0)
    >>> ds.n_features, ds.n_classes, ds.X_test.shape
    (18, 2, (20, 18))
    >>> X_train, y_train, X_test, y_test = ds       # unpacks like train_test_split
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = ""
    feature_names: Optional[list] = None
    categories: Optional[dict] = None
    classes: Optional[np.ndarray] = None
    missing: Optional[dict] = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def __iter__(self):  # X_train, y_train, X_test, y_test = ds
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))


def load_mnist1d(n_samples: int = 5000, *, test_size: float = 0.2, seed: int = 42) -> Dataset:
    """MNIST-1D (Greydanus, "Scaling down deep learning", 2020), generated locally.

    40-dimensional sequences of 10 classes, built from digit templates by padding,
    translation, scaling, shear and correlated noise. With the package's defaults
    (``n_samples=5000``, ``seed=42``) this reproduces the published data set without
    downloading it. The global ``random``/``numpy.random`` state, which the generator seeds,
    is restored afterwards.

    Parameters
    ----------
    n_samples : int, default 5000
        Total number of examples (rounded down to a multiple of 10).
    test_size : float, default 0.2
        Fraction held out for testing.
    seed : int, default 42
        Seed of the generator (42 gives the published set).

    Returns
    -------
    Dataset
        ``X_*`` float32 of shape (n, 40), ``y_*`` int64 in 0..9.

    Raises
    ------
    ValueError
        If ``n_samples`` < 20, ``test_size`` is not in [0, 1] or ``seed`` < 0.
    ModuleNotFoundError
        If the ``mnist1d`` package (a dependency of radonml) is not installed.

    References
    ----------
    .. [1] S. Greydanus, D. Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024
       (arXiv:2011.14439, 2020).

    Examples
    --------
    >>> from radonml.datasets import load_mnist1d
    >>> ds = load_mnist1d(200, test_size=0.2)
    >>> ds.X_train.shape, ds.X_train.dtype, ds.n_classes
    ((160, 40), dtype('float32'), 10)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=20)
    test_size = check_fraction(test_size, "test_size", low=0.0, high=1.0)
    seed = check_int(seed, "seed", minimum=0)
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n_samples
    args.train_split = 1.0 - test_size
    args.seed = seed
    args.url = None  # never download
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return Dataset(
        X_train=np.ascontiguousarray(data["x"], dtype=np.float32),
        y_train=np.asarray(data["y"], dtype=np.int64),
        X_test=np.ascontiguousarray(data["x_test"], dtype=np.float32),
        y_test=np.asarray(data["y_test"], dtype=np.int64),
        name="mnist1d",
    )


def _split(X, y, test_size, seed, name, stratify=True) -> Dataset:
    from sklearn.model_selection import train_test_split

    test_size = check_fraction(test_size, "test_size", low=0.0, high=1.0)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
    )
    return Dataset(np.ascontiguousarray(Xtr), ytr.astype(np.int64), np.ascontiguousarray(Xte), yte.astype(np.int64), name)


def load_digits(*, test_size: float = 0.25, seed: int = 0, scale: bool = True) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 examples, 64 features, 10 classes).

    With ``scale=True`` pixel values are divided by 16 (to [0, 1]). The split is stratified
    by class.

    Parameters
    ----------
    test_size : float in [0, 1], default 0.25
        Fraction of the examples held out for testing.
    seed : int, default 0
        ``random_state`` of scikit-learn's ``train_test_split``.
    scale : bool, default True
        Divide the pixel values (0..16) by 16.

    Returns
    -------
    Dataset
        ``X_*`` float32 of shape (n, 64), ``y_*`` int64 in 0..9; name ``"digits"``.

    Examples
    --------
    >>> from radonml.datasets import load_digits
    >>> ds = load_digits()
    >>> ds.X_train.shape, ds.X_test.shape, float(ds.X_train.max())
    ((1347, 64), (450, 64), 1.0)
    """
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    X = d.data.astype(np.float32) / (16.0 if scale else 1.0)
    return _split(X, d.target, test_size, seed, "digits")


def load_breast_cancer(*, test_size: float = 0.25, seed: int = 0, standardize: bool = True) -> Dataset:
    """scikit-learn's bundled Wisconsin breast cancer set (569 examples, 30 features, 2 classes).

    With ``standardize=True`` features are standardized with the training split's mean and
    standard deviation. The split is stratified by class.

    Parameters
    ----------
    test_size : float in [0, 1], default 0.25
        Fraction of the examples held out for testing.
    seed : int, default 0
        ``random_state`` of scikit-learn's ``train_test_split``.
    standardize : bool, default True
        Standardize every feature with the training split's statistics (both splits).

    Returns
    -------
    Dataset
        ``X_*`` float64 of shape (n, 30), ``y_*`` int64 in {0, 1}; name ``"breast_cancer"``.

    Examples
    --------
    >>> import numpy as np
    >>> from radonml.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> ds.X_train.shape, ds.X_test.shape
    ((426, 30), (143, 30))
    >>> bool(np.allclose(ds.X_train.mean(axis=0), 0.0))
    True
    """
    from sklearn.datasets import load_breast_cancer as _lbc

    d = _lbc()
    ds = _split(d.data.astype(np.float64), d.target, test_size, seed, "breast_cancer")
    if standardize:
        mu, sd = ds.X_train.mean(axis=0), ds.X_train.std(axis=0)
        sd[sd == 0] = 1.0
        ds.X_train = (ds.X_train - mu) / sd
        ds.X_test = (ds.X_test - mu) / sd
    return ds


# ------------------------------------------------------------------ synthetic

#: Rows per generation block. Every block has its own random stream, derived from
#: ``(seed, block index)``, so any range of rows can be generated on its own and the
#: result does not depend on how the rows are chunked.
_BLOCK = 1 << 16

# Mean shift of the positive class in the latent space, per latent coordinate (the first
# ``_N_INFORMATIVE_FRACTION`` of the coordinates carry signal, with decaying strength). The
# scale is chosen so that a linear model reaches a ROC AUC of about 0.86 without label noise,
# close to what linear models reach on SUSY (Baldi, Sadowski, Whiteson, 2014).
_SHIFT = 1.6
_N_INFORMATIVE_FRACTION = 0.5


def _synthetic_model(n_features: int):
    """Fixed generative model for ``n_features`` (it depends on nothing else, so different
    seeds give independent samples from one distribution)."""
    g = np.random.default_rng(np.random.SeedSequence([0x5A5A, n_features]))
    k = max(1, int(round(_N_INFORMATIVE_FRACTION * n_features)))
    strength = np.zeros(n_features)
    strength[:k] = 1.0 / np.sqrt(np.arange(1, k + 1))
    direction = strength / np.linalg.norm(strength)
    mu = _SHIFT * direction
    # a third of the features are positive and skewed ("momentum-like": softplus of a latent
    # Gaussian), the rest Gaussian; then a random well-conditioned mixing correlates them
    skewed = np.zeros(n_features, dtype=bool)
    skewed[g.permutation(n_features)[: n_features // 3]] = True
    q, _ = np.linalg.qr(g.standard_normal((n_features, n_features)))
    mixing = np.eye(n_features) + 0.35 * q
    # class-dependent spread on a few coordinates: information a linear model cannot use
    spread = np.ones(n_features)
    spread[g.permutation(n_features)[: max(1, n_features // 6)]] = 1.6
    return mu, skewed, mixing, spread


def _synthetic_block(seed: int, block: int, n_features: int, label_noise: float, positive_fraction: float, model):
    mu, skewed, mixing, spread = model
    g = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(block,)))
    y = g.random(_BLOCK) < positive_fraction
    z = g.standard_normal((_BLOCK, n_features))
    flip = g.random(_BLOCK) < label_noise  # always drawn: the same seed gives the same X and clean y
    z[y] *= spread
    z[y] += mu
    z[:, skewed] = np.logaddexp(0.0, 1.5 * z[:, skewed])  # softplus
    X = z @ mixing  # always on a whole block: BLAS rounding may depend on the number of rows
    y = (y ^ flip).astype(np.int64)
    return X, y


def _check_synthetic_args(n_features, label_noise, positive_fraction, seed):
    n_features = check_int(n_features, "n_features", minimum=2)
    label_noise = check_fraction(label_noise, "label_noise", low=0.0, high=0.5)
    positive_fraction = check_fraction(positive_fraction, "positive_fraction", low=0.0, high=1.0)
    if positive_fraction == 0.0:
        raise ValueError("positive_fraction must lie in (0, 1), got 0.0")
    seed = check_int(seed, "seed", minimum=0)
    return n_features, label_noise, positive_fraction, seed


def make_synthetic(
    n_samples: int,
    *,
    n_features: int = 18,
    label_noise: float = 0.0,
    positive_fraction: float = 0.5,
    seed: int = 0,
    start: int = 0,
    dtype=np.float64,
):
    r"""Rows ``start`` to ``start + n_samples - 1`` of a seeded synthetic binary classification set.

    Shaped like the SUSY (18 features, the default) and HIGGS (``n_features=28``) physics
    benchmarks (Baldi, Sadowski, Whiteson, "Searching for exotic particles in high-energy
    physics with deep learning", Nature Communications 2014): a label
    :math:`y \sim \mathrm{Bernoulli}(\pi)`, a latent :math:`z \sim N(y\,\mu, \Sigma_y)` whose
    mean shift :math:`\mu` is spread over half of the coordinates and whose spread is
    larger for the positive class on a few of them, a softplus
    :math:`\log(1 + e^{1.5 z_j})` on a third of the coordinates (positive, skewed
    "momentum-like" features), and a fixed random mixing :math:`x = z (I + 0.35 Q)` that
    correlates the features. A linear model reaches a ROC AUC of about 0.86 without label
    noise; each label is then flipped independently with probability ``label_noise``, which
    lowers the attainable AUC to about :math:`0.5 + (1 - 2\eta)(\mathrm{AUC}_0 - 0.5)`.

    The data is generated in blocks of 65,536 rows, each from its own random stream derived
    from ``(seed, block index)``: any range of rows can be generated on its own (at the
    cost of the whole blocks it touches), and the rows do not depend on how they are
    chunked. The same seed with a different ``label_noise`` gives the same ``X`` and flips
    labels of the same clean ``y``.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int, default 18
        18 (SUSY-like) or 28 (HIGGS-like); any value >= 2 works.
    label_noise : float in [0, 0.5), default 0.0
        Probability of flipping each label.
    positive_fraction : float in (0, 1), default 0.5
        Probability of the positive class before label noise.
    seed : int, default 0
        Seed of the random streams.
    start : int, default 0
        Index of the first row.
    dtype : numpy dtype, default float64
        Of ``X``.

    Returns
    -------
    X : (n_samples, n_features) ndarray of ``dtype``
    y : (n_samples,) ndarray of int64 in {0, 1}

    Raises
    ------
    ValueError
        If ``n_samples`` < 1, ``start`` < 0, ``n_features`` < 2, ``label_noise`` is not in
        [0, 0.5), ``positive_fraction`` not in (0, 1) or ``seed`` < 0.

    References
    ----------
    .. [1] P. Baldi, P. Sadowski, D. Whiteson, "Searching for exotic particles in high-energy
       physics with deep learning", Nature Communications 5, 4308, 2014.

    Examples
    --------
    >>> X, y = make_synthetic(1000, seed=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((1000, 18), [0, 1])
    >>> bool((make_synthetic(10, seed=1, start=990)[0] == X[990:]).all())
    True
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    start = check_int(start, "start", minimum=0)
    n_features, label_noise, positive_fraction, seed = _check_synthetic_args(
        n_features, label_noise, positive_fraction, seed
    )
    return _synthetic_rows(start, start + n_samples, n_features, label_noise, positive_fraction, seed, dtype)


def _synthetic_rows(start, stop, n_features, label_noise, positive_fraction, seed, dtype, cache=None):
    """Rows ``start .. stop - 1``, from whole blocks. With a ``cache`` dict (consecutive
    chunks of one stream), the last block generated is kept for the next chunk, so every
    block is generated once however small the chunks are."""
    if cache is None:
        model = _synthetic_model(n_features)
    else:
        if "model" not in cache:
            cache["model"] = _synthetic_model(n_features)
        model = cache["model"]
    return _block_rows(
        start, stop, n_features, dtype, cache,
        lambda b: _synthetic_block(seed, b, n_features, label_noise, positive_fraction, model),
    )


def _block_rows(start, stop, n_features, dtype, cache, make_block):
    """Rows ``start .. stop - 1`` cut from the whole blocks ``make_block(b) -> (X, y)``."""
    X = np.empty((stop - start, n_features), dtype=dtype)
    y = np.empty(stop - start, dtype=np.int64)
    for b in range(start // _BLOCK, (stop - 1) // _BLOCK + 1):
        b0 = b * _BLOCK
        lo, hi = max(start, b0), min(stop, b0 + _BLOCK)
        if cache is not None and cache.get("block") == b:
            Xb, yb = cache["rows"]
        else:
            Xb, yb = make_block(b)
            if cache is not None:
                cache["block"], cache["rows"] = b, (Xb, yb)
        X[lo - start : hi - start] = Xb[lo - b0 : hi - b0]
        y[lo - start : hi - start] = yb[lo - b0 : hi - b0]
    return X, y


def iter_synthetic(
    n_samples: int,
    *,
    chunk_size: int = 4 * _BLOCK,
    n_features: int = 18,
    label_noise: float = 0.0,
    positive_fraction: float = 0.5,
    seed: int = 0,
    dtype=np.float64,
):
    """Yield ``make_synthetic``'s rows in chunks of ``chunk_size`` rows (the last may be shorter).

    Concatenating the chunks gives exactly ``make_synthetic(n_samples, ...)``, for any
    ``chunk_size``; every 65,536-row generation block is generated once, however small the
    chunks. Memory use is one chunk plus one block.

    Parameters
    ----------
    n_samples : int
        Number of rows in all.
    chunk_size : int, default 262144
        Rows per chunk.
    n_features, label_noise, positive_fraction, seed, dtype
        As in :func:`make_synthetic`.

    Yields
    ------
    X : (m, n_features) ndarray
    y : (m,) ndarray of int64

    Examples
    --------
    >>> [X.shape[0] for X, y in iter_synthetic(10, chunk_size=4)]
    [4, 4, 2]
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    n_features, label_noise, positive_fraction, seed = _check_synthetic_args(
        n_features, label_noise, positive_fraction, seed
    )
    cache: dict = {}
    for s in range(0, n_samples, chunk_size):
        yield _synthetic_rows(
            s, min(s + chunk_size, n_samples), n_features, label_noise, positive_fraction, seed, dtype, cache
        )



def _generated_split(n_samples, test_size):
    """(n_samples, n_test) of a generated set, checked: both parts keep at least one row."""
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    test_size = check_fraction(test_size, "test_size", low=0.0, high=1.0)
    n_test = int(round(test_size * n_samples))
    if n_test < 1 or n_test >= n_samples:
        raise ValueError(
            f"test_size={test_size} leaves {n_test} test and {n_samples - n_test} training rows "
            f"of n_samples={n_samples}; both must be at least 1"
        )
    return n_samples, n_test


def _last_rows_as_test(X, y, n_test: int, name: str) -> Dataset:
    """The generated rows split in order: the last ``n_test`` are the test set."""
    n_train = len(y) - n_test
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], name)


def load_synthetic(
    n_samples: int = 1_000_000,
    *,
    test_size: float = 0.2,
    n_features: int = 18,
    label_noise: float = 0.0,
    positive_fraction: float = 0.5,
    seed: int = 0,
) -> Dataset:
    """:func:`make_synthetic` as a train/test :class:`Dataset`.

    ``n_samples`` rows in all; the first ``n_samples - round(test_size * n_samples)`` are
    the training set, the rest the test set (rows are i.i.d., so no shuffling is needed).

    Parameters
    ----------
    n_samples : int, default 1000000
        Rows in all (training and test).
    test_size : float in [0, 1], default 0.2
        Fraction of the rows in the test set.
    n_features, label_noise, positive_fraction, seed
        As in :func:`make_synthetic`.

    Returns
    -------
    Dataset
        ``X_*`` float64 of shape (n, n_features), ``y_*`` int64 in {0, 1}; name
        ``"synthetic<n_features>"``.

    Raises
    ------
    ValueError
        If ``test_size`` leaves no test or no training row, or an argument of
        :func:`make_synthetic` is out of its range.

    Examples
    --------
    >>> ds = load_synthetic(1000, test_size=0.25, seed=3)
    >>> ds.X_train.shape, ds.X_test.shape, ds.name
    ((750, 18), (250, 18), 'synthetic18')
    """
    n_samples, n_test = _generated_split(n_samples, test_size)
    X, y = make_synthetic(
        n_samples,
        n_features=n_features,
        label_noise=label_noise,
        positive_fraction=positive_fraction,
        seed=seed,
    )
    return _last_rows_as_test(X, y, n_test, f"synthetic{X.shape[1]}")


# ------------------------------------------------------------------ a set no linear model can fit


def _spheres_block(seed: int, block: int, n_features: int, label_noise: float):
    from scipy.stats import chi2

    g = np.random.default_rng(np.random.SeedSequence(entropy=[seed, 0x5B], spawn_key=(block,)))
    X = g.standard_normal((_BLOCK, n_features))
    flip = g.random(_BLOCK) < label_noise
    inside = np.einsum("ij,ij->i", X, X) < chi2.ppf(0.5, n_features)  # the median radius: balanced classes
    return X, (inside ^ flip).astype(np.int64)


def make_spheres(n_samples: int, *, n_features: int = 4, label_noise: float = 0.1, seed: int = 0, start: int = 0,
                 dtype=np.float64):
    r"""Rows of a seeded binary set that no linear model can fit: a ball inside a shell.

    :math:`x \sim N(0, I_p)` and :math:`y = 1` inside the ball
    :math:`\lVert x \rVert^2 < \chi^2_p(0.5)` (the median radius, so the classes are
    balanced), the shell around it is :math:`y = 0`; each label is then flipped with
    probability ``label_noise``. Every hyperplane cuts the ball and the shell alike, so a
    linear model stays near a ROC AUC of 0.5, while an RBF kernel reaches close to the Bayes
    AUC :math:`0.5 + (1 - 2\eta)/2` (0.9 at :math:`\eta = 0.1`). scikit-learn's
    ``make_circles`` in :math:`p` dimensions, at any size: generated in blocks of 65,536 rows
    from ``(seed, block index)`` like :func:`make_synthetic`, so any range of rows can be
    generated on its own. The label noise keeps an exact kernel SVM's support vectors a fixed
    fraction of the rows, so its fit is super-linear in ``n_samples`` (the regime of the
    Radon machine's speed-ups).

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int, default 4
        Dimension :math:`p`.
    label_noise : float in [0, 0.5), default 0.1
        Probability :math:`\eta` of flipping each label.
    seed : int, default 0
        Seed of the random streams.
    start : int, default 0
        Index of the first row.
    dtype : numpy dtype, default float64
        Of ``X``.

    Returns
    -------
    X : (n_samples, n_features) ndarray of ``dtype``
    y : (n_samples,) ndarray of int64 in {0, 1}

    Raises
    ------
    ValueError
        If ``n_samples`` < 1, ``start`` < 0, ``n_features`` < 1, ``label_noise`` is not in
        [0, 0.5] or ``seed`` < 0.

    Examples
    --------
    >>> X, y = make_spheres(2000, seed=1, label_noise=0.0)
    >>> from scipy.stats import chi2
    >>> bool(((np.sum(X**2, axis=1) < chi2.ppf(0.5, 4)) == y).all()), round(float(y.mean()), 1)
    (True, 0.5)
    >>> bool((make_spheres(5, seed=1, label_noise=0.0, start=1995)[0] == X[1995:]).all())
    True
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    start = check_int(start, "start", minimum=0)
    n_features = check_int(n_features, "n_features", minimum=1)
    label_noise = check_fraction(label_noise, "label_noise", low=0.0, high=0.5)
    seed = check_int(seed, "seed", minimum=0)
    return _block_rows(start, start + n_samples, n_features, dtype, None,
                       lambda b: _spheres_block(seed, b, n_features, label_noise))


def load_spheres(n_samples: int = 50_000, *, test_size: float = 0.2, n_features: int = 4, label_noise: float = 0.1,
                 seed: int = 0) -> Dataset:
    """:func:`make_spheres` as a train/test :class:`Dataset` (the last ``round(test_size *
    n_samples)`` rows are the test set).

    Parameters
    ----------
    n_samples : int, default 50000
        Rows in all (training and test).
    test_size : float in [0, 1], default 0.2
        Fraction of the rows in the test set.
    n_features, label_noise, seed
        As in :func:`make_spheres`.

    Returns
    -------
    Dataset
        ``X_*`` float64 of shape (n, n_features), ``y_*`` int64 in {0, 1}; name
        ``"spheres<n_features>"``.

    Raises
    ------
    ValueError
        If ``test_size`` leaves no test or no training row, or an argument of
        :func:`make_spheres` is out of its range.

    Examples
    --------
    >>> ds = load_spheres(1000, test_size=0.25, seed=3)
    >>> ds.X_train.shape, ds.X_test.shape, ds.name
    ((750, 4), (250, 4), 'spheres4')
    """
    n_samples, n_test = _generated_split(n_samples, test_size)
    X, y = make_spheres(n_samples, n_features=n_features, label_noise=label_noise, seed=seed)
    return _last_rows_as_test(X, y, n_test, f"spheres{X.shape[1]}")


# ------------------------------------------------------------------ your own files

#: Cells read as a missing value (compared after stripping blanks, case-insensitively).
MISSING_VALUES = ("", "na", "n/a", "nan", "null", "none", "?")
_MISSING_CATEGORY = "(missing)"
_MAX_CATEGORIES = 1000
_MAX_FEATURES = 100_000
_FORMATS = ("csv", "parquet", "npz", "svmlight")


def _format_of(path: str, fmt) -> str:
    if fmt is not None:
        if fmt not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}, got {fmt!r}")
        return fmt
    low = str(path).lower()
    for ext, name in ((".csv", "csv"), (".csv.gz", "csv"), (".tsv", "csv"), (".parquet", "parquet"),
                      (".pq", "parquet"), (".npz", "npz"), (".svm", "svmlight"), (".svmlight", "svmlight"),
                      (".libsvm", "svmlight")):
        if low.endswith(ext):
            return name
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension (.csv, .tsv, .parquet, .npz, .svm/.svmlight/.libsvm); "
        "give it explicitly"
    )


class _Schema:
    """What the first pass over a file found: the feature columns, their kinds, the
    categories of the categorical ones, the classes of the target and the row count."""

    def __init__(self, names, target):
        self.names = list(names)  # feature columns, in file order
        self.target = target
        self.kinds = ["num"] * len(self.names)  # "num" or "cat"
        self.categories = [None] * len(self.names)  # sorted category labels of "cat" columns
        self.missing = np.zeros(len(self.names), dtype=np.int64)
        self.labels = set()
        self.y_parts = []  # per chunk: (distinct labels, the rows' indices into them)
        self.n_rows = 0


def _as_text(col) -> np.ndarray:
    """A column of cells as stripped str (None becomes "")."""
    if col.dtype.kind == "O":
        col = np.array(["" if v is None else str(v) for v in col], dtype=str)
    return np.char.strip(col.astype(str))


def _missing_mask(text: np.ndarray) -> np.ndarray:
    return np.isin(np.char.lower(text), MISSING_VALUES)


def _parse_float(text: np.ndarray):
    """``text`` as float64, or None when a cell is not a number."""
    try:
        return text.astype(np.float64)
    except ValueError:
        return None


def _text_numbers(text: np.ndarray):
    """Stripped text cells (any shape) as float64 with NaN where missing, or None when a
    cell is neither a number nor a missing value. The common case (numbers and empty cells)
    takes one conversion; other missing spellings take a second."""
    vals = _parse_float(np.where(text == "", "nan", text))
    if vals is None:
        vals = _parse_float(np.where(_missing_mask(text), "nan", text))
    return vals


class _Chunk:
    """One chunk of rows: named columns, each numbers or text (``columns``), or, for a CSV
    chunk read by the csv module, one 2-D array of stripped cells (``block``, with
    ``columns`` None), so that all numeric columns convert in one step."""

    def __init__(self, columns):
        self.columns = columns

    def __len__(self):
        return self.block.shape[0] if self.columns is None else len(next(iter(self.columns.values())))

    def column(self, name):
        return self.block[:, self.index[name]] if self.columns is None else self.columns[name]

    def numbers(self, names):
        """(values (m, len(names)) float64 with NaN where missing, names of the columns that
        hold a cell that is not a number: their values are NaN)."""
        out = np.empty((len(self), len(names)), dtype=np.float64)
        if not names:
            return out, []
        if self.columns is None:
            vals = _text_numbers(self.block[:, [self.index[n] for n in names]])
            if vals is not None:
                return vals, []
        bad = []
        for j, name in enumerate(names):
            col = self.column(name)
            v = col.astype(np.float64) if col.dtype.kind in "biuf" else _text_numbers(_as_text(col))
            if v is None:
                bad.append(name)
                out[:, j] = np.nan
            else:
                out[:, j] = v
        return out, bad


def _scan_chunk(schema: _Schema, chunk: "_Chunk", where: str, late: set) -> None:
    """Pass 1 over one chunk."""
    y = chunk.column(schema.target)
    if y.dtype.kind in "biuf":
        y = y.astype(np.float64)
        miss = np.isnan(y)
    else:
        y = _as_text(y)
        miss = _missing_mask(y)
    if miss.any():
        raise ValueError(f"{where}: the target column {schema.target!r} has a missing value "
                         f"(row {schema.n_rows + int(np.argmax(miss))} of the data); remove those rows")
    uniq, inv = np.unique(y, return_inverse=True)
    schema.labels.update(uniq.tolist())
    schema.y_parts.append((uniq, inv.astype(np.int32)))  # the rows' labels, compactly, for the split
    num = [j for j, k in enumerate(schema.kinds) if k == "num"]
    vals, bad = chunk.numbers([schema.names[j] for j in num])
    schema.missing[num] += np.isnan(vals).sum(axis=0)
    for j in (schema.names.index(b) for b in bad):  # a cell that is not a number: categorical
        schema.kinds[j] = "cat"
        schema.categories[j] = set()
        schema.missing[j] = 0
        if schema.n_rows > 0:  # numbers in earlier chunks are categories too: read them again
            late.add(j)
    for j, name in enumerate(schema.names):
        if schema.kinds[j] != "cat":
            continue
        text = _as_text(chunk.column(name))
        miss = _missing_mask(text)
        cats = schema.categories[j]
        cats.update(np.unique(text[~miss]).tolist())
        if miss.any():
            cats.add(_MISSING_CATEGORY)
        if len(cats) > _MAX_CATEGORIES:
            raise ValueError(
                f"{where}: column {name!r} is categorical (non-numeric values such as {sorted(cats)[:3]}) with more "
                f"than {_MAX_CATEGORIES} distinct values; an identifier or free text cannot be one-hot encoded for a "
                "linear model: remove the column from the file"
            )
    schema.n_rows += len(y)


def _finish_schema(schema: _Schema) -> None:
    if schema.n_rows == 0:
        raise ValueError("the data file holds no rows")
    labels = list(schema.labels)
    floats = _parse_float(np.array([str(v) for v in labels]))
    if floats is not None:  # numeric labels: ordered as numbers, 1 and 1.0 the same class
        classes = np.unique(floats)
        schema.classes = classes.astype(np.int64) if np.all(classes == np.round(classes)) else classes
        schema.class_keys = classes
    else:
        schema.classes = np.array(sorted(str(v) for v in labels))
        schema.class_keys = schema.classes
    for j, cats in enumerate(schema.categories):
        if cats is not None:
            rest = sorted(c for c in cats if c != _MISSING_CATEGORY)
            schema.categories[j] = rest + ([_MISSING_CATEGORY] if _MISSING_CATEGORY in cats else [])
            schema.missing[j] = 0  # a missing category is a category


def _label_codes(schema: _Schema, y, where: str) -> np.ndarray:
    """Labels (numbers or text) as int64 codes into ``schema.classes``."""
    keys = schema.class_keys
    if keys.dtype.kind == "f":
        yv = y.astype(np.float64) if y.dtype.kind in "biuf" else _parse_float(_as_text(y))
        if yv is None:
            raise ValueError(f"{where}: the target column {schema.target!r} holds labels that are not numbers, "
                             "unlike the training data")
    else:
        yv = _as_text(y.astype(str) if y.dtype.kind in "biuf" else y)
    codes = np.minimum(np.searchsorted(keys, yv), len(keys) - 1)
    bad = keys[codes] != yv
    if bad.any():
        raise ValueError(f"{where}: label {yv[np.argmax(bad)].item()!r} of the target column {schema.target!r} does not occur "
                         f"in the training data (classes {schema.classes.tolist()[:10]})")
    return codes.astype(np.int64)


def _encode_chunk(schema: _Schema, chunk: "_Chunk", where: str):
    """Pass 2 over one chunk: (X float64 (m, p), y int64 codes into ``schema.classes``)."""
    codes = _label_codes(schema, chunk.column(schema.target), where)
    X = np.empty((len(codes), len(schema.names)), dtype=np.float64)
    num = [j for j, k in enumerate(schema.kinds) if k == "num"]
    vals, bad = chunk.numbers([schema.names[j] for j in num])
    if bad:
        raise ValueError(f"{where}: column {bad[0]!r} holds text, but it is numeric in the training data")
    X[:, num] = vals
    for j, name in enumerate(schema.names):
        if schema.kinds[j] != "cat":
            continue
        col = chunk.column(name)
        text = _as_text(col.astype(str) if col.dtype.kind in "biuf" else col)
        text = np.where(_missing_mask(text), _MISSING_CATEGORY, text)
        cats = np.asarray(schema.categories[j])  # sorted, but "(missing)" last
        order = np.argsort(cats)
        at = order[np.minimum(np.searchsorted(cats[order], text), len(cats) - 1)]
        # unknown categories (only in a separate test file) get the code len(cats): no one-hot column
        X[:, j] = np.where(cats[at] == text, at, len(cats))
    return X, codes


# ---------------------------------------------------------- readers: chunks of named columns


class _CsvChunk(_Chunk):
    """A chunk of CSV lines, parsed by numpy's C reader: all columns straight to float64 when
    every cell is a number (the usual case: one read that also checks the number of fields);
    otherwise numeric and text columns separately, after checking that every line has one
    field per column and no quotes; the csv module handles the rest (quotes, and a malformed
    line, which it names)."""

    def __init__(self, header, lines, delimiter, first_line, path):
        self.header, self.delimiter, self.first_line, self.path = header, delimiter, first_line, path
        self.index = {h: j for j, h in enumerate(header)}
        self.raw = lines
        self.lines = [line for line in lines if line.strip()]  # blank lines carry no row
        self.columns, self.block, self._all, self._text = None, None, None, {}

    def __len__(self):
        return len(self.lines)

    def _read(self, cols, dtype):
        return np.loadtxt(self.lines, delimiter=self.delimiter, dtype=dtype, usecols=cols, ndmin=2, comments=None,
                          quotechar='"')

    def _floats(self) -> bool:
        """Whether every cell is a number; on the first call, read them all or set up the rest."""
        if self._all is None:
            try:
                self._all = self._read(None, np.float64)
                if self._all.shape[1] != len(self.header):
                    raise ValueError("field count")
            except ValueError:
                self._all = False
                arr = np.array(self.lines, dtype=str)
                simple = (np.char.count(arr, self.delimiter) == len(self.header) - 1).all() and (
                    np.char.find(arr, '"') < 0).all()
                if not simple:
                    self.block = self._csv_block()
        return self._all is not False

    def _csv_block(self):
        import csv

        rows = []
        reader = csv.reader(self.raw, delimiter=self.delimiter)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(self.header):
                raise ValueError(f"{self.path}, line {self.first_line + reader.line_num - 1}: {len(row)} fields, but "
                                 f"the header has {len(self.header)}")
            rows.append(row)
        return np.char.strip(np.array(rows, dtype=str).reshape(len(rows), len(self.header)))

    def column(self, name):
        j = self.index[name]
        if self._floats():
            return self._all[:, j]
        if self.block is not None:
            return self.block[:, j]
        if name not in self._text:
            self._text[name] = np.char.strip(self._read([j], str)[:, 0])
        return self._text[name]

    def numbers(self, names):
        if not names:
            return np.empty((len(self), 0)), []
        if self._floats():
            return self._all[:, [self.index[n] for n in names]], []
        if self.block is not None:
            return super().numbers(names)
        try:  # the numeric columns hold numbers only
            return self._read([self.index[n] for n in names], np.float64), []
        except ValueError:  # missing cells or text somewhere: column by column, as text
            pass
        out = np.empty((len(self), len(names)), dtype=np.float64)
        bad = []
        for j, name in enumerate(names):
            v = _text_numbers(self.column(name))
            if v is None:
                bad.append(name)
                v = np.nan
            out[:, j] = v
        return out, bad


def _csv_chunks(path, chunk_rows):
    """(header, iterator of chunks) of a CSV (or, for .tsv, tab-separated) file, read as
    lines, ``chunk_rows`` at a time."""
    import csv
    import gzip
    import itertools

    opener = gzip.open if str(path).lower().endswith(".gz") else open
    delimiter = "\t" if str(path).lower().endswith((".tsv", ".tsv.gz")) else ","
    with opener(path, "rt", newline="") as fh:
        first = fh.readline()
    header = next(csv.reader([first], delimiter=delimiter), None)
    if not header:
        raise ValueError(f"{path} is empty; expected a header line with the column names")
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"{path}: the header names column(s) {dup} more than once")

    def chunks():
        with opener(path, "rt", newline="") as fh:
            fh.readline()
            line = 2
            while True:
                lines = list(itertools.islice(fh, chunk_rows))
                if not lines:
                    return
                yield _CsvChunk(header, lines, delimiter, line, path)
                line += len(lines)

    return header, chunks()


def _parquet_chunks(path, chunk_rows):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "reading Parquet files needs pyarrow; install it with pip install 'radonml[parquet]' (or pip install "
            "pyarrow)"
        ) from None
    pf = pq.ParquetFile(path)
    header = list(pf.schema_arrow.names)

    def column(arr):
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
            return arr.cast(pa.float64()).to_numpy(zero_copy_only=False)  # nulls become NaN
        return np.asarray(arr.cast(pa.string()).to_pylist(), dtype=object)

    def batches():
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield _Chunk({name: column(batch.column(j)) for j, name in enumerate(batch.schema.names)})

    return header, batches()


def _column_reader(fmt):
    return _csv_chunks if fmt == "csv" else _parquet_chunks


# ---------------------------------------------------------- readers: npz and svmlight (numeric)


def _npz_member(path, key):
    """(shape, dtype, fortran, opener) of the .npy member ``key`` of an .npz file, read
    without loading it: ``opener()`` gives a stream positioned at the array's data."""
    import zipfile

    zf = zipfile.ZipFile(path)
    names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    if key not in names:
        raise ValueError(f"{path} has no array {key!r}; it holds {names}")

    def opener():
        fh = zf.open(key + ".npy")
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(fh)
        else:
            np.lib.format.read_array_header_2_0(fh)
        return fh

    with zf.open(key + ".npy") as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    if dtype.hasobject:
        raise ValueError(f"{path}: array {key!r} holds Python objects; radonml reads .npz files with "
                         "allow_pickle=False (a data file never runs code): save numbers or fixed-width strings")
    return shape, dtype, fortran, opener, names


def _npz_rows(opener, shape, dtype, fortran, chunk_rows):
    """Chunks of rows of one .npy member, read from its stream."""
    if fortran and len(shape) == 2 and shape[1] > 1:
        with opener() as fh:  # column-major: rows are not contiguous, read it whole
            data = np.frombuffer(fh.read(), dtype=dtype).reshape(shape, order="F")
        for s in range(0, shape[0], chunk_rows):
            yield np.ascontiguousarray(data[s : s + chunk_rows])
        return
    width = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    row_bytes = width * dtype.itemsize
    with opener() as fh:
        for s in range(0, shape[0], chunk_rows):
            m = min(chunk_rows, shape[0] - s)
            buf = fh.read(m * row_bytes)
            if len(buf) != m * row_bytes:
                raise ValueError("the .npz member ends before its header's shape says it should")
            yield np.frombuffer(buf, dtype=dtype).reshape((m,) + tuple(shape[1:]))


def _npz_chunks(path, target, chunk_rows):
    """(schema, chunk iterator factory) of an .npz file with a 2-D feature array and labels."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    target = "y" if target is None else target
    if target not in names:
        raise ValueError(f"{path} has no array {target!r} for the target; it holds {names}; give --target KEY")
    others = [n for n in names if n != target]
    feat = "X" if "X" in others else (others[0] if len(others) == 1 else None)
    if feat is None:
        raise ValueError(f"{path} holds {names}: name the feature array 'X' (and the labels {target!r})")
    xs, xd, xf, xo, _ = _npz_member(path, feat)
    ys, yd, yf, yo, _ = _npz_member(path, target)
    if len(xs) != 2 or xd.kind not in "biuf":
        raise ValueError(f"{path}: the feature array {feat!r} must be a 2-D numeric array, got shape {xs} of {xd}")
    if len(ys) != 1 or ys[0] != xs[0]:
        raise ValueError(f"{path}: the target {target!r} must have shape ({xs[0]},), one label per row, got {ys}")
    names_out = [f"x{j}" for j in range(xs[1])]

    def chunks():
        for Xc, yc in zip(_npz_rows(xo, xs, xd, xf, chunk_rows), _npz_rows(yo, ys, yd, yf, chunk_rows)):
            cols = {n: Xc[:, j].astype(np.float64) for j, n in enumerate(names_out)}
            cols[target] = yc.astype(np.float64) if yd.kind in "biuf" else yc.astype(str)
            yield _Chunk(cols)

    return [*names_out, target], target, chunks


def _svmlight_chunks(path, chunk_rows, layout=None):
    """(header, target, chunk iterator factory) of a LIBSVM/svmlight file read in byte ranges
    (scikit-learn's ``load_svmlight_file(offset=, length=)`` reads whole lines only)."""
    import os

    from sklearn.datasets import load_svmlight_file

    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    lines = max(1, head.count(b"\n"))
    step = max(4096, int(len(head) / lines * chunk_rows))
    ranges = [(o, step) for o in range(0, size, step)]
    if layout is None:
        n_cols, min_col = 0, None
        for o, length in ranges:  # the width and whether indices start at 0 or 1
            # a byte range needs n_features: an upper bound (a CSR matrix is not allocated densely)
            Xc, _ = load_svmlight_file(path, n_features=2**31 - 1, zero_based=True, offset=o, length=length)
            if Xc.nnz:
                n_cols = max(n_cols, int(Xc.indices.max()) + 1)
                m = int(Xc.indices.min())
                min_col = m if min_col is None else min(min_col, m)
        zero_based = min_col == 0  # scikit-learn's "auto" rule, over the whole file
        p = n_cols if zero_based else max(n_cols - 1, 1)
    else:  # a test file: the training file's width and indexing
        p, zero_based = layout
    if p > _MAX_FEATURES:
        raise ValueError(f"{path} has {p} features; the Radon number would be {p + 3}: select features first "
                         f"(at most {_MAX_FEATURES} are read densely)")
    names = [f"x{j}" for j in range(p)]

    def chunks():
        for o, length in ranges:
            Xc, yc = load_svmlight_file(path, n_features=p, zero_based=zero_based, offset=o, length=length)
            if Xc.shape[0] == 0:
                continue
            dense = Xc.toarray()
            cols = {n: dense[:, j] for j, n in enumerate(names)}
            cols["label"] = yc
            yield _Chunk(cols)

    chunks.layout = (p, zero_based)
    return [*names, "label"], "label", chunks


# ---------------------------------------------------------- load_table


def _available_memory() -> int:
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _stratified_test_mask(y: np.ndarray, test_size: float, seed: int) -> np.ndarray:
    """round(test_size * n_c) test rows drawn from every class c (at least one when n_c >= 2)."""
    gen = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = int(round(test_size * len(rows)))
        k = min(max(k, 1 if len(rows) >= 2 else 0), len(rows) - 1)
        mask[gen.choice(rows, size=k, replace=False)] = True
    return mask


class _Sink:
    """Rows of one split, written chunk by chunk into an array or an .npy memory map."""

    def __init__(self, n, p, path=None):
        if path is None:
            self.X = np.empty((n, p), dtype=np.float64)
        else:
            self.X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, p))
        self.y = np.empty(n, dtype=np.int64)
        self.at = 0

    def write(self, X, y):
        m = len(y)
        self.X[self.at : self.at + m] = X
        self.y[self.at : self.at + m] = y
        self.at += m



def _table_source(fmt: str, p, target, chunk_rows: int, layout=None):
    """(feature names, target name, chunk iterator factory) of the file ``p`` in format ``fmt``."""
    if fmt in ("csv", "parquet"):
        if target is None:
            raise ValueError(f"a {fmt} file needs the target column's name (target=, --target)")
        header, _ = _column_reader(fmt)(p, chunk_rows)
        if target not in header:
            raise ValueError(f"{p} has no column {target!r}; its columns are {header}")
        return [h for h in header if h != target], target, lambda: _column_reader(fmt)(p, chunk_rows)[1]
    if fmt == "npz":
        names, t, chunks = _npz_chunks(p, target, chunk_rows)
        return names[:-1], t, chunks
    if target not in (None, "label"):
        raise ValueError("a LIBSVM/svmlight file has its label first on every line; do not give a target")
    names, t, chunks = _svmlight_chunks(p, chunk_rows, layout)
    return names[:-1], t, chunks


def _read_schema(names, tname, chunks, path) -> "_Schema":
    """First pass over the file: column kinds, categories, missing counts and the classes."""
    schema = _Schema(names, tname)
    late: set = set()
    for cols in chunks():
        _scan_chunk(schema, cols, f"{path} (rows from {schema.n_rows})", late)
    if late:  # columns that turned out categorical after their first chunk: collect the numbers before
        for cols in chunks():
            for j in late:
                text = _as_text(cols.column(names[j]))
                miss = _missing_mask(text)
                schema.categories[j].update(np.unique(text[~miss]).tolist())
                if miss.any():
                    schema.categories[j].add(_MISSING_CATEGORY)
    _finish_schema(schema)
    if len(schema.classes) < 2:
        raise ValueError(f"the target {tname!r} has one class only ({schema.classes.tolist()}); a classifier needs two")
    return schema


def _encode_into(schema, chunks, source: str, sink, test_sink=None, is_test=None) -> None:
    """Second pass: encode every chunk into ``sink`` (rows where ``is_test`` into ``test_sink``)."""
    at = 0
    for cols in chunks():
        X, y = _encode_chunk(schema, cols, source)
        if is_test is None:
            sink.write(X, y)
        else:
            mask = is_test[at : at + len(y)]
            sink.write(X[~mask], y[~mask])
            test_sink.write(X[mask], y[mask])
        at += len(y)
    for s in (sink, test_sink):
        if s is not None and isinstance(s.X, np.memmap):
            s.X.flush()


def load_table(path, target=None, *, test=None, test_size: float = 0.2, seed: int = 0, format=None,
               chunk_rows: int = 65536, memmap=None, memmap_dir=None, max_memory=None) -> Dataset:
    r"""Read a classification data set from a CSV, Parquet, ``.npz`` or LIBSVM/svmlight file.

    The file is read twice, in chunks of ``chunk_rows`` rows, never whole: once to learn the
    columns (numeric or categorical, the categories, the classes, the row count), once to
    write the rows as float64 into the training and test arrays. When those arrays would take
    more than ``max_memory`` bytes (default: half the memory available now), they are
    ``.npy`` memory maps in ``memmap_dir`` instead, so files larger than memory work:
    :class:`radonml.sklearn.RadonMachineClassifier` reads each part's rows from the map.

    Formats (from the extension, or ``format``):

    - **CSV** (``.csv``, ``.tsv``, optionally ``.gz``): a header line with the column names;
      ``target`` names the label column.
    - **Parquet** (``.parquet``; needs pyarrow: ``pip install 'radonml[parquet]'``):
      ``target`` names the label column.
    - **.npz** (read with ``allow_pickle=False``: a data file never runs code): a 2-D numeric
      array ``X`` (or the one other array) and the labels under ``target`` (default ``"y"``).
      Uncompressed and compressed archives are both streamed.
    - **LIBSVM/svmlight** (``.svm``, ``.svmlight``, ``.libsvm``; the format of the Radon
      machine paper's data sets): the label starts every line; ``target`` is not used. Read
      in byte ranges with scikit-learn's ``load_svmlight_file``, densified chunk by chunk;
      indices are zero-based when a 0 occurs anywhere in the file, one-based otherwise.

    **Categorical columns**: a column with a cell that is not a number (CSV) or of a string or
    dictionary type (Parquet) is categorical. Its values are stored as integer codes
    ``0 .. k-1`` into ``categories[j]`` (sorted; a missing cell is the category
    ``"(missing)"``); a category that only a separate ``test`` file has gets the code ``k``.
    One-hot encode the codes in the model's feature map (``radonml compare`` does). At most
    1,000 categories per column: an identifier column is refused with its name.
    **Missing values** in numeric columns (an empty cell, ``NA``, ``NaN``, ``null``,
    ``None``, ``?``; Parquet nulls) become NaN and are counted in ``missing``; the model must
    impute them (e.g. ``SimpleImputer`` as the pipeline's first step). A missing label is
    refused.

    Parameters
    ----------
    path : str or path-like
    target : str, optional
        The label column (CSV, Parquet) or array (``.npz``, default ``"y"``).
    test : str or path-like, optional
        A separate test file of the same format and columns; otherwise a stratified random
        ``test_size`` fraction of ``path``'s rows is held out.
    test_size : float in (0, 1), default 0.2
    seed : int, default 0
        Seed of the test split.
    format : {"csv", "parquet", "npz", "svmlight"}, optional
    chunk_rows : int, default 65536
    memmap : bool, optional
        Force (True) or forbid (False) memory maps; default: when the arrays exceed
        ``max_memory``.
    memmap_dir : str or path-like, optional
        Where the memory maps go (``X_train.npy``, ``X_test.npy``); default a new temporary
        directory, left to the caller to remove.
    max_memory : int, optional
        Bytes; see above.

    Returns
    -------
    Dataset
        ``X_*`` float64 (``np.memmap`` when mapped), ``y_*`` int64 codes into ``classes``;
        ``feature_names``, ``categories`` ({column index: labels}), ``classes`` (the original
        labels) and ``missing`` ({column name: count}) describe the columns.

    Raises
    ------
    ValueError
        An unknown format, a missing or unknown target, rows of the wrong length, a missing
        label, a label or (numeric) column in the test file that the training file lacks, too
        many categories, fewer than two classes.
    ImportError
        Parquet without pyarrow.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> path = os.path.join(d, "toy.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("size,color,label\n" + "".join(
    ...         f"{i % 7},{'red' if i % 3 else 'blue'},{'yes' if i % 2 else 'no'}\n" for i in range(40)))
    >>> ds = load_table(path, "label", test_size=0.25)
    >>> ds.X_train.shape, ds.feature_names, ds.categories, ds.classes.tolist()
    ((30, 2), ['size', 'color'], {1: ['blue', 'red']}, ['no', 'yes'])
    """
    import os
    import tempfile

    chunk_rows = check_int(chunk_rows, "chunk_rows", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if test is None:
        test_size = check_fraction(test_size, "test_size", low=0.0, high=1.0)
        if test_size == 0.0:
            raise ValueError("test_size must lie in (0, 1), got 0.0")
    fmt = _format_of(path, format)
    if not os.path.exists(path):
        raise ValueError(f"data file {str(path)!r} does not exist")

    names, tname, chunks = _table_source(fmt, path, target, chunk_rows)
    schema = _read_schema(names, tname, chunks, path)

    # the rows' class codes, for the stratified split (n int64s: small next to the features)
    p = len(names)
    test_schema_rows = None
    if test is None:
        y_all = np.concatenate([_label_codes(schema, u, str(path))[inv] for u, inv in schema.y_parts])
        is_test = _stratified_test_mask(y_all, test_size, seed)
        n_test = int(is_test.sum())
        n_train = schema.n_rows - n_test
    else:
        if _format_of(test, format) != fmt:
            raise ValueError(f"the test file {str(test)!r} must have the training file's format ({fmt})")
        tnames, ttarget, tchunks = _table_source(fmt, test, target, chunk_rows, getattr(chunks, "layout", None))
        if tnames != names:
            raise ValueError(f"the test file {str(test)!r} has the feature columns {tnames[:10]}, the training file "
                             f"{names[:10]}")
        test_schema_rows = sum(len(c) for c in tchunks())
        n_train, n_test = schema.n_rows, test_schema_rows
    need = 8 * p * (n_train + n_test)
    if memmap is None:
        memmap = need > (_available_memory() // 2 if max_memory is None else int(max_memory))
    if memmap:
        memmap_dir = tempfile.mkdtemp(prefix="radonml-data-") if memmap_dir is None else str(memmap_dir)
        os.makedirs(memmap_dir, exist_ok=True)
    train = _Sink(n_train, p, os.path.join(memmap_dir, "X_train.npy") if memmap else None)
    tst = _Sink(n_test, p, os.path.join(memmap_dir, "X_test.npy") if memmap else None)
    if test is None:
        _encode_into(schema, chunks, str(path), train, tst, is_test)
    else:
        _encode_into(schema, chunks, str(path), train)
        _encode_into(schema, tchunks, str(test), tst)
    categories = {j: list(c) for j, c in enumerate(schema.categories) if c is not None}
    missing = {names[j]: int(m) for j, m in enumerate(schema.missing) if m}
    name = os.path.basename(str(path)).split(".")[0]
    return Dataset(train.X, train.y, tst.X, tst.y, name, feature_names=names, categories=categories,
                   classes=schema.classes, missing=missing)
