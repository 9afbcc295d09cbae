"""radonml.lmc.linear: path metrics of linear models against naive per-alpha float64 loops."""

import numpy as np
import pytest

from radonml.exceptions import EndpointMismatchWarning
from radonml.lmc import barrier, linear

ALPHAS = np.array([-0.25, 0.0, 0.1, 0.3, 0.5, 0.77, 1.0, 1.2])


def _naive(X, y, wa, wb, alphas, loss, ba=0.0, bb=0.0):
    """One full model per alpha, as users would write it."""
    losses, errors = [], []
    for a in alphas:
        w = (1 - a) * wa + a * wb
        b = (1 - a) * np.asarray(ba) + a * np.asarray(bb)
        z = X @ w + b
        if loss == "logistic":
            losses.append(np.mean(np.logaddexp(0.0, -y * z)))
            errors.append(np.mean((z > 0) != (y > 0)))
        elif loss == "hinge":
            losses.append(np.mean(np.maximum(0.0, 1.0 - y * z)))
            errors.append(np.mean((z > 0) != (y > 0)))
        elif loss == "squared":
            r = (z - y).reshape(len(X), -1)
            losses.append(np.mean(np.sum(r * r, axis=1)))
            errors.append(np.nan)
        else:
            m = z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
            losses.append(np.mean(lse - z[np.arange(len(y)), y]))
            errors.append(np.mean(z.argmax(axis=1) != y))
    return np.array(losses), np.array(errors)


@pytest.fixture
def data(rng):
    n, d = 1537, 13  # not a multiple of the row block
    X = rng.standard_normal((n, d))
    return X, rng.standard_normal(d), rng.standard_normal(d)


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
@pytest.mark.parametrize("labels", ["01", "pm1"])
def test_binary_losses_match_naive_loop(data, rng, loss, labels):
    X, wa, wb = data
    ypm = np.where(rng.random(len(X)) < 0.5, -1.0, 1.0)
    y = (ypm > 0).astype(int) if labels == "01" else ypm
    p = linear.path_metrics(X, y, wa, wb, ALPHAS, loss=loss, intercept_a=0.3, intercept_b=-0.7)
    ref_l, ref_e = _naive(X, ypm, wa, wb, ALPHAS, loss, 0.3, -0.7)
    np.testing.assert_allclose(p.loss, ref_l, rtol=1e-10, atol=0)
    np.testing.assert_allclose(p.error, ref_e, rtol=1e-14, atol=0)


def test_logistic_extreme_margins_accurate(rng):
    X = rng.standard_normal((300, 3)) * 400  # margins up to ~1e3: exp under- and overflow
    y = np.sign(rng.standard_normal(300))
    wa, wb = rng.standard_normal(3), rng.standard_normal(3)
    p = linear.path_metrics(X, y, wa, wb, ALPHAS, loss="logistic")
    ref, _ = _naive(X, y, wa, wb, ALPHAS, "logistic")
    np.testing.assert_allclose(p.loss, ref, rtol=1e-12)
    # tiny losses keep their relative accuracy (a log(1 + e) that rounds 1 + e would give 0)
    Xs = np.array([[40.0], [45.0]])
    p = linear.path_metrics(Xs, [1, 1], [1.0], [1.0], [0.0], loss="logistic")
    np.testing.assert_allclose(p.loss[0], np.mean(np.log1p(np.exp(-Xs[:, 0]))), rtol=1e-13)


@pytest.mark.parametrize("k", [1, 3])
def test_squared_matches_naive_loop(rng, k):
    X = rng.standard_normal((700, 6))
    shape = (6,) if k == 1 else (6, k)
    wa, wb = rng.standard_normal(shape), rng.standard_normal(shape)
    y = rng.standard_normal(700 if k == 1 else (700, k))
    ba, bb = rng.standard_normal(k), rng.standard_normal(k)
    p = linear.path_metrics(X, y, wa, wb, ALPHAS, loss="squared", intercept_a=ba if k > 1 else ba[0],
                            intercept_b=bb if k > 1 else bb[0])
    ref, _ = _naive(X, y, wa, wb, ALPHAS, "squared", ba if k > 1 else ba[0], bb if k > 1 else bb[0])
    np.testing.assert_allclose(p.loss, ref, rtol=1e-10)
    assert np.isnan(p.error).all()


def test_softmax_matches_naive_loop(rng):
    X = rng.standard_normal((999, 7))
    wa, wb = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    y = rng.integers(0, 4, 999)
    ba, bb = rng.standard_normal(4), rng.standard_normal(4)
    p = linear.path_metrics(X, y, wa, wb, ALPHAS, loss="softmax", intercept_a=ba, intercept_b=bb)
    ref_l, ref_e = _naive(X, y, wa, wb, ALPHAS, "softmax", ba, bb)
    np.testing.assert_allclose(p.loss, ref_l, rtol=1e-10)
    np.testing.assert_allclose(p.error, ref_e, rtol=0, atol=0)


def test_results_do_not_depend_on_threads(data, rng):
    X, wa, wb = data
    y = np.sign(rng.standard_normal(len(X)))
    p1 = linear.path_metrics(X, y, wa, wb, 51, loss="logistic", n_threads=1)
    p2 = linear.path_metrics(X, y, wa, wb, 51, loss="logistic", n_threads=3)
    np.testing.assert_array_equal(p1.loss, p2.loss)
    assert p1.alphas.shape == (51,) and p1.alphas[0] == 0 and p1.alphas[-1] == 1


def test_float32_and_list_inputs_convert(rng):
    X = rng.standard_normal((50, 2)).astype(np.float32)
    y = list((rng.random(50) < 0.5).astype(int))
    p = linear.path_metrics(X, y, [1.0, 0.0], np.array([0.0, 1.0], dtype=np.float32))
    ref, _ = _naive(X.astype(np.float64), 2.0 * np.array(y) - 1, np.array([1.0, 0]), np.array([0, 1.0]),
                    p.alphas, "logistic")
    np.testing.assert_allclose(p.loss, ref, rtol=1e-10)


def test_exact_barrier_squared_closed_form(rng):
    X = rng.standard_normal((400, 5))
    y = rng.standard_normal(400)
    wa, wb = rng.standard_normal(5), 3 * rng.standard_normal(5)
    c = linear.squared_loss_coefficients(X, y, wa, wb)
    grid = np.linspace(-0.5, 1.5, 9)
    ref, _ = _naive(X, y, wa, wb, grid, "squared")
    np.testing.assert_allclose(np.polyval(c[::-1], grid), ref, rtol=1e-10)
    assert c[2] >= 0
    la, lb = ref[2], ref[6]  # alpha = 0 and 1
    dense = linear.path_metrics(X, y, wa, wb, np.linspace(0, 1, 2001), loss="squared")
    assert abs(la - lb) > 0.1 * max(la, lb)  # endpoints far apart: the "mean" barrier warns
    for kind in ("linear", "mean", "max"):
        if kind == "mean":
            with pytest.warns(EndpointMismatchWarning, match="kind='linear'"):
                grid_b = barrier(dense, kind=kind)
        else:
            grid_b = barrier(dense, kind=kind)
        eb = linear.exact_barrier(X, y, wa, wb, kind=kind)
        assert eb.value == pytest.approx(grid_b, abs=1e-9 * max(la, lb))
        assert eb.endpoint_losses == pytest.approx((la, lb), rel=1e-12)
    assert linear.exact_barrier(X, y, wa, wb, kind="mean").value == pytest.approx(abs(la - lb) / 2, rel=1e-10)


def test_result_serializes(data, rng):
    import json

    X, wa, wb = data
    p = linear.path_metrics(X, np.sign(rng.standard_normal(len(X))), wa, wb, loss="squared")
    d = json.loads(p.to_json())
    assert d["metrics"]["error"][0] is None and len(d["metrics"]["loss"]) == 11


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(loss="cross"), ValueError, "loss must be one of"),
        (dict(y=np.array([0, 2] * 50)), ValueError, "binary labels"),
        (dict(y=np.zeros(99)), ValueError, r"y must have shape \(100,\)"),
        (dict(w_b=np.zeros(4)), ValueError, "same shape"),
        (dict(w_a=np.zeros(4), w_b=np.zeros(4)), ValueError, r"w_a must have shape \(3,\)"),
        (dict(w_a=np.zeros((3, 2)), w_b=np.zeros((3, 2))), ValueError, "binary"),
        (dict(loss="softmax"), ValueError, "k >= 2"),
        (dict(loss="softmax", w_a=np.zeros((3, 2)), w_b=np.zeros((3, 2)), y=np.full(100, 2)), ValueError, r"\[0, 2\)"),
        (dict(loss="softmax", w_a=np.zeros((3, 2)), w_b=np.zeros((3, 2)), y=np.full(100, 0.5)), ValueError, "integer"),
        (dict(intercept_a=[1.0, 2.0]), ValueError, "intercept_a"),
        (dict(X=np.full((100, 3), np.nan)), ValueError, "X must be finite"),
        (dict(X=np.zeros(100)), ValueError, "X must be a 2-dimensional"),
        (dict(alphas=np.zeros((2, 2))), ValueError, "alphas must be a 1-dimensional"),
        (dict(alphas=1), ValueError, "alphas"),
        (dict(X="abc"), TypeError, "X must contain real numbers"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    args = dict(X=np.zeros((100, 3)), y=np.ones(100), w_a=np.zeros(3), w_b=np.ones(3))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        linear.path_metrics(args.pop("X"), args.pop("y"), args.pop("w_a"), args.pop("w_b"), **args)


def test_exact_barrier_bad_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        linear.exact_barrier(np.eye(2), np.zeros(2), [1.0, 0], [0, 1.0], kind="top")


def test_docstring_examples():
    import doctest

    assert doctest.testmod(linear).failed == 0


def test_logistic_loss_accurate_over_the_whole_range_of_margins():
    # the core's own exp and log1p: every margin from 1e-12 to 1e3 in magnitude, both signs
    margins = np.concatenate([-np.logspace(-12, 3, 60), [0.0], np.logspace(-12, 3, 60)])
    for m in margins:
        p = linear.path_metrics(np.array([[m]]), [1], [1.0], [1.0], [0.0], loss="logistic")
        ref = np.logaddexp(0.0, -m)
        assert p.loss[0] == pytest.approx(ref, rel=1e-14, abs=0), m


def test_overflowing_outputs_raise():
    # z_A = X w_A overflows: (1 - alpha) z_A + alpha z_B would be NaN, so this is an error
    X = np.array([[1e200], [1.0]])
    for loss in ("logistic", "squared"):
        with pytest.raises(ValueError, match="overflow float64"):
            linear.path_metrics(X, [1, 0], [1e200], [-1e200], [0.0, 0.5, 1.0], loss=loss)
    with pytest.raises(ValueError, match="overflow float64"):
        linear.exact_barrier(X, [1.0, 0.0], [1e200], [1.0])


def test_private_core_binding_guards_labels_and_loss():
    # the compiled core indexes outputs by label: out-of-range labels once read out of bounds
    # (a crash), and an unknown loss code once ran as the squared loss. The loss is now the
    # core's PathLoss enum: integers are refused, and a PathLoss made from an unknown integer
    # is refused by the core
    from radonml import _core

    X, w = np.ones((3, 2)), np.ones(4)
    al = np.array([0.0, 1.0])
    softmax = _core.PathLoss.softmax
    for bad in ([10**9, 0, 0], [0, -1, 0], [0, 0, 2]):
        with pytest.raises(ValueError, match=r"labels must be in \[0, k\)"):
            _core.linear_path_metrics(X, np.zeros(3), np.array(bad), w, w, 2, None, None, al, softmax)
    for code in (-1, 4, 7):
        with pytest.raises(ValueError, match="loss must be a PathLoss enumerator"):
            _core.linear_path_metrics(X, np.zeros(3), np.zeros(3, dtype=np.int64), w[:2], w[:2], 1, None, None, al,
                                      _core.PathLoss(code))
    for code in (1, 3):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            _core.linear_path_metrics(X, np.zeros(3), np.zeros(3, dtype=np.int64), w[:2], w[:2], 1, None, None, al,
                                      code)
    # valid codes and labels still run: softmax with labels 0 and 1 equals the closed form
    lo, er = _core.linear_path_metrics(X, np.zeros(3), np.array([0, 1, 1]), w, w, 2, None, None, al, softmax)
    np.testing.assert_allclose(lo, [np.log(2.0)] * 2, rtol=1e-14)


def test_losses_are_the_core_enum():
    from radonml import _core

    assert linear.LOSSES == ("logistic", "squared", "hinge", "softmax")
    assert [int(_core.PathLoss.__members__[name]) for name in linear.LOSSES] == [0, 1, 2, 3]
