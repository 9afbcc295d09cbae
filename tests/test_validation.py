"""Tests of the shared argument checks in radonml._validation: conversions that must succeed
and messages that must name the argument, the expectation and what was received."""

import numpy as np
import pytest

from radonml._validation import (
    as_float_array,
    check_fraction,
    check_int,
    check_n_threads,
    check_rng,
    check_weights,
)


def test_as_float_array_converts_to_c_contiguous_float64():
    ref = np.arange(12, dtype=np.float64).reshape(3, 4)
    variants = [
        ref.astype(np.float32),
        ref.astype(np.int64),
        ref.astype(np.uint8),
        np.asfortranarray(ref),
        np.arange(24.0).reshape(3, 8)[:, ::2] / 2,  # non-contiguous view of the same values
        ref.tolist(),
        ref.astype(object),
    ]
    for v in variants:
        out = as_float_array(v, "x", ndim=2)
        assert out.dtype == np.float64 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, ref)
    b = as_float_array(np.array([True, False]), "x", ndim=1)
    np.testing.assert_array_equal(b, [1.0, 0.0])
    same = np.ascontiguousarray(ref)
    assert as_float_array(same, "x") is same  # no copy when nothing needs converting
    assert as_float_array(np.zeros((0, 3)), "x", allow_empty=True).shape == (0, 3)


def test_as_float_array_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32, requires_grad=True).reshape(2, 3)
    np.testing.assert_array_equal(as_float_array(t, "x"), np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize(
    "value, kw, exc, match",
    [
        (None, {}, TypeError, r"models must be an array of numbers, got None"),
        ("abc", {}, TypeError, r"models must contain real numbers, got array of shape \(\) and dtype <U3"),
        ([1 + 2j], {}, TypeError, r"models must be real numbers, got complex dtype complex128"),
        (np.array([object()]), {}, TypeError, r"models must contain only real numbers, got an object array"),
        ([[1.0], [1.0, 2.0]], {}, ValueError, r"models must be a rectangular array of numbers"),
        (np.zeros(3), {"ndim": 2}, ValueError, r"models must be a 2-dimensional array, got 1 dimension\(s\) \(shape \(3,\)\)"),
        (np.zeros((2, 0)), {}, ValueError, r"models must not be empty, got shape \(2, 0\)"),
        ([[0.0, 1.0], [np.nan, np.inf]], {}, ValueError, r"models must be finite, got 2 NaN or infinite value\(s\), the first at index \(1, 0\)"),
    ],
)
def test_as_float_array_errors(value, kw, exc, match):
    with pytest.raises(exc, match=match):
        as_float_array(value, "models", **kw)


def test_check_weights():
    assert check_weights(None, 3) is None
    w = check_weights([1, 0, 2], 3)
    assert w.dtype == np.float64 and w.tolist() == [1.0, 0.0, 2.0]
    with pytest.raises(ValueError, match=r"sample_weight must have one entry per model \(3\), got 2"):
        check_weights([1, 2], 3, name="sample_weight")
    with pytest.raises(ValueError, match=r"weights must be non-negative, got -0.5 at index 2"):
        check_weights([1, 2, -0.5], 3)
    with pytest.raises(ValueError, match=r"weights must have a positive sum"):
        check_weights([0, 0, 0], 3)
    with pytest.raises(ValueError, match=r"weights must be finite"):
        check_weights([1, np.inf, 0], 3)


def test_check_int():
    assert check_int(3, "k") == 3 and type(check_int(np.int32(3), "k")) is int
    assert check_int(None, "k", allow_none=True) is None
    with pytest.raises(TypeError, match=r"k must be an integer, got True of type bool"):
        check_int(True, "k")
    with pytest.raises(TypeError, match=r"k must be an integer, got 2.0 of type float"):
        check_int(2.0, "k")
    with pytest.raises(TypeError, match=r"k must be an integer, got None"):
        check_int(None, "k")
    with pytest.raises(ValueError, match=r"k must be >= 1, got 0"):
        check_int(0, "k", minimum=1)


def test_check_fraction():
    assert check_fraction(0.25, "beta") == 0.25
    assert check_fraction(1, "p", closed_high=True) == 1.0
    with pytest.raises(ValueError, match=r"p must lie in \[0.0, 1.0\), got 1.0"):
        check_fraction(1.0, "p")
    with pytest.raises(ValueError, match=r"beta must lie in \[0.0, 0.5\], got 0.7"):
        check_fraction(0.7, "beta", high=0.5, closed_high=True)
    with pytest.raises(TypeError, match=r"beta must be a real number, got '0.1' of type str"):
        check_fraction("0.1", "beta")
    with pytest.raises(TypeError, match=r"beta must be a real number, got False"):
        check_fraction(False, "beta")


def test_check_n_threads():
    assert check_n_threads(None) == 0 and check_n_threads(-1) == 0 and check_n_threads(3) == 3
    with pytest.raises(ValueError, match=r"n_threads must be a positive integer, -1 or None \(all cores\), got -2"):
        check_n_threads(-2)
    with pytest.raises(TypeError, match=r"n_threads must be an integer, got '2'"):
        check_n_threads("2")


def test_check_rng():
    g = np.random.default_rng(0)
    assert check_rng(g) is g
    assert check_rng(5).integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)
    assert check_rng(np.random.SeedSequence(5)).integers(1 << 30) == np.random.default_rng(5).integers(1 << 30)
    assert isinstance(check_rng(None), np.random.Generator)
    a = check_rng(np.random.RandomState(3)).integers(1 << 30)
    assert a == check_rng(np.random.RandomState(3)).integers(1 << 30)
    with pytest.raises(TypeError, match=r"rng must be None, an int seed or a numpy.random.Generator, got float"):
        check_rng(0.5)
    with pytest.raises(TypeError, match=r"rng must be None, an int seed or a numpy.random.Generator, got bool"):
        check_rng(True)
