"""radonml.flatness.fam_penalty: the FAM regularizer's value and gradient against a
torch.autograd transcription of relative flatness, its use under vmap (one penalty per
parameter set, as a federated simulator needs), and bad inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml.flatness import fam_penalty, last_linear_weight, relative_flatness  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _mlp(widths, seed=0, dropout=None):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers[: -2 if dropout else -1]).double()


def _batch(n, d_in, n_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=torch.float64), torch.randint(0, n_classes, (n,), generator=g)


def _kappa_autograd(model, x, y, name):
    """kappa with the full Hessian built row by row by torch.autograd (graph kept): an independent,
    differentiable transcription of sum_{s,s'} <w_s, w_s'> Tr(H_{s,s'}); also returns H as (d, m, d, m)."""
    W = dict(model.named_parameters())[name]
    d, m = W.shape
    loss = CE(model(x), y)
    g = torch.autograd.grad(loss, W, create_graph=True)[0].reshape(-1)
    rows = [torch.autograd.grad(g[i], W, create_graph=True)[0].reshape(-1) for i in range(d * m)]
    H4 = torch.stack(rows).reshape(d, m, d, m)
    T = torch.einsum("sjtj->st", H4)
    return ((W @ W.T) * T).sum(), H4


def _grads(model, value):
    return torch.autograd.grad(value, list(model.parameters()), allow_unused=True)


def _close_grads(a, b, rtol=1e-9, atol=1e-12):
    for ga, gb in zip(a, b):
        ga = torch.zeros(()) if ga is None else ga
        gb = torch.zeros(()) if gb is None else gb
        torch.testing.assert_close(ga.double().expand_as(gb) if ga.ndim == 0 else ga, gb, rtol=rtol, atol=atol)


def test_exact_penalty_value_and_gradient_match_autograd_transcription():
    model = _mlp([5, 6, 4, 3], seed=1)
    x, y = _batch(20, 5, 3, seed=1)
    for name in ("4.weight", "2.weight"):
        ref, _ = _kappa_autograd(model, x, y, name)
        got = fam_penalty(model, x, y, loss_fn=CE, layer=name, method="exact")
        assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-10)
        assert float(got.detach()) == pytest.approx(relative_flatness(model, (x, y), layer=name, loss_fn=CE, method="exact").value, rel=1e-10)
        # the gradient reaches every parameter (through <w_s, w_s'> and through the Hessian)
        gr, gg = _grads(model, ref), _grads(model, got)
        assert all(g is not None and float(g.abs().sum()) > 0 for g in gg[:5])
        _close_grads(gg, gr)


def test_hutchinson_penalty_algebra_is_exact_over_all_unit_probes():
    # E_Z <WZ, H WZ> over Rademacher Z equals the sum over the m^2 unit matrices E_kj; the penalty
    # averages over the probes it is given, so m^2 * penalty(all units) must be kappa, value and gradient.
    model = _mlp([4, 5, 3], seed=2)
    x, y = _batch(16, 4, 3, seed=2)
    name = last_linear_weight(model)
    m = 5
    units = torch.eye(m * m, dtype=torch.float64).reshape(m * m, m, m)
    ref, _ = _kappa_autograd(model, x, y, name)
    got = fam_penalty(model, x, y, loss_fn=CE, probes=units) * (m * m)
    assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-10)
    _close_grads(_grads(model, got), _grads(model, ref))


def test_fixed_hessian_variant_is_the_public_codes_gradient():
    # through_hessian=False (the paper's public code detaches the Hessian): same value, gradient
    # d/dw_s sum <w_s, w_s'> T_{ss'} = 2 (T W)_s on the layer only, T_{ss'} = Tr(H_{s,s'}) held fixed.
    model = _mlp([4, 5, 3], seed=9)
    x, y = _batch(16, 4, 3, seed=9)
    W = model[2].weight
    _, H4 = _kappa_autograd(model, x, y, "2.weight")
    T = torch.einsum("sjtj->st", H4.detach())
    expected = [None, None, 2 * T @ W.detach(), None]
    units = torch.eye(25, dtype=torch.float64).reshape(25, 5, 5)
    for pen in (fam_penalty(model, x, y, loss_fn=CE, method="exact", through_hessian=False),
                fam_penalty(model, x, y, loss_fn=CE, probes=units, through_hessian=False) * 25):
        assert float(pen.detach()) == pytest.approx(float(((W.detach() @ W.detach().T) * T).sum()), rel=1e-10)
        grads = _grads(model, pen)
        for g, e in zip(grads, expected):
            if e is None:
                assert g is None or float(g.abs().max()) == 0.0
            else:
                torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)


def test_random_probe_matches_the_quadratic_form_it_stands_for():
    model = _mlp([4, 6, 3], seed=3)
    x, y = _batch(12, 4, 3, seed=3)
    W = model[2].weight
    pen = fam_penalty(model, x, y, loss_fn=CE, n_probes=3, generator=torch.Generator().manual_seed(7))
    Z = (torch.randint(0, 2, (3, 6, 6), generator=torch.Generator().manual_seed(7)) * 2 - 1).double()
    _, H4 = _kappa_autograd(model, x, y, "2.weight")
    H = H4.detach().reshape(18, 18)
    V = (W.detach() @ Z).reshape(3, 18)
    assert float(pen.detach()) == pytest.approx(float(torch.einsum("pi,ij,pj->p", V, H, V).mean()), rel=1e-10)
    # the estimate is unbiased: many probes approach kappa
    many = fam_penalty(model, x, y, loss_fn=CE, n_probes=4000, generator=torch.Generator().manual_seed(8))
    exact = relative_flatness(model, (x, y), layer="2.weight", loss_fn=CE, method="exact").value
    assert float(many.detach()) == pytest.approx(exact, rel=0.05)


def test_penalty_under_vmap_over_parameter_sets():
    # What a federated simulator with flat per-learner parameters needs: one penalty per learner in
    # one vmapped call, probes drawn outside, gradients by ordinary autograd.
    model = _mlp([4, 5, 3], seed=4)
    x, y = _batch(10, 4, 3, seed=4)
    names = [n for n, _ in model.named_parameters()]
    sets = []
    for s in range(3):
        torch.manual_seed(40 + s)
        sets.append({n: torch.randn_like(p) * 0.5 for n, p in model.named_parameters()})
    stacked = {n: torch.stack([ps[n] for ps in sets]).requires_grad_(True) for n in names}
    Z = (torch.randint(0, 2, (3, 2, 5, 5), generator=torch.Generator().manual_seed(1)) * 2 - 1).double()
    batched = torch.func.vmap(lambda p, z: fam_penalty(model, x, y, loss_fn=CE, params=p, probes=z))(stacked, Z)
    one = torch.stack([fam_penalty(model, x, y, loss_fn=CE, params={n: stacked[n][i] for n in names}, probes=Z[i])
                       for i in range(3)])
    torch.testing.assert_close(batched, one, rtol=1e-10, atol=1e-12)
    gb = torch.autograd.grad(batched.sum(), [stacked[n] for n in names])
    go = torch.autograd.grad(one.sum(), [stacked[n] for n in names])
    for a, b in zip(gb, go):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    # and under torch.func.grad (a simulator's full-batch path differentiates its loss that way)
    fg = torch.func.grad(lambda p: fam_penalty(model, x, y, loss_fn=CE, params=p, probes=Z[0]))(
        {n: stacked[n][0].detach() for n in names})
    for n, b in zip(names, go):
        torch.testing.assert_close(fg[n], b[0], rtol=1e-9, atol=1e-12)


def test_a_gradient_step_on_the_penalty_lowers_it():
    model = _mlp([6, 8, 4], seed=5)
    x, y = _batch(30, 6, 4, seed=5)
    k0 = fam_penalty(model, x, y, loss_fn=CE, method="exact")
    k0.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1e-3 * p.grad
    k1 = fam_penalty(model, x, y, loss_fn=CE, method="exact")
    assert float(k1.detach()) < float(k0.detach())


def test_penalty_in_a_training_loop_with_dropout():
    model = _mlp([6, 8, 4], seed=6, dropout=0.2)
    model.train()
    x, y = _batch(30, 6, 4, seed=6)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        opt.zero_grad()
        loss = CE(model(x), y) + 0.1 * fam_penalty(model, x, y, loss_fn=CE, generator=gen)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
    assert last_linear_weight(model) == "3.weight"  # Linear, ReLU, Dropout, Linear


def test_bad_inputs():
    model = _mlp([4, 5, 3], seed=7)
    x, y = _batch(8, 4, 3, seed=7)
    with pytest.raises(ValueError, match=r"probes must have shape \(n_probes, 5, 5\)"):
        fam_penalty(model, x, y, loss_fn=CE, probes=torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match="method must be 'hutchinson' or 'exact'"):
        fam_penalty(model, x, y, loss_fn=CE, method="auto")
    with pytest.raises(ValueError, match="n_probes must be a positive integer"):
        fam_penalty(model, x, y, loss_fn=CE, n_probes=0)
    with pytest.raises(ValueError, match="same positive number of examples"):
        fam_penalty(model, x, y[:5], loss_fn=CE)
    with pytest.raises(ValueError, match="'0.bias' must be a 2-D weight matrix"):
        fam_penalty(model, x, y, loss_fn=CE, layer="0.bias")
    with pytest.raises(ValueError, match="no nn.Linear module"):
        fam_penalty(nn.Sequential(nn.Identity()), x, y, loss_fn=CE)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        fam_penalty(model, x, y, loss_fn=None)
    with pytest.raises(TypeError, match="x and y must be torch tensors"):
        fam_penalty(model, x.numpy(), y, loss_fn=CE)
    assert np.isfinite(float(fam_penalty(model, x, y, loss_fn=CE).detach()))
