"""radonml.lmc.interpolation: interpolated models and paths against a deep-copy reference."""

import copy
import doctest
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lmc_reference as ref  # noqa: E402
from radonml import lmc  # noqa: E402
from radonml.lmc import interpolation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def models():
    return ref.models()


@pytest.fixture
def data():
    return ref.data()


def test_interpolate_endpoints_exact_and_inputs_untouched(models):
    a, b = models
    before_a = {k: v.clone() for k, v in a.state_dict().items()}
    m0, m1 = lmc.interpolate(a, b, 0.0), lmc.interpolate(a, b, 1.0)
    for k in a.state_dict():
        assert torch.equal(m0.state_dict()[k], a.state_dict()[k])
        assert torch.equal(m1.state_dict()[k], b.state_dict()[k])
        assert torch.equal(a.state_dict()[k], before_a[k])
    assert m0 is not a and m1 is not b
    mid = lmc.interpolate(a, b, 0.3, layers=["2"], base="b")
    sd = mid.state_dict()
    assert torch.allclose(sd["2.weight"], 0.7 * a[2].weight + 0.3 * b[2].weight)
    assert torch.equal(sd["0.weight"], b[0].weight) and torch.equal(sd["4.bias"], b[4].bias)
    by_index = lmc.interpolate(a, b, 0.3, layers=1, base="b")
    assert torch.equal(by_index.state_dict()["2.weight"], sd["2.weight"])


def test_evaluate_path_vmap_matches_deepcopy_loop(models, data):
    a, b = models
    X, y = data
    ev = lmc.classification_evaluator((X, y), batch_size=128)
    p = lmc.evaluate_path(a, b, ev)
    assert p.method == "batched"  # nn.Sequential of Linear and ReLU
    expected = ref.reference_path(a, b, p.alphas, X, y)
    np.testing.assert_allclose(p.loss, expected[:, 0], rtol=1e-5)
    np.testing.assert_allclose(p.accuracy, expected[:, 1], atol=1e-12)
    # a generic evaluator (plain callable) takes the loop and agrees
    generic = lambda m: {"loss": float(nn.functional.cross_entropy(m(X), y))}  # noqa: E731
    q = lmc.evaluate_path(a, b, generic, alphas=p.alphas)
    assert q.method == "loop"
    np.testing.assert_allclose(q.loss, p.loss, rtol=1e-5)
    # partial path with base b, several chunks
    r = lmc.evaluate_path(a, b, ev, layers=["0", "4"], base="b", alphas=7, chunk_size=3)
    expected = ref.reference_path(a, b, r.alphas, X, y, layers=["0", "4"], base="b")
    np.testing.assert_allclose(r.loss, expected[:, 0], rtol=1e-5)


def test_evaluate_path_serializes(models, data):
    a, b = models
    p = lmc.evaluate_path(a, b, lmc.classification_evaluator(data), alphas=3)
    d = json.loads(p.to_json())
    assert d["alphas"] == [0.0, 0.5, 1.0] and set(d["metrics"]) == {"loss", "accuracy"}


def test_bad_inputs(models, data):
    a, b = models
    ev = lmc.classification_evaluator(data)
    with pytest.raises(ValueError, match="same architecture"):
        lmc.evaluate_path(a, ref.mlp(0, h=8), ev)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        lmc.evaluate_path(a, "b", ev)
    with pytest.raises(ValueError, match="base must be one of"):
        lmc.evaluate_path(a, b, ev, base="c")
    with pytest.raises(ValueError, match="is not a layer"):
        lmc.evaluate_path(a, b, ev, layers=["fc9"])
    with pytest.raises(ValueError, match="out of range"):
        lmc.interpolate(a, b, 0.5, layers=7)
    with pytest.raises(TypeError, match="alpha must be a finite real"):
        lmc.interpolate(a, b, "half")
    with pytest.raises(TypeError, match="must return a non-empty dict"):
        lmc.evaluate_path(a, b, lambda m: 1.0)
    with pytest.raises(TypeError, match="evaluate must be a callable"):
        lmc.evaluate_path(a, b, 3)
    with pytest.raises(ValueError, match="not a state_dict key"):
        lmc.evaluate_path(a, b, ev, groups={"x": ["nope"]})


def test_generic_evaluate_cannot_change_inputs_or_points(models, data):
    a, b = models
    X, y = data
    a_before = copy.deepcopy(a.state_dict())
    seen = []

    def vandal(model):  # changes what it is handed, in place
        assert model.to("cpu") is model and model.cpu() is model and model.to(torch.float32) is model
        out = model(X)
        seen.append(list(model.state_dict()))
        for v in model.state_dict().values():
            v.mul_(0)
        for v in model.parameters():
            v.add_(1)
        return {"loss": float(nn.functional.cross_entropy(out, y))}

    p = lmc.evaluate_path(a, b, vandal, alphas=3, layers=["2"])
    for k, v in a.state_dict().items():
        assert torch.equal(v, a_before[k]), k
    np.testing.assert_allclose(p.loss, ref.reference_path(a, b, p.alphas, X, y, layers=["2"])[:, 0], rtol=1e-5)
    assert seen[0] == list(a.state_dict())  # the model's own key order

    def wants(f):
        return lambda model: f(model) or {"loss": 0.0}

    with pytest.raises(ValueError, match="move model_a and model_b"):
        lmc.evaluate_path(a, b, wants(lambda m: m.to("meta")), alphas=2)
    with pytest.raises(ValueError, match="cast model_a and model_b"):
        lmc.evaluate_path(a, b, wants(lambda m: m.double()), alphas=2)
    with pytest.raises(AttributeError, match="functional view .* no 'modules'"):
        lmc.evaluate_path(a, b, wants(lambda m: m.modules()), alphas=2)


def test_docstring_examples():
    assert doctest.testmod(interpolation).failed == 0


def _rescaled_pair():
    """A and B compute the same function (ReLU networks are invariant to scaling a hidden unit's
    inputs by c and its outputs by 1/c): c = 1e20 and 1e-20. Every endpoint output is finite,
    the midpoint's weights are both ~5e19, and its outputs overflow float32 (~2.5e39)."""
    a = nn.Sequential(nn.Linear(2, 1, bias=False), nn.ReLU(), nn.Linear(1, 2, bias=False))
    b = copy.deepcopy(a)
    with torch.no_grad():
        a[0].weight.fill_(1e20), a[2].weight.copy_(torch.tensor([[1e-20], [-1e-20]]))
        b[0].weight.fill_(1e-20), b[2].weight.copy_(torch.tensor([[1e20], [-1e20]]))
    return a, b


def test_non_finite_values_are_errors_that_name_what_and_where():
    # issue 9 kind 7: a diverged checkpoint or an inf in a path's metrics is never a silent NaN
    a, b = _rescaled_pair()
    X, y = torch.ones(4, 2), torch.tensor([0, 1, 0, 1])
    ev = lmc.classification_evaluator((X, y))
    assert np.isfinite(ev(a)["loss"]) and np.isfinite(ev(b)["loss"])
    with pytest.raises(ValueError, match="non-finite 'loss' \\(nan\\) at alpha = 0.5 of the path"):
        lmc.evaluate_path(a, b, ev, alphas=3)
    with pytest.raises(ValueError, match="outputs contain 8 non-finite value\\(s\\) \\(NaN or inf\\) of 8"):
        ev(lmc.interpolate(a, b, 0.5))
    with pytest.raises(ValueError, match="outputs contain") as info:  # the loop: the point is named in a note
        lmc.evaluate_path(a, b, lambda m: ev(m), alphas=3)
    assert "at alpha = 0.5 of the path" in "".join(getattr(info.value, "__notes__", []))
    inf_at_end = lambda m: {"loss": float("inf") if float(m.state_dict()["0.weight"][0, 0]) < 1 else 1.0}  # noqa: E731
    with pytest.raises(ValueError, match="non-finite 'loss' \\(inf\\) at alpha = 1"):
        lmc.evaluate_path(a, b, inf_at_end, alphas=3)
    with pytest.raises(ValueError, match="non-finite 'loss'.*at step 1 along direction 0 of layer '2'"):
        lmc.perturbation_robustness(a, b, ev, alphas=[0.0, 1.0], layers=["2"], n_draws=1)
    # a diverged checkpoint
    c = copy.deepcopy(b)
    with torch.no_grad():
        c[2].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="model_b's '2.weight' has 1 non-finite value"):
        lmc.evaluate_path(a, c, ev)
    with pytest.raises(ValueError, match="model_a's '2.weight' has 1 non-finite"):
        lmc.layerwise_barriers(c, a, ev)
    # barriers of a path given by hand
    p = lmc.PathResult(alphas=np.array([0.0, 0.5, 1.0]), metrics={"loss": np.array([1.0, np.inf, 1.0])})
    with pytest.raises(ValueError, match="contains NaN or inf \\(inf at alpha = 0.5\\)"):
        lmc.barrier(p)
    q = lmc.PathResult(alphas=np.array([0.0, 1.0]), metrics={"loss": np.array([1.0, 1.0])})
    with pytest.raises(ValueError, match="endpoints' loss must be finite"):
        lmc.barrier(q, endpoints=(np.inf, 1.0))
