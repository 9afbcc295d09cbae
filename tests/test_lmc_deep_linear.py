"""radonml.lmc.deep_linear: exact path polynomials of deep linear networks against direct evaluation."""

import numpy as np
import pytest
from numpy.polynomial import chebyshev as C
from scipy.optimize import minimize_scalar

from radonml.lmc import deep_linear as dln


def _direct(X, Y, wa, wb, alpha, layers, base):
    fixed = wa if base == "a" else wb
    ws = [(1 - alpha) * wa[l] + alpha * wb[l] if l in layers else fixed[l] for l in range(len(wa))]
    out = X
    for w in ws:
        out = out @ w
    return np.sum((out - Y) ** 2) / X.shape[0]


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((257, 6))
    Y = X @ rng.standard_normal((6, 3)) + 0.1 * rng.standard_normal((257, 3))
    dims = [6, 8, 7, 9, 3]
    wa = dln.train(X, Y, dln.init_weights(dims, rng=1), lr=0.02, n_steps=400)
    wb = dln.train(X, Y, dln.init_weights(dims, rng=2), lr=0.02, n_steps=400)
    return X, Y, wa, wb


@pytest.mark.parametrize("layers", [None, [0], [2], [3], [0, 1], [1, 3], [0, 2, 3]])
@pytest.mark.parametrize("base", ["a", "b"])
def test_path_loss_matches_dense_direct_grid(trained, layers, base):
    X, Y, wa, wb = trained
    grid = np.linspace(0, 1, 201)
    p = dln.path_loss(X, Y, wa, wb, grid, layers=layers, base=base)
    S = list(range(4)) if layers is None else layers
    ref = np.array([_direct(X, Y, wa, wb, a, S, base) for a in grid])
    np.testing.assert_allclose(p.loss, ref, rtol=1e-9)
    assert dln.path_polynomial(X, Y, wa, wb, layers=layers, base=base).degree == 2 * len(S)


def test_ill_conditioned_deep_network_stays_accurate():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 4))
    Y = rng.standard_normal((120, 2))
    dims = [4] + [5] * 7 + [2]
    wa = [2.0 * w for w in dln.init_weights(dims, rng=6)]  # degree 16, product norms ~1e2..1e5
    wb = [2.0 * w for w in dln.init_weights(dims, rng=7)]
    grid = np.linspace(0, 1, 301)
    p = dln.path_loss(X, Y, wa, wb, grid)
    ref = np.array([_direct(X, Y, wa, wb, a, range(8), "a") for a in grid])
    np.testing.assert_allclose(p.loss, ref, rtol=1e-9)


def test_single_layer_paths_are_convex_quadratics(trained):
    X, Y, wa, wb = trained
    for l in range(4):
        for base in "ab":
            poly = dln.path_polynomial(X, Y, wa, wb, layers=[l], base=base)
            assert poly.degree == 2 and poly.chebyshev.shape == (3,)
            # second derivative of c0 + c1 T1 + c2 T2 in alpha is 4 * 4 c2 >= 0
            assert poly.chebyshev[2] >= 0
            t = np.linspace(-1, 1, 101)
            assert (C.chebval(t, C.chebder(poly.chebyshev, 2)) >= -1e-12).all()


def test_exact_barrier_is_the_maximum(trained):
    X, Y, wa, wb = trained
    for layers in (None, [0, 1], [1, 2, 3]):
        poly = dln.path_polynomial(X, Y, wa, wb, layers=layers)
        la, lb = dln.loss(X, Y, wa), dln.loss(X, Y, wb)
        for kind in ("linear", "mean", "max"):
            eb = dln.exact_barrier(X, Y, wa, wb, layers=layers, kind=kind)
            ref_line = {"linear": lambda a: (1 - a) * la + a * lb, "mean": lambda a: (la + lb) / 2,
                        "max": lambda a: max(la, lb)}[kind]
            f = lambda a: _direct(X, Y, wa, wb, a, range(4) if layers is None else layers, "a") - ref_line(a)  # noqa
            grid = np.linspace(0, 1, 2001)
            vals = np.array([f(a) for a in grid])
            assert eb.value >= vals.max() - 1e-9 * abs(vals).max()
            # refine the best grid point with a bounded optimizer: the exact value is not beaten
            i = int(np.argmax(vals))
            lo, hi = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
            r = minimize_scalar(lambda a: -f(a), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
            best = max(vals.max(), -r.fun)
            assert eb.value == pytest.approx(best, rel=1e-9, abs=1e-12)
            assert f(eb.alpha) == pytest.approx(eb.value, rel=1e-9, abs=1e-12)
            assert eb.loss_at_alpha == pytest.approx(poly(eb.alpha), rel=1e-12)


def test_endpoints_path_vs_full(trained):
    X, Y, wa, wb = trained
    e_full = dln.exact_barrier(X, Y, wa, wb, layers=[1], kind="mean", endpoints="full")
    e_path = dln.exact_barrier(X, Y, wa, wb, layers=[1], kind="mean", endpoints="path")
    assert e_full.endpoint_losses == pytest.approx((dln.loss(X, Y, wa), dln.loss(X, Y, wb)), rel=1e-12)
    swapped = [wa[0], wb[1], wa[2], wa[3]]
    assert e_path.endpoint_losses == pytest.approx((dln.loss(X, Y, wa), dln.loss(X, Y, swapped)), rel=1e-9)


def test_seed_toy_reproduced_in_closed_form():
    toy = dln.toy_example(g=10.0)
    X, Y, wa, wb = toy.X, toy.Y, toy.weights_a, toy.weights_b
    S = np.sum(Y ** 2) / X.shape[0]
    assert dln.loss(X, Y, wa) < 1e-20 * S and dln.loss(X, Y, wb) < 1e-20 * S
    full = dln.exact_barrier(X, Y, wa, wb)
    l1 = dln.exact_barrier(X, Y, wa, wb, layers=[0])
    l2 = dln.exact_barrier(X, Y, wa, wb, layers=[1])
    assert full.value == pytest.approx((81 / 40) ** 2 * S, rel=1e-9) and full.alpha == pytest.approx(0.5, abs=1e-9)
    assert l1.value == pytest.approx(81 * S, rel=1e-9)
    assert l2.value == pytest.approx(0.81 * S, rel=1e-9)
    for name, b in (("full", full), ("layer 1", l1), ("layer 2", l2)):
        assert b.value == pytest.approx(toy.barriers[name], rel=1e-9)
    # the seed's picture: full barrier, layer 2 alone much lower, layer 1 alone high
    assert l2.value < full.value / 5 and l1.value > 10 * full.value


def test_train_decreases_loss_and_is_deterministic(rng):
    X = rng.standard_normal((100, 3))
    Y = X @ rng.standard_normal((3, 2))
    w0 = dln.init_weights([3, 4, 2], rng=0)
    w1, hist = dln.train(X, Y, w0, lr=0.05, n_steps=300, return_history=True)
    w2 = dln.train(X, Y, w0, lr=0.05, n_steps=300)
    assert hist[-1] < 1e-3 * hist[0]
    assert hist[-1] == pytest.approx(dln.loss(X, Y, w1), rel=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert all(np.array_equal(a, b) for a, b in zip(w0, dln.init_weights([3, 4, 2], rng=0)))  # not modified
    with pytest.raises(ValueError, match="diverged"):
        dln.train(X, Y, w0, lr=50.0, n_steps=100)


def test_monomial_and_product(trained):
    X, Y, wa, wb = trained
    poly = dln.path_polynomial(X, Y, wa, wb, layers=[0, 3])
    a = np.linspace(0, 1, 7)
    np.testing.assert_allclose(np.polyval(poly.monomial()[::-1], a), poly(a), rtol=1e-8)
    P = poly.product(0.3)
    ws = [0.7 * wa[0] + 0.3 * wb[0], wa[1], wa[2], 0.7 * wa[3] + 0.3 * wb[3]]
    np.testing.assert_allclose(P, ws[0] @ ws[1] @ ws[2] @ ws[3], rtol=1e-10, atol=1e-12)


def test_bad_inputs(trained):
    X, Y, wa, wb = trained
    with pytest.raises(ValueError, match=r"layers must be indices in \[0, 4\)"):
        dln.path_loss(X, Y, wa, wb, layers=[4])
    with pytest.raises(TypeError, match="layers"):
        dln.path_loss(X, Y, wa, wb, layers=["x"])
    with pytest.raises(ValueError, match="base must be"):
        dln.path_loss(X, Y, wa, wb, base="c")
    with pytest.raises(ValueError, match="kind must be one of"):
        dln.exact_barrier(X, Y, wa, wb, kind="avg")
    with pytest.raises(ValueError, match="endpoints must be"):
        dln.exact_barrier(X, Y, wa, wb, endpoints="both")
    with pytest.raises(ValueError, match="same layer shapes"):
        dln.path_loss(X, Y, wa, wb[:3])
    with pytest.raises(ValueError, match=r"weights_a\[1\] must have 8 rows"):
        dln.path_loss(X, Y, [wa[0], wa[2], wa[3]], wb)
    with pytest.raises(ValueError, match="rows .the columns of X."):
        dln.path_loss(X[:, :5], Y, wa, wb)
    with pytest.raises(ValueError, match="Y must have 3 columns"):
        dln.path_loss(X, Y[:, :2], wa, wb)
    with pytest.raises(TypeError, match="list of 2-d weight matrices"):
        dln.path_loss(X, Y, wa[0], wb)
    with pytest.raises(ValueError, match="g must be a finite number > 1"):
        dln.toy_example(g=0.5)
    with pytest.raises(ValueError, match="lr must be"):
        dln.train(X, Y, wa, lr=-1.0)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(dln).failed == 0
