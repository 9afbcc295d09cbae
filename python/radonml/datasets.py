"""Offline data sets: generated locally or bundled with installed packages.

Nothing here downloads anything. ``load_mnist1d`` runs the ``mnist1d`` package's generator
(Greydanus, 2020) with downloading disabled; ``load_digits`` and ``load_breast_cancer`` use
scikit-learn's bundled copies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from ._validation import check_fraction, check_int

__all__ = ["Dataset", "load_mnist1d", "load_digits", "load_breast_cancer"]


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
