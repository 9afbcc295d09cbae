"""radonml.lmc.robustness: per-layer perturbations against the deep-copy reference."""

import doctest
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmc_reference as ref  # noqa: E402
from radonml import lmc  # noqa: E402
from radonml.lmc import robustness  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def models():
    return ref.models()


@pytest.fixture
def data():
    return ref.data()


def test_perturbation_robustness(models, data):
    a, b = models
    X, y = data
    ev = lmc.classification_evaluator(data)
    r = lmc.perturbation_robustness(a, b, ev, n_draws=3, rng=0, alphas=[0.0, 0.5, 1.0])
    r2 = lmc.perturbation_robustness(a, b, ev, n_draws=3, rng=0, alphas=[0.0, 0.5, 1.0])
    np.testing.assert_array_equal(r.random_draws["loss"], r2.random_draws["loss"])  # seeded
    for i, l in enumerate(r.layers):
        d = torch.cat([(b.state_dict()[k] - a.state_dict()[k]).reshape(-1) for k in lmc.layer_groups(a)[l]])
        assert r.norms[i] == pytest.approx(float(d.norm()), rel=1e-5)
        swapped = ref.reference_path(a, b, [1.0], X, y, layers=[l])[0, 0]
        assert r.interpolation["loss"][i, 2] == pytest.approx(swapped, rel=1e-5)
        assert r.random_draws["loss"][i, :, 0] == pytest.approx(np.full(3, r.interpolation["loss"][i, 0]), rel=1e-6)
    assert r.random_draws["loss"].shape == (3, 3, 3)
    json.loads(r.to_json())


def test_bad_inputs(models, data):
    a, b = models
    ev = lmc.classification_evaluator(data)
    with pytest.raises(ValueError, match="n_draws must be >= 1"):
        lmc.perturbation_robustness(a, b, ev, n_draws=0)


def test_docstring_examples():
    assert doctest.testmod(robustness).failed == 0
