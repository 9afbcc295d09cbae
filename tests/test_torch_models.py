"""radonml.torch.make_mlp / make_cnn against the builders they replace, copied here verbatim as
references (radonml.federated.make_mlp and radonml._cli_lmc.build_model as of commit fb00e97):
the same weights, bit for bit, under the matching options."""

import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import radonml.torch as rt  # noqa: E402
from radonml.torch import make_cnn, make_mlp  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------- the old builders --

def _federated_make_mlp(n_in, hidden, n_out, *, seed=0, dtype=torch.float32):
    widths = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    dims = [n_in] + list(widths)
    gen = torch.Generator().manual_seed(int(seed))
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(dims[-1], n_out))
    net = nn.Sequential(*layers).to(dtype)
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, nn.Linear):
                bound = 1.0 / np.sqrt(mod.in_features)
                mod.weight.copy_((torch.rand(mod.weight.shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
                mod.bias.copy_((torch.rand(mod.bias.shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
    return net


def _cli_build_model(kind, in_features, n_classes, hidden=(128, 128, 128), image_side=None):
    if kind == "mlp":
        layers, d = [], in_features
        for w in hidden:
            layers += [nn.Linear(d, w), nn.ReLU()]
            d = w
        layers.append(nn.Linear(d, n_classes))
        return _he_init(nn.Sequential(*layers))
    if image_side:  # 2-d images (digits: 8 x 8)
        return _he_init(nn.Sequential(
            nn.Unflatten(1, (1, image_side, image_side)),
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * ((image_side + 1) // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, n_classes),
        ))
    length = in_features
    out_len = (length + 1) // 2
    return _he_init(nn.Sequential(
        nn.Unflatten(1, (1, length)),
        nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(),
        nn.Conv1d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * out_len, 64), nn.ReLU(), nn.Linear(64, n_classes),
    ))


def _he_init(model):
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def _assert_same(a, b):
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


# ------------------------------------------------------------------------------ tests --

@pytest.mark.parametrize("hidden", [32, [], [16, 8], (5,) * 4, np.int64(7)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 3])
def test_uniform_init_is_federated_make_mlp(hidden, dtype, seed):
    _assert_same(make_mlp(40, hidden, 10, seed=seed, dtype=dtype), _federated_make_mlp(40, hidden, 10, seed=seed,
                                                                                       dtype=dtype))


@pytest.mark.parametrize("hidden", [(128, 128, 128), [64], []])
def test_kaiming_init_is_build_model_under_manual_seed(hidden):
    torch.manual_seed(11)
    expected = _cli_build_model("mlp", 64, 10, hidden)
    _assert_same(make_mlp(64, hidden, 10, init="kaiming_normal", seed=11), expected)
    # seed=None draws from the global state exactly as build_model did: repeated calls after
    # one manual_seed (what train_pair does) give the same sequence of models
    torch.manual_seed(5)
    old = [_cli_build_model("mlp", 64, 10, hidden) for _ in range(3)]
    torch.manual_seed(5)
    new = [make_mlp(64, hidden, 10, init="kaiming_normal", seed=None) for _ in range(3)]
    for a, b in zip(new, old):
        _assert_same(a, b)


@pytest.mark.parametrize("n_in, image_side", [(40, None), (64, 8), (9, 3)])
def test_make_cnn_is_build_model_cnn(n_in, image_side):
    torch.manual_seed(2)
    expected = _cli_build_model("cnn", n_in, 10, image_side=image_side)
    _assert_same(make_cnn(n_in, 10, image_side=image_side, seed=2), expected)
    torch.manual_seed(2)
    expected = _cli_build_model("cnn", n_in, 10, image_side=image_side)
    torch.manual_seed(2)
    _assert_same(make_cnn(n_in, 10, image_side=image_side, seed=None), expected)
    out = make_cnn(n_in, 4, image_side=image_side)(torch.zeros(3, n_in))
    assert out.shape == (3, 4)


def test_seeded_builds_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    make_mlp(6, [8], 3, seed=1)
    make_mlp(6, [8], 3, init="kaiming_normal", seed=1)
    make_cnn(16, 3, image_side=4, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    # and they do not depend on it
    torch.manual_seed(999)
    _assert_same(make_mlp(6, [8], 3, init="kaiming_normal", seed=1), make_mlp(6, [8], 3, init="kaiming_normal",
                                                                              seed=1))


def test_uniform_init_bounds_and_kaiming_zero_biases():
    net = make_mlp(25, [100], 4, seed=0, dtype=torch.float64)
    w0, w2 = net[0].weight.detach(), net[2].weight.detach()
    assert float(w0.abs().max()) <= 1 / 5 and float(w2.abs().max()) <= 1 / 10
    he = make_mlp(400, [400], 4, init="kaiming_normal", seed=0, dtype=torch.float64)
    assert torch.equal(he[0].bias, torch.zeros(400))
    assert float(he[2].weight.detach().std()) == pytest.approx(np.sqrt(2 / 400), rel=0.05)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: make_mlp(0, 4, 2), ValueError, "n_in must be >= 1"),
        (lambda: make_mlp(3, [4, 0], 2), ValueError, "hidden must be >= 1"),
        (lambda: make_mlp(3, 4, 2.0), TypeError, "n_out must be an integer"),
        (lambda: make_mlp(3, 4, 2, init="xavier"), ValueError, r"init must be one of \('uniform', 'kaiming_normal'\)"),
        (lambda: make_mlp(3, 4, 2, seed=-1), ValueError, "seed must be >= 0"),
        (lambda: make_mlp(3, 4, 2, dtype=torch.int64), TypeError, "dtype must be a floating torch.dtype"),
        (lambda: make_cnn(10, 2, image_side=3), ValueError, r"n_in must be image_side\*\*2 = 9"),
        (lambda: make_cnn(9, 0, image_side=3), ValueError, "n_out must be >= 1"),
    ],
)
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_docstring_examples():
    assert doctest.testmod(rt).failed == 0
