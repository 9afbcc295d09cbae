"""Offline data sets: generated locally or bundled with installed packages.

Nothing here downloads anything. ``load_mnist1d`` runs the ``mnist1d`` package's generator
(Greydanus, 2020) with downloading disabled; ``load_digits`` and ``load_breast_cancer`` use
scikit-learn's bundled copies; ``make_synthetic``/``iter_synthetic``/``load_synthetic``
generate a SUSY- or HIGGS-shaped binary classification set of any size, in chunks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

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
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = ""

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

    Returns
    -------
    Dataset
        ``X_*`` float32 of shape (n, 40), ``y_*`` int64 in 0..9.
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

    With ``scale=True`` pixel values are divided by 16 (to [0, 1]).
    """
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    X = d.data.astype(np.float32) / (16.0 if scale else 1.0)
    return _split(X, d.target, test_size, seed, "digits")


def load_breast_cancer(*, test_size: float = 0.25, seed: int = 0, standardize: bool = True) -> Dataset:
    """scikit-learn's bundled Wisconsin breast cancer set (569 examples, 30 features, 2 classes).

    With ``standardize=True`` features are standardized with the training split's mean and
    standard deviation.
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
    r"""Rows ``start .. start + n_samples - 1`` of a seeded synthetic binary classification set.

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
    start : int, default 0
        Index of the first row.
    dtype : numpy dtype, default float64
        Of ``X``.

    Returns
    -------
    X : (n_samples, n_features) ndarray
    y : (n_samples,) ndarray of int64 in {0, 1}

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
    X = np.empty((stop - start, n_features), dtype=dtype)
    y = np.empty(stop - start, dtype=np.int64)
    for b in range(start // _BLOCK, (stop - 1) // _BLOCK + 1):
        b0 = b * _BLOCK
        lo, hi = max(start, b0), min(stop, b0 + _BLOCK)
        if cache is not None and cache.get("block") == b:
            Xb, yb = cache["rows"]
        else:
            Xb, yb = _synthetic_block(seed, b, n_features, label_noise, positive_fraction, model)
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

    Examples
    --------
    >>> ds = load_synthetic(1000, test_size=0.25, seed=3)
    >>> ds.X_train.shape, ds.X_test.shape, ds.name
    ((750, 18), (250, 18), 'synthetic18')
    """
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    test_size = check_fraction(test_size, "test_size", low=0.0, high=1.0)
    n_test = int(round(test_size * n_samples))
    if n_test < 1 or n_test >= n_samples:
        raise ValueError(
            f"test_size={test_size} leaves {n_test} test and {n_samples - n_test} training rows "
            f"of n_samples={n_samples}; both must be at least 1"
        )
    X, y = make_synthetic(
        n_samples,
        n_features=n_features,
        label_noise=label_noise,
        positive_fraction=positive_fraction,
        seed=seed,
    )
    n_train = n_samples - n_test
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], f"synthetic{X.shape[1]}")
