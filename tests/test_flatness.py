"""radonml.flatness: relative flatness, Hessian trace and eigenvalues against closed forms,
torch.autograd references and transcriptions of the paper's formula; the reparametrization
invariance; the estimator's intervals; bad inputs."""

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from radonml import flatness  # noqa: E402
from radonml.exceptions import ConvergenceWarning  # noqa: E402
from radonml.flatness import (  # noqa: E402
    hessian,
    hessian_trace,
    layerwise_flatness,
    relative_flatness,
    top_hessian_eigenvalue,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _mlp(widths, seed=0):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def _cls_data(n, d_in, n_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=torch.float64), torch.randint(0, n_classes, (n,), generator=g)


def _autograd_hessian(model, X, y, name, loss_fn=CE):
    """The Hessian w.r.t. one parameter by torch.autograd.functional.hessian (the reference)."""
    params = dict(model.named_parameters())
    W = params[name].detach()

    def f(w):
        p = {k: v.detach() for k, v in params.items()}
        p[name] = w
        return loss_fn(torch.func.functional_call(model, p, (X,)), y)

    return torch.autograd.functional.hessian(f, W)  # (d, m, d, m)


def _kappa_from_paper(W, H4):
    """Petzka et al. (2021), Def. 3, transcribed: sum_{s,s'} <w_s, w_s'> Tr(H_{s,s'}), w_s the rows."""
    d = W.shape[0]
    total = 0.0
    for s in range(d):
        for t in range(d):
            total += float(W[s] @ W[t]) * float(torch.trace(H4[s, :, t, :]))
    return total


def _kappa_columns(W, H4):
    """The same formula with columns in place of rows (the choice the invariance test rules out)."""
    m = W.shape[1]
    total = 0.0
    for j in range(m):
        for k in range(m):
            total += float(W[:, j] @ W[:, k]) * float(torch.trace(H4[:, j, :, k]))
    return total


# ------------------------------------------------------------------------- closed forms --

def test_linear_model_squared_loss_closed_form():
    # f(x) = W x, L = (1/n) sum_i ||W x_i - y_i||^2: the Hessian w.r.t. W is block diagonal,
    # H_{s,s'} = delta_{ss'} (2/n) X^T X, so Tr(H_{s,s}) = (2/n) ||X||_F^2 and
    # kappa = sum_s ||w_s||^2 (2/n) ||X||_F^2 = (2/n) ||W||_F^2 ||X||_F^2; Tr H = d (2/n) ||X||_F^2.
    g = torch.Generator().manual_seed(3)
    n, m, d = 37, 5, 3
    X = torch.randn(n, m, generator=g, dtype=torch.float64)
    Y = torch.randn(n, d, generator=g, dtype=torch.float64)
    model = nn.Linear(m, d).double()  # the bias does not enter the Hessian w.r.t. W
    W = model.weight.detach()

    def sq(out, t):
        return ((out - t) ** 2).sum(1).mean()

    kappa = 2.0 / n * float((W ** 2).sum()) * float((X ** 2).sum())
    trace = d * 2.0 / n * float((X ** 2).sum())
    assert relative_flatness(model, (X, Y), layer="weight", loss_fn=sq, method="exact").value == pytest.approx(kappa, rel=1e-12)
    assert hessian_trace(model, (X, Y), loss_fn=sq, layer="weight", method="exact").value == pytest.approx(trace, rel=1e-12)
    # torch's mean squared error averages over the n*d outputs: the same divided by d
    mse = relative_flatness(model, (X, Y), layer="weight", loss_fn=nn.functional.mse_loss, method="exact")
    assert mse.value == pytest.approx(kappa / d, rel=1e-12)
    # the stochastic estimate covers it
    r = relative_flatness(model, (X, Y), layer="weight", loss_fn=sq, method="hutchinson", n_probes=200, seed=1)
    assert r.interval[0] <= kappa <= r.interval[1]
    assert r.interval[1] - r.interval[0] < 0.2 * kappa


def test_softmax_last_layer_closed_form():
    # For the last layer z = W phi + b with softmax cross-entropy, H = (1/n) sum_i (diag p_i - p_i p_i^T) (x) phi_i phi_i^T,
    # so Tr(H_{s,s'}) = (1/n) sum_i (delta_{ss'} p_is - p_is p_is') ||phi_i||^2 and
    # kappa = (1/n) sum_i ||phi_i||^2 (sum_s p_is ||w_s||^2 - ||sum_s p_is w_s||^2).
    model = _mlp([6, 9, 7, 4], seed=2)
    X, y = _cls_data(50, 6, 4, seed=2)
    with torch.no_grad():
        phi = model[:4](X)  # the penultimate layer's features
        p = torch.softmax(model(X), dim=1)
        W = model[4].weight
        spread = p @ (W ** 2).sum(1) - ((p @ W) ** 2).sum(1)
        kappa = float(((phi ** 2).sum(1) * spread).mean())
    assert relative_flatness(model, (X, y), layer="4.weight", loss_fn=CE, method="exact").value == pytest.approx(kappa, rel=1e-10)
    r = relative_flatness(model, (X, y), layer="4", loss_fn=CE, method="hutchinson", n_probes=100, seed=5)
    assert r.interval[0] <= kappa <= r.interval[1]


def test_exact_hessian_blocks_match_torch_autograd():
    model = _mlp([4, 5, 3], seed=1)
    X, y = _cls_data(23, 4, 3, seed=1)
    for name in ("0.weight", "2.weight", "2.bias"):
        H4 = _autograd_hessian(model, X, y, name)
        k = int(np.prod(H4.shape[: H4.ndim // 2]))
        ours = hessian(model, (X, y), loss_fn=CE, layer=name)
        assert ours.shape == (k, k)
        torch.testing.assert_close(ours, H4.reshape(k, k), rtol=1e-10, atol=1e-12)
    # several parameters: the cross blocks too, in the order given
    full = torch.autograd.functional.hessian(
        lambda a, b: CE(torch.func.functional_call(model, {**{n: p.detach() for n, p in model.named_parameters()},
                                                           "0.weight": a, "2.weight": b}, (X,)), y),
        (model[0].weight.detach(), model[2].weight.detach()))
    blocks = [[full[i][j].reshape(full[i][i].shape[0] * full[i][i].shape[1], -1) for j in range(2)] for i in range(2)]
    ref = torch.cat([torch.cat(row, 1) for row in blocks], 0)
    torch.testing.assert_close(hessian(model, (X, y), loss_fn=CE, layer=["0.weight", "2.weight"]), ref, rtol=1e-10, atol=1e-12)
    # relative flatness from the exact blocks equals the paper's double sum over the reference Hessian
    for name in ("0.weight", "2.weight"):
        H4 = _autograd_hessian(model, X, y, name)
        W = dict(model.named_parameters())[name].detach()
        got = relative_flatness(model, (X, y), layer=name, loss_fn=CE, method="exact", chunk_size=7)
        assert got.value == pytest.approx(_kappa_from_paper(W, H4), rel=1e-10)
        tr = hessian_trace(model, (X, y), loss_fn=CE, layer=name, method="exact")
        assert tr.value == pytest.approx(float(torch.einsum("abab->", H4)), rel=1e-10)


def test_dataloader_batches_are_weighted_by_size():
    # 53 examples in batches of 10 (the last has 3): the empirical loss is the mean over all 53,
    # so the result must equal the single-batch one; a per-batch mean of means would not.
    model = _mlp([5, 6, 3], seed=4)
    X, y = _cls_data(53, 5, 3, seed=4)
    full = relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="exact")
    loader = DataLoader(TensorDataset(X, y), batch_size=10, shuffle=False)
    assert relative_flatness(model, loader, layer="2.weight", loss_fn=CE, method="exact").value == pytest.approx(full.value, rel=1e-12)
    assert relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="exact", batch_size=7).value == pytest.approx(full.value, rel=1e-12)
    # unweighted averaging of batch values differs, so the test can tell
    per_batch = [relative_flatness(model, (xb, yb), layer="2.weight", loss_fn=CE, method="exact").value for xb, yb in loader]
    assert abs(np.mean(per_batch) - full.value) > 1e-6 * abs(full.value)
    # Hutchinson: same seed, same probes whatever the batching and chunking
    a = relative_flatness(model, loader, layer="2.weight", loss_fn=CE, method="hutchinson", n_probes=20, seed=9)
    b = relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="hutchinson", n_probes=20, seed=9, chunk_size=3)
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-10)
    ta = hessian_trace(model, loader, loss_fn=CE, n_probes=10, seed=2)
    tb = hessian_trace(model, (X, y), loss_fn=CE, n_probes=10, seed=2, chunk_size=4)
    np.testing.assert_allclose(ta.samples, tb.samples, rtol=1e-10)


# ------------------------------------------------------------------------ the estimator --

def test_hutchinson_interval_covers_exact_value_over_seeds():
    # 99% Student-t intervals from 100 probes, on 2 MLPs x all their layers x 20 seeds = 100 cases.
    # With a correct estimator the misses are ~Binomial(100, 0.01) (a little more: the probe values
    # are skewed, so the t interval is approximate; 200-seed runs missed 1-2%). Allowing 5 misses
    # fails a correct estimator with probability < 1% (P[Bin(100, 0.015) >= 6] ~ 0.4%); a bias of the
    # intervals' size (median half-width 4-13% of the value) misses in most cases. The seeds are fixed.
    misses, cases, widths = 0, 0, []
    for arch in ([6, 8, 8, 4], [10, 16, 5]):
        for s in range(20):
            model = _mlp(arch, seed=100 + s)
            X, y = _cls_data(64, arch[0], arch[-1], seed=100 + s)
            for name in [n for n, p in model.named_parameters() if p.ndim == 2]:
                exact = relative_flatness(model, (X, y), layer=name, loss_fn=CE, method="exact").value
                r = relative_flatness(model, (X, y), layer=name, loss_fn=CE, method="hutchinson", n_probes=100,
                                      seed=s, confidence=0.99)
                lo, hi = r.interval
                misses += not (lo <= exact <= hi)
                cases += 1
                widths.append((hi - lo) / 2 / abs(exact))
    assert cases == 100
    assert misses <= 5, f"{misses} of {cases} intervals missed the exact value"
    assert np.median(widths) < 0.2


def test_hessian_trace_and_eigenvalues_against_dense_hessian():
    model = _mlp([5, 7, 3], seed=6)
    X, y = _cls_data(40, 5, 3, seed=6)
    H = hessian(model, (X, y), loss_fn=CE).numpy()
    ev = np.linalg.eigvalsh(H)
    top = ev[np.argmax(np.abs(ev))]
    assert hessian_trace(model, (X, y), loss_fn=CE, method="exact").value == pytest.approx(np.trace(H), rel=1e-10)
    r = hessian_trace(model, (X, y), loss_fn=CE, n_probes=300, seed=0, confidence=0.99)
    assert r.interval[0] <= np.trace(H) <= r.interval[1]
    lz = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, method="lanczos", tol=1e-8, seed=0)
    assert lz.converged and lz.value == pytest.approx(top, rel=1e-6)
    pw = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, method="power", tol=1e-7, max_iter=2000, seed=0)
    assert pw.converged and pw.value == pytest.approx(top, rel=1e-3)
    # a layer's block
    Hl = hessian(model, (X, y), loss_fn=CE, layer="0.weight").numpy()
    evl = np.linalg.eigvalsh(Hl)
    got = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, layer="0.weight", tol=1e-8, seed=1)
    assert got.value == pytest.approx(evl[np.argmax(np.abs(evl))], rel=1e-6)
    # too few iterations: a warning and converged=False, never a hang
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        bad = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, method="power", tol=1e-12, max_iter=3, seed=0)
    assert not bad.converged and bad.n_hvp == 3


# -------------------------------------------------------------------------- invariance --

def test_relative_flatness_is_invariant_to_relu_rescaling_while_hessian_measures_are_not():
    model = _mlp([5, 8, 6, 3], seed=7)  # Linear 0, ReLU, Linear 2, ReLU, Linear 4
    X, y = _cls_data(48, 5, 3, seed=7)
    c = 3.0
    scaled = _mlp([5, 8, 6, 3], seed=7)
    with torch.no_grad():  # layer 2 times c (weight and bias), layer 4 times 1/c: the same function
        scaled[2].weight.mul_(c)
        scaled[2].bias.mul_(c)
        scaled[4].weight.div_(c)
    torch.testing.assert_close(scaled(X), model(X), rtol=1e-12, atol=1e-12)
    for name in ("2.weight", "4.weight"):
        a = relative_flatness(model, (X, y), layer=name, loss_fn=CE, method="exact").value
        b = relative_flatness(scaled, (X, y), layer=name, loss_fn=CE, method="exact").value
        assert b == pytest.approx(a, rel=1e-9)
    # the Hessian block of a layer scaled by c scales by 1/c^2 (and by c^2 for the one scaled by 1/c)
    t2 = [hessian_trace(m, (X, y), loss_fn=CE, layer="2.weight", method="exact").value for m in (model, scaled)]
    t4 = [hessian_trace(m, (X, y), loss_fn=CE, layer="4.weight", method="exact").value for m in (model, scaled)]
    assert t2[1] == pytest.approx(t2[0] / c ** 2, rel=1e-9)
    assert t4[1] == pytest.approx(t4[0] * c ** 2, rel=1e-9)
    tm = [hessian_trace(m, (X, y), loss_fn=CE, method="exact").value for m in (model, scaled)]
    assert abs(tm[1] - tm[0]) > 0.1 * abs(tm[0])
    e = [top_hessian_eigenvalue(m, (X, y), loss_fn=CE, tol=1e-8, seed=0).value for m in (model, scaled)]
    assert abs(e[1] - e[0]) > 0.1 * abs(e[0])


def test_neuronwise_rescaling_confirms_rows_are_the_neurons():
    # Neuron s of layer 2 times lam_s > 0 (row s of the weight and bias s), column s of layer 4 times
    # 1/lam_s: the same function. kappa with w_s the ROWS (weights into neuron s) is unchanged; the same
    # formula with columns changes, and so does the Hessian trace. This pins the row convention.
    model = _mlp([5, 8, 6, 3], seed=8)
    X, y = _cls_data(48, 5, 3, seed=8)
    lam = torch.tensor([0.5, 2.0, 3.0, 1.0, 0.25, 4.0], dtype=torch.float64)
    scaled = _mlp([5, 8, 6, 3], seed=8)
    with torch.no_grad():
        scaled[2].weight.mul_(lam[:, None])
        scaled[2].bias.mul_(lam)
        scaled[4].weight.div_(lam[None, :])
    torch.testing.assert_close(scaled(X), model(X), rtol=1e-12, atol=1e-12)
    k = [relative_flatness(m, (X, y), layer="2.weight", loss_fn=CE, method="exact").value for m in (model, scaled)]
    assert k[1] == pytest.approx(k[0], rel=1e-9)
    cols = [_kappa_columns(m[2].weight.detach(), _autograd_hessian(m, X, y, "2.weight")) for m in (model, scaled)]
    assert abs(cols[1] - cols[0]) > 0.05 * abs(cols[0])
    tr = [hessian_trace(m, (X, y), loss_fn=CE, layer="2.weight", method="exact").value for m in (model, scaled)]
    assert abs(tr[1] - tr[0]) > 0.05 * abs(tr[0])


# --------------------------------------------------------------- models torch.func can't --

class _SquareNoVmap(torch.autograd.Function):
    """x^2 with forward- and reverse-mode rules but no vmap rule: vmap fails, jvp works."""

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.x = x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g

    @staticmethod
    def jvp(ctx, t):
        return 2 * ctx.x * t


class _SquareOldStyle(torch.autograd.Function):
    """x^2 as an old-style autograd.Function: torch.func cannot transform it, autograd can."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class _SquareNet(nn.Module):
    def __init__(self, fn):
        super().__init__()
        torch.manual_seed(11)
        self.a = nn.Linear(4, 5).double()
        self.b = nn.Linear(5, 3).double()
        self.fn = fn

    def forward(self, x):
        return self.b(self.fn(self.a(x)))


@pytest.mark.parametrize("fn, mode", [(_SquareNoVmap.apply, "loop(jvp(grad))"), (_SquareOldStyle.apply, "autograd")])
def test_fallback_modes_give_the_same_values(fn, mode):
    ref_model = _SquareNet(lambda h: h * h)
    model = _SquareNet(fn)
    X, y = _cls_data(30, 4, 3, seed=12)
    ref = relative_flatness(ref_model, (X, y), layer="a.weight", loss_fn=CE, method="exact")
    assert ref.hvp_mode == "vmap(jvp(grad))" and ref.note == ""
    got = relative_flatness(model, (X, y), layer="a.weight", loss_fn=CE, method="exact")
    assert got.hvp_mode == mode and "failed" in got.note
    assert got.value == pytest.approx(ref.value, rel=1e-10)
    r1 = hessian_trace(ref_model, (X, y), loss_fn=CE, n_probes=8, seed=3)
    r2 = hessian_trace(model, (X, y), loss_fn=CE, n_probes=8, seed=3)
    np.testing.assert_allclose(r2.samples, r1.samples, rtol=1e-10)
    # the eigensolver's graph-reusing products (or their fallback) agree too, on tensors and on a DataLoader
    e1 = top_hessian_eigenvalue(ref_model, (X, y), loss_fn=CE, tol=1e-9, seed=0)
    e2 = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, tol=1e-9, seed=0)
    e3 = top_hessian_eigenvalue(model, DataLoader(TensorDataset(X, y), batch_size=7), loss_fn=CE, tol=1e-9, seed=0)
    assert e2.value == pytest.approx(e1.value, rel=1e-8) and e3.value == pytest.approx(e1.value, rel=1e-8)


# ------------------------------------------------- the forward quadratic form (fast path) --

def _dense_hessian_func(model, X, y, loss_fn):
    """The whole-model Hessian by torch.func.hessian of the loss of the flattened parameters (the
    reference: no Hessian-vector product and no radonml code involved)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    names, shapes = list(params), [params[k].shape for k in params]
    sizes = [int(np.prod(s)) for s in shapes]

    def f(flat):
        p = {n: t.reshape(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
        return loss_fn(torch.func.functional_call(model, p, (X,)), y)

    flat = torch.cat([params[k].reshape(-1) for k in names])
    return torch.func.hessian(f)(flat), names, shapes, sizes


class _Wrapped(nn.Module):
    """The same function, not an nn.Sequential: forces the Hessian-vector-product path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def _chains():
    torch.manual_seed(21)
    mse = lambda out, y: nn.functional.mse_loss(out, y)  # noqa: E731
    return [
        ("relu-inplace", nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)), (30, 4), CE),
        ("smooth", nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5, bias=False), nn.GELU(), nn.Linear(5, 4), nn.Sigmoid(),
                                 nn.Linear(4, 3)), (30, 4), CE),
        ("nested-flatten-dropout", nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(6, 5), nn.Softplus()), nn.Dropout(0.5),
                                                 nn.Linear(5, 4), nn.LeakyReLU(0.1), nn.Linear(4, 3)), (30, 2, 3), CE),
        ("tokens-mse", nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Linear(4, 2)), (12, 5, 3), mse),
    ]


@pytest.mark.parametrize("case", range(4))
def test_forward_quadratic_form_equals_exact_hessian(case):
    # Objective.quad (the Hutchinson path's v^T H v) against the dense Hessian of torch.func.hessian:
    # every probe's value to rounding, the basis vectors' values summing to the exact trace, a probe
    # on one parameter block only; and through the public API the same samples as the
    # Hessian-vector-product path, which the other tests check against torch.autograd.
    from radonml.flatness._hvp import QUAD_MODE, Objective

    label, model, xshape, loss_fn = _chains()[case]
    model = model.double().eval()
    g = torch.Generator().manual_seed(case)
    X = torch.randn(*xshape, generator=g, dtype=torch.float64)
    out_shape = model(X).shape
    y = torch.randint(0, 3, (xshape[0],), generator=g) if loss_fn is CE else torch.randn(*out_shape, generator=g, dtype=torch.float64)
    H, names, shapes, sizes = _dense_hessian_func(model, X, y, loss_fn)
    p = H.shape[0]
    obj = Objective(model, names, loss_fn)

    def as_probes(Z):  # (P, p) -> {name: (P, *shape)}
        return {n: t.reshape(Z.shape[0], *s) for n, t, s in zip(names, torch.split(Z, sizes, dim=1), shapes)}

    Z = torch.randint(0, 2, (9, p), generator=g).double() * 2 - 1
    got = obj.quad(X, y, as_probes(Z))
    assert obj.mode == QUAD_MODE, label
    np.testing.assert_allclose(got.numpy(), torch.einsum("pi,ij,pj->p", Z, H, Z).numpy(), rtol=1e-10, atol=1e-12)
    basis = obj.quad(X, y, as_probes(torch.eye(p, dtype=torch.float64)))
    assert float(basis.sum()) == pytest.approx(float(torch.trace(H)), rel=1e-10, abs=1e-12)
    # a probe on the second Linear's weight only (the first layers' tangents stay 0)
    second = [n for n in names if n.endswith("weight")][1]
    one = Objective(model, [second], loss_fn)
    k = names.index(second)
    lo = sum(sizes[:k])
    Zs = torch.randint(0, 2, (4, sizes[k]), generator=g).double() * 2 - 1
    Hs = H[lo:lo + sizes[k], lo:lo + sizes[k]]
    np.testing.assert_allclose(one.quad(X, y, {second: Zs.reshape(4, *shapes[k])}).numpy(),
                               torch.einsum("pi,ij,pj->p", Zs, Hs, Zs).numpy(), rtol=1e-10, atol=1e-12)
    # public API: the same probes give the same samples as the Hessian-vector-product path
    fast = hessian_trace(model, (X, y), loss_fn=loss_fn, n_probes=12, seed=4, batch_size=7, chunk_size=5)
    slow = hessian_trace(_Wrapped(model), (X, y), loss_fn=loss_fn, n_probes=12, seed=4, batch_size=7, chunk_size=5)
    # (torch.func cannot take forward-over-reverse through mse_loss: that model's products are autograd's)
    assert fast.hvp_mode == QUAD_MODE and slow.hvp_mode == ("autograd" if label == "tokens-mse" else "vmap(jvp(grad))")
    np.testing.assert_allclose(fast.samples, slow.samples, rtol=1e-10, atol=1e-12)
    whole = hessian_trace(model, (X, y), loss_fn=loss_fn, n_probes=12, seed=4)  # batch_size=None: one block here
    np.testing.assert_allclose(whole.samples, slow.samples, rtol=1e-10, atol=1e-12)
    kf = relative_flatness(model, (X, y), layer=second, loss_fn=loss_fn, method="hutchinson", n_probes=6, seed=2)
    ks = relative_flatness(_Wrapped(model), (X, y), layer="inner." + second, loss_fn=loss_fn, method="hutchinson", n_probes=6, seed=2)
    np.testing.assert_allclose(kf.samples, ks.samples, rtol=1e-10, atol=1e-12)


def test_forward_quadratic_form_interval_covers_exact_trace_and_falls_back_where_it_does_not_apply():
    torch.manual_seed(22)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double().eval()
    X, y = _cls_data(50, 5, 3, seed=22)
    H, *_ = _dense_hessian_func(model, X, y, CE)
    r = hessian_trace(model, (X, y), loss_fn=CE, n_probes=400, seed=0, confidence=0.99)
    assert r.hvp_mode == "forward quadratic form (Linear chain)"
    assert r.interval[0] <= float(torch.trace(H)) <= r.interval[1]
    # models outside the chain: a parameter in an activation, a Sequential with its own forward, a hook
    prelu = nn.Sequential(nn.Linear(5, 6), nn.PReLU(), nn.Linear(6, 3)).double()

    class Own(nn.Sequential):
        def forward(self, x):
            return super().forward(x) * 2

    own = Own(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    hooked = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    hooked[1].register_forward_hook(lambda m, i, o: o * 3)
    for m in (prelu, own, hooked):
        a = hessian_trace(m, (X, y), loss_fn=CE, n_probes=6, seed=1)
        b = hessian_trace(_Wrapped(m), (X, y), loss_fn=CE, n_probes=6, seed=1)
        assert a.hvp_mode == "vmap(jvp(grad))"
        np.testing.assert_allclose(a.samples, b.samples, rtol=1e-10)
        assert hessian_trace(m, (X, y), loss_fn=CE, method="exact").value == pytest.approx(
            float(torch.trace(_dense_hessian_func(m, X, y, CE)[0])), rel=1e-10)
    # a loss torch.func cannot transform: its term is taken by torch.autograd, the values stay right
    class _NoFunc(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    sq = lambda out, t: _NoFunc.apply(out - nn.functional.one_hot(t, 3).double()).mean()  # noqa: E731
    ref = lambda out, t: ((out - nn.functional.one_hot(t, 3).double()) ** 2).mean()  # noqa: E731
    a = hessian_trace(model, (X, y), loss_fn=sq, n_probes=6, seed=1)
    b = hessian_trace(model, (X, y), loss_fn=ref, n_probes=6, seed=1)
    assert a.hvp_mode == b.hvp_mode == "forward quadratic form (Linear chain)"
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-10)


# ------------------------------------------------------------------------- the table --

def test_layerwise_flatness_table_matches_single_calls():
    model = _mlp([6, 7, 5, 3], seed=13)
    X, y = _cls_data(40, 6, 3, seed=13)
    res = layerwise_flatness(model, (X, y), loss_fn=CE, tol=1e-8, seed=0)
    assert res.layers == ["0.weight", "2.weight", "4.weight"]
    assert res.shapes == [(7, 6), (5, 7), (3, 5)]
    for i, name in enumerate(res.layers):
        assert res.relative_flatness[i].value == pytest.approx(
            relative_flatness(model, (X, y), layer=name, loss_fn=CE, method="exact").value, rel=1e-10)
        assert res.hessian_trace[i].value == pytest.approx(
            hessian_trace(model, (X, y), loss_fn=CE, layer=name, method="exact").value, rel=1e-10)
        Hl = hessian(model, (X, y), loss_fn=CE, layer=name).numpy()
        ev = np.linalg.eigvalsh(Hl)
        assert res.top_eigenvalue[i].value == pytest.approx(ev[np.argmax(np.abs(ev))], rel=1e-6)
    H = hessian(model, (X, y), loss_fn=CE).numpy()
    assert res.model_trace.value == pytest.approx(np.trace(H), rel=1e-10)
    text = res.table()
    assert text.splitlines()[0].split()[:2] == ["layer", "shape"] and "whole model" in text and "7x6" in text
    json.dumps(res.to_dict())
    assert set(res.values) == {"relative_flatness", "hessian_trace", "top_eigenvalue"}
    # the stochastic table: every entry has an interval, and the same seed reproduces it
    st = layerwise_flatness(model, (X, y), loss_fn=CE, method="hutchinson", n_probes=20, eigenvalues=False, seed=4)
    st2 = layerwise_flatness(model, (X, y), loss_fn=CE, method="hutchinson", n_probes=20, eigenvalues=False, seed=4)
    assert all(r.interval is not None for r in st.relative_flatness + st.hessian_trace)
    np.testing.assert_array_equal(st.values["relative_flatness"], st2.values["relative_flatness"])
    assert "±" in st.table()


def test_result_objects_read_well_and_serialize():
    model = _mlp([3, 4, 2], seed=14)
    X, y = _cls_data(10, 3, 2, seed=14)
    r = relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="hutchinson", n_probes=5, seed=3)
    text = repr(r)
    assert text.startswith("FlatnessResult('relative_flatness', value=") and "95% interval" in text and "seed 3" in text
    d = r.to_dict()
    json.dumps(d)
    assert d["seed"] == 3 and len(d["samples"]) == 5 and d["measure"] == "relative_flatness"
    again = relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="hutchinson", n_probes=5, seed=r.seed)
    assert again.value == r.value
    one = relative_flatness(model, (X, y), layer="2.weight", loss_fn=CE, method="hutchinson", n_probes=1, seed=3)
    assert one.interval is None and one.std_error is None and one.value == r.samples[0]
    assert "one probe: no interval" in repr(one)
    e = top_hessian_eigenvalue(model, (X, y), loss_fn=CE, seed=0)
    assert "EigenvalueResult(value=" in repr(e) and "converged" in repr(e)
    json.dumps(e.to_dict())
    # measuring does not change the model or its mode
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    relative_flatness(model, (X, y), layer="0.weight", loss_fn=CE)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


# --------------------------------------------------------------------------- bad inputs --

def test_bad_inputs_give_clear_errors():
    model = _mlp([3, 4, 2], seed=15)
    X, y = _cls_data(10, 3, 2, seed=15)
    with pytest.raises(ValueError, match=r"layer '5.weight' is not a parameter of the model; its 2-D weights are \['0.weight', '2.weight'\]"):
        relative_flatness(model, (X, y), layer="5.weight", loss_fn=CE)
    with pytest.raises(ValueError, match=r"'0.bias' must be a 2-D weight matrix .* shape \(4,\)"):
        relative_flatness(model, (X, y), layer="0.bias", loss_fn=CE)
    conv = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4, 2))
    with pytest.raises(ValueError, match=r"'0.weight' must be a 2-D weight matrix .* shape \(2, 1, 3\)"):
        relative_flatness(conv, (torch.randn(5, 1, 6), torch.zeros(5, dtype=torch.long)), layer="0", loss_fn=CE)
    with pytest.raises(TypeError, match="layer must be a parameter name"):
        relative_flatness(model, (X, y), layer=0, loss_fn=CE)
    with pytest.raises(ValueError, match="data must not be empty, got 0 examples"):
        relative_flatness(model, (X[:0], y[:0]), layer="0.weight", loss_fn=CE)
    with pytest.raises(ValueError, match="data yielded no examples"):
        relative_flatness(model, DataLoader(TensorDataset(X[:0], y[:0]), batch_size=4), layer="0.weight", loss_fn=CE)
    with pytest.raises(ValueError, match="10 rows and 9 targets"):
        relative_flatness(model, (X, y[:9]), layer="0.weight", loss_fn=CE)
    with pytest.raises(TypeError, match="data must be a pair"):
        relative_flatness(model, 3.0, layer="0.weight", loss_fn=CE)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        relative_flatness(model, (X, y), layer="0.weight", loss_fn="ce")
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        relative_flatness(model, (X, y), layer="0.weight", loss_fn=lambda o, t: CE(o, t, reduction="none"))
    with pytest.raises(ValueError, match="method must be one of"):
        relative_flatness(model, (X, y), layer="0.weight", loss_fn=CE, method="pyhessian")
    with pytest.raises(ValueError, match="n_probes must be >= 1"):
        relative_flatness(model, (X, y), layer="0.weight", loss_fn=CE, method="hutchinson", n_probes=0)
    with pytest.raises(ValueError, match=r"confidence must lie in \[0.0, 1.0\)"):
        relative_flatness(model, (X, y), layer="0.weight", loss_fn=CE, method="hutchinson", confidence=1.0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        relative_flatness(lambda x: x, (X, y), layer="0.weight", loss_fn=CE)
    with pytest.raises(ValueError, match="is not finite"):
        relative_flatness(model, (X * float("nan"), y), layer="0.weight", loss_fn=CE)
    with pytest.raises(TypeError, match="must be re-iterable"):
        top_hessian_eigenvalue(model, iter([(X, y)]), loss_fn=CE)
    with pytest.raises(ValueError, match="more than max_size=10 allows"):
        hessian(model, (X, y), loss_fn=CE, max_size=10)
    with pytest.raises(ValueError, match="tol must be a positive number"):
        top_hessian_eigenvalue(model, (X, y), loss_fn=CE, tol=0)
    with pytest.raises(ValueError, match="lists a parameter twice"):
        hessian_trace(model, (X, y), loss_fn=CE, layer=["0.weight", "0"])
    with pytest.raises(ValueError, match=r"batch 0 must hold x and y"):
        relative_flatness(model, [(X, y[:3])], layer="0.weight", loss_fn=CE)
    # a one-shot iterator is fine for one pass
    assert relative_flatness(model, iter([(X, y)]), layer="0.weight", loss_fn=CE).value == pytest.approx(
        relative_flatness(model, (X, y), layer="0.weight", loss_fn=CE).value)


def test_docstring_examples():
    import doctest

    from radonml.flatness import fam as fam_module
    from radonml.flatness import measures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mod in (measures, fam_module, flatness):
            assert doctest.testmod(mod).failed == 0


def test_a_bare_X_is_refused_with_a_message_that_says_to_pass_X_and_y():
    from radonml.flatness import relative_flatness

    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    X = torch.randn(10, 3)
    with pytest.raises(TypeError, match=r"data must be a pair \(X, y\).*got a single.*pass \(X, y\)"):
        relative_flatness(model, X, layer="0.weight", loss_fn=torch.nn.functional.cross_entropy)
