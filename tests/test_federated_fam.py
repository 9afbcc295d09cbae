"""FAM in the federated simulator's local steps: the vmapped gradient of every learner's
loss + lambda * relative flatness against plain autograd on that learner alone with the same
mini-batch and probes; lambda = 0 is the plain step bit for bit; seeds reproduce (issue 13)."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.func import replace_all_batch_norm_modules_  # noqa: E402

from radonml.federated import Learners, PeriodicAveraging, make_learners, make_mlp, simulate  # noqa: E402
from radonml.flatness import fam_penalty, relative_flatness  # noqa: E402
from radonml.torch import load_flat_parameters  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _shards(m=3, n=25, f=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n + 4 * i, f)), rng.integers(0, 3, size=n + 4 * i)) for i in range(m)]


def _spread(L, scale=0.05):
    """Learners at different points (so that a shared bug cannot hide)."""
    g = torch.Generator().manual_seed(11)
    L.theta += scale * torch.randn(L.theta.shape, generator=g, dtype=L.theta.dtype)
    return L


def _probes(seed, k, P, n):
    return torch.as_tensor(2 * np.random.default_rng([seed, 0xFA]).integers(0, 2, (k, P, n, n)) - 1, dtype=torch.float64)


@pytest.mark.parametrize("layer,P", [(None, 1), ("2", 3), ("0.weight", 2)])
def test_vmapped_fam_gradient_equals_autograd_on_each_learner(layer, P):
    model = make_mlp(5, [6], 3, seed=1, dtype=torch.float64)
    shards = _shards()
    L = _spread(Learners(model, shards, lr=0.1, batch_size=8, seed=7, fam=0.3, fam_layer=layer, fam_probes=P))
    name = "2.weight" if layer in (None, "2") else layer
    assert L.fam_layer == name
    g = L.gradients()
    u = np.random.default_rng(7).random((3, 8))
    Z = _probes(7, 3, P, model.get_parameter(name).shape[1])
    for i, (X, y) in enumerate(shards):
        mod = load_flat_parameters(copy.deepcopy(model), L.theta[i])
        idx = (u[i] * len(y)).astype(np.int64)
        xb, yb = torch.as_tensor(X[idx]), torch.as_tensor(y[idx])
        total = CE(mod(xb), yb) + 0.3 * fam_penalty(mod, xb, yb, loss_fn=CE, layer=name, probes=Z[i])
        ref = torch.cat([t.reshape(-1) for t in torch.autograd.grad(total, list(mod.parameters()))])
        np.testing.assert_allclose(g[i].numpy(), ref.numpy(), rtol=1e-9, atol=1e-12)
        plain = torch.cat([t.reshape(-1) for t in torch.autograd.grad(CE(mod(xb), yb), list(mod.parameters()))])
        assert float((ref - plain).abs().max()) > 1e-4  # the penalty's gradient is really there


def test_full_batch_fam_gradient_and_step():
    model = make_mlp(5, [4], 3, seed=2, dtype=torch.float64)
    shards = _shards(m=2)
    L = _spread(Learners(model, shards, lr=0.2, batch_size=None, seed=3, fam=0.5))
    before = L.theta.clone()
    L.local_step()
    Z = _probes(3, 2, 1, 4)
    for i, (X, y) in enumerate(shards):
        mod = load_flat_parameters(copy.deepcopy(model), before[i])
        x, t = torch.as_tensor(X), torch.as_tensor(y)
        total = CE(mod(x), t) + 0.5 * fam_penalty(mod, x, t, loss_fn=CE, probes=Z[i])
        ref = torch.cat([p.reshape(-1) for p in torch.autograd.grad(total, list(mod.parameters()))])
        np.testing.assert_allclose(L.theta[i].numpy(), (before[i] - 0.2 * ref).numpy(), rtol=1e-10, atol=1e-13)


def test_fam_with_batchnorm_takes_the_penalty_on_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()
    shards = _shards()
    L = Learners(model, shards, lr=0.1, batch_size=8, seed=5, fam=0.2, fam_probes=2)
    L2 = L.copy()
    g = L.gradients()
    L2.local_step()  # the same draws
    u = np.random.default_rng(5).random((3, 8))
    Z = _probes(5, 3, 2, 6)
    for i, (X, y) in enumerate(shards):
        mod = copy.deepcopy(model).train()
        flat = replace_all_batch_norm_modules_(copy.deepcopy(model)).train()  # no running statistics
        idx = (u[i] * len(y)).astype(np.int64)
        xb, yb = torch.as_tensor(X[idx]), torch.as_tensor(y[idx])
        total = CE(mod(xb), yb) + 0.2 * fam_penalty(flat, xb, yb, loss_fn=CE, params=dict(mod.named_parameters()), probes=Z[i])
        grads = dict(zip([n for n, _ in mod.named_parameters()], torch.autograd.grad(total, list(mod.parameters()))))
        for name, s in L.slices.items():
            if name in grads:
                np.testing.assert_allclose(g[i, s].numpy(), grads[name].reshape(-1).numpy(), rtol=1e-9, atol=1e-12)
            else:  # running statistics: one update from the loss's forward pass, none from the penalty's
                np.testing.assert_allclose(L2.theta[i, s].numpy(), mod.state_dict()[name].reshape(-1).numpy(), rtol=1e-12)
        assert int(L2.int_buffers["1.num_batches_tracked"][i]) == 1


def test_lambda_zero_is_the_plain_step_bit_for_bit_and_draws_no_probes():
    model = make_mlp(5, [6], 3, seed=1)
    shards = _shards(m=4)
    plain = Learners(model, shards, lr=0.1, batch_size=8, seed=2)
    zero = Learners(model, shards, lr=0.1, batch_size=8, seed=2, fam=0.0, fam_layer="0", fam_probes=5)
    fam = Learners(model, shards, lr=0.1, batch_size=8, seed=2, fam=0.1)
    probe_state = copy.deepcopy(zero._probe_rng.bit_generator.state)
    for _ in range(5):
        plain.local_step()
        zero.local_step()
        fam.local_step()
    assert torch.equal(plain.theta, zero.theta)
    assert zero._probe_rng.bit_generator.state == probe_state
    # with FAM the mini-batches are the same (the probes have a stream of their own), the models not
    assert fam._rng.bit_generator.state == plain._rng.bit_generator.state
    assert not torch.equal(fam.theta, plain.theta)


def test_seeds_reproduce_fam_runs():
    model = make_mlp(5, [6], 3, seed=1)
    shards = _shards(m=4)

    def run(seed):
        L = Learners(model, shards, lr=0.1, batch_size=8, seed=seed, fam=0.5, fam_probes=2)
        return simulate(PeriodicAveraging(3), L, steps=6).learners.theta

    a, b, c = run(4), run(4), run(5)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # simulate restarts the streams: two protocols on one Learners see the same draws
    L = Learners(model, shards, lr=0.1, batch_size=8, seed=4, fam=0.5, fam_probes=2)
    assert torch.equal(simulate(PeriodicAveraging(3), L, steps=6).learners.theta, a)
    assert torch.equal(simulate(PeriodicAveraging(3), L, steps=6).learners.theta, a)


def test_fam_lowers_the_relative_flatness_of_the_trained_models():
    # a large lambda: after the same steps on the same mini-batches, the learners' last layer is
    # flatter (relative flatness on their shard, exact) than without FAM
    from radonml.datasets import load_mnist1d

    ds = load_mnist1d(600)
    model = make_mlp(40, [16], 10, seed=0)
    kw = dict(lr=0.1, batch_size=32, seed=0)
    base = make_learners(model, ds.X_train, ds.y_train, 3, **kw)
    fam = make_learners(model, ds.X_train, ds.y_train, 3, fam=1.0, **kw)
    for _ in range(60):
        base.local_step()
        fam.local_step()
    X, y = torch.as_tensor(ds.X_train[:300]), torch.as_tensor(ds.y_train[:300])
    for i in range(3):
        k_base = relative_flatness(base.learner_module(i), (X, y), layer="2.weight", loss_fn=CE, method="exact").value
        k_fam = relative_flatness(fam.learner_module(i), (X, y), layer="2.weight", loss_fn=CE, method="exact").value
        assert k_fam < 0.8 * k_base, (i, k_fam, k_base)


def test_bad_fam_options():
    shards = _shards(m=2)
    model = make_mlp(5, [6], 3)
    for fam in (-0.1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="fam must be a non-negative finite number"):
            Learners(model, shards, fam=fam)
    with pytest.raises(ValueError, match="fam_probes must be >= 1, got 0"):
        Learners(model, shards, fam=0.1, fam_probes=0)
    with pytest.raises(ValueError, match="fam_layer '0.bias' must be a 2-D weight matrix"):
        Learners(model, shards, fam=0.1, fam_layer="0.bias")
    with pytest.raises(ValueError, match="fam_layer 'nope' is not a parameter of the model"):
        Learners(model, shards, fam_layer="nope")  # checked even when fam = 0
    conv = nn.Sequential(nn.Unflatten(1, (1, 5)), nn.Conv1d(1, 2, 3), nn.Flatten())
    with pytest.raises(ValueError, match="fam_layer: model has no nn.Linear module"):
        Learners(conv, shards, fam=0.1)
    with pytest.raises(ValueError, match="fam_layer: .*2-D weight matrix"):
        Learners(conv, shards, fam=0.1, fam_layer="1.weight")


def test_cli_fam_option(tmp_path, capsys):
    import json

    from radonml.cli import main

    tiny = ["federated", "--n-samples", "300", "--learners", "3", "--hidden", "8", "--steps", "10", "--eval-every", "5",
            "--period", "5", "--protocols", "periodic", "--quiet", "--no-plot"]
    finals = {}
    for fam in ("0", "0.5"):
        out = tmp_path / fam
        assert main([*tiny, "--fam", fam, "--out", str(out)]) == 0
        data = json.loads((out / "federated.json").read_text())
        assert data["config"]["fam"] == float(fam)
        finals[fam] = data["results"][0]
    printed = capsys.readouterr().out
    assert "FAM λ=0.5" in printed
    # same draws and communication, other models
    assert finals["0"]["bytes"] == finals["0.5"]["bytes"] and finals["0"]["loss"] != finals["0.5"]["loss"]
    # the claims are measured without FAM: a clear refusal; a bad value: argparse's error
    assert main(["federated", "--claims", "lr", "--fam", "0.1", "--out", str(tmp_path)]) == 2
    assert "--fam applies to the learners of --protocols runs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([*tiny, "--fam", "-1", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "argument --fam: expected a non-negative number, got -1.0" in capsys.readouterr().err
