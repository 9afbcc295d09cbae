"""radonml.lmc.subspaces: the training subspace, its complement and the interpolation direction."""

import copy
import doctest
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmc_reference as ref  # noqa: E402
from radonml import lmc  # noqa: E402
from radonml.exceptions import RadonmlWarning  # noqa: E402
from radonml.lmc import subspaces  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def models():
    return ref.models()


@pytest.fixture
def data():
    return ref.data()


def test_subspace_perturbations(models, data):
    a, b = models
    X, y = data
    ev = lmc.classification_evaluator(data)
    torch.manual_seed(5)
    init = ref.mlp(7)
    ckpts = [init]
    for s in (1, 2):  # three further checkpoints spanning a 2-d affine subspace from init
        c = copy.deepcopy(init)
        with torch.no_grad():
            for q in c.parameters():
                q.add_(s * 0.01 * torch.ones_like(q))
        ckpts.append(c)
    c = copy.deepcopy(init)
    with torch.no_grad():
        c[0].weight.add_(0.05)
    ckpts.append(c)
    res = lmc.subspace_perturbations(a, b, ckpts, ev, scales=[0.0, 0.5, 1.0], n_draws=2, rng=1, per_layer=True)
    with torch.no_grad():  # the study copied the checkpoints: changing them now changes nothing
        for q in ckpts[1].parameters():
            q.mul_(0)
    assert res.subspace_dim == 2
    assert res.n_params == sum(p.numel() for p in a.parameters())
    la, lb = (float(v) for v in ref.reference_path(a, b, [0.0, 1.0], X, y)[:, 0])
    # scale 0 is the model itself for every direction. Noise of norm s*D on the interpolation
    # line has two signs, averaged: from A, s = 1 lands on B and on 2A - B (alpha = -1); s = 0.5
    # on the midpoint and on alpha = -0.5. From B the same with A and B swapped.
    np.testing.assert_allclose(res.mean["loss"][0, :, 0], la, rtol=1e-5)
    np.testing.assert_allclose(res.mean["loss"][1, :, 0], lb, rtol=1e-5)
    np.testing.assert_allclose(res.unperturbed["loss"], [la, lb], rtol=1e-6)
    (l_m1,), (l_mh,), (l_h,), (l_2,), (l_15,) = ref.reference_path(a, b, [-1.0, -0.5, 0.5, 2.0, 1.5], X, y)[:, :1]
    assert res.mean["loss"][0, 0, 2] == pytest.approx((lb + l_m1) / 2, rel=1e-4)
    assert res.std["loss"][0, 0, 2] == pytest.approx(abs(lb - l_m1) / 2, rel=1e-4)
    assert res.mean["loss"][0, 0, 1] == pytest.approx((l_h + l_mh) / 2, rel=1e-4)
    assert res.mean["loss"][1, 0, 2] == pytest.approx((la + l_2) / 2, rel=1e-4)
    assert res.mean["loss"][1, 0, 1] == pytest.approx((l_h + l_15) / 2, rel=1e-4)
    with torch.no_grad():
        dist = float(torch.cat([(q - p).reshape(-1) for p, q in zip(a.parameters(), b.parameters())]).norm())
    assert res.distance == pytest.approx(dist, rel=1e-6)
    assert res.layers == ["0", "2", "4"]
    assert res.layer_subspace_dims == [2, 1, 1]  # layer 0 saw both kinds of moves
    assert res.layer_mean["loss"].shape == (3, 2, 3, 3)
    json.loads(res.to_json())


def test_subspace_directions_are_orthogonal_to_each_other():
    # the complement direction has no component in the training subspace: with checkpoints that
    # span every coordinate but one, null-space moves touch only that coordinate
    m, b = ref.linear_2d(0.0, 0.0), ref.linear_2d(1.0, 0.0)
    c1 = ref.linear_2d(3.0, 0.0)

    seen = []

    def ev(model):
        w = model.state_dict()["weight"].clone()
        seen.append(w)
        return {"loss": float(w[0, 1] ** 2)}

    res = lmc.subspace_perturbations(m, b, [m, c1], ev, scales=[1.0], n_draws=3, rng=0)
    # training-subspace moves keep w[0,1] = 0; null-space moves are all along w[0,1], of norm 1
    np.testing.assert_allclose(res.mean["loss"][0, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(res.mean["loss"][0, 2], 1.0, rtol=1e-6)


def test_subspace_without_training_directions_or_complement_warns_and_reports_nan():
    m, b = ref.linear_2d(0.0, 0.0), ref.linear_2d(1.0, 0.0)

    def ev(model):
        w = model.state_dict()["weight"]
        return {"loss": float(w[0, 0] ** 2 + 2 * w[0, 1] ** 2)}

    # identical checkpoints: no training subspace; the null directions are all of R^2
    with pytest.warns(RadonmlWarning, match="do not move the model"):
        res = lmc.subspace_perturbations(m, b, [m, copy.deepcopy(m)], ev, scales=[0.0, 1.0], n_draws=2, rng=0)
    assert res.subspace_dim == 0
    assert np.isnan(res.mean["loss"][:, 1]).all()
    assert np.isfinite(res.mean["loss"][:, [0, 2]]).all()
    assert res.mean["loss"][0, 0, 1] == pytest.approx(1.0)  # A moved to B: w = (1, 0)
    # checkpoints spanning both coordinates: no complement
    c1, c2 = ref.linear_2d(1.0, 0.0), ref.linear_2d(0.0, 1.0)
    with pytest.warns(RadonmlWarning, match="no orthogonal complement") as record:
        res = lmc.subspace_perturbations(m, b, [m, c1, c2], ev, scales=[0.0, 1.0], n_draws=2, rng=0)
    assert record[0].filename == __file__  # the warning points at the caller
    assert res.subspace_dim == 2
    assert np.isnan(res.mean["loss"][:, 2]).all()
    # unit directions in the plane at distance 1 from A = 0: loss between 1 and 2
    t = res.mean["loss"][0, 1, 1]
    assert 1.0 - 1e-9 <= t <= 2.0 + 1e-9


def test_bad_inputs(models, data):
    a, b = models
    ev = lmc.classification_evaluator(data)
    with pytest.raises(ValueError, match="origin must be"):
        lmc.subspace_perturbations(a, b, [a, b], ev, origin="init")
    with pytest.raises(ValueError, match="at least 2 states"):
        lmc.subspace_perturbations(a, b, [a], ev)


def test_docstring_examples():
    assert doctest.testmod(subspaces).failed == 0


def test_scale_zero_is_the_model_itself_and_costs_nothing(models, data):
    a, b = models
    ev = lmc.classification_evaluator(data)
    calls = []

    def counting(model):  # a plain function: one call per point
        calls.append(1)
        return ev(model)

    n_draws, scales = 2, [0.0, 0.1, 0.5]
    res = lmc.subspace_perturbations(a, b, [ref.mlp(7), a, b], counting, scales=scales, n_draws=n_draws, rng=0)
    # the two models once, then per model: two signs on the line + n_draws per subspace, at the 2 nonzero scales
    assert len(calls) == 2 + 2 * (2 + 2 * n_draws) * 2
    np.testing.assert_allclose(res.mean["loss"][:, :, 0], np.repeat(res.unperturbed["loss"][:, None], 3, 1))
    np.testing.assert_array_equal(res.std["loss"][:, :, 0], 0.0)
    assert lmc.subspaces.DEFAULT_SCALES == (0.0, 0.05, 0.1, 0.25, 0.5)
