"""radonml.lmc.loading: checkpoints, data and evaluators for your own models (safe by default)."""

import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.lmc import loading  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_load_checkpoint_wrappers_and_refusals(tmp_path):
    m = nn.Linear(3, 2)
    torch.save({"model_state_dict": m.state_dict(), "optimizer": {"lr": 0.1}}, tmp_path / "w.pt")
    state = lmc.load_checkpoint(tmp_path / "w.pt")
    assert torch.equal(state["weight"], m.weight)
    torch.save(m, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="weights_only=True refuses.*unpickling runs code from the file"):
        lmc.load_checkpoint(tmp_path / "m.pt")
    assert isinstance(lmc.load_checkpoint(tmp_path / "m.pt", allow_pickle=True), nn.Linear)
    torch.save({"epoch": 3, "notes": "x"}, tmp_path / "n.pt")
    with pytest.raises(ValueError, match="neither a state dict"):
        lmc.load_checkpoint(tmp_path / "n.pt")
    (tmp_path / "t.txt").write_text("not torch")
    with pytest.raises(ValueError, match="not a file torch.load can read"):
        lmc.load_checkpoint(tmp_path / "t.txt")


def test_load_pair_strips_a_wrapper_prefix_and_checks_architectures():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    wrapped = {f"module.{k}": v for k, v in b.state_dict().items()}  # DataParallel's prefix
    pair = lmc.load_pair(nn.Linear(3, 2), a.state_dict(), wrapped)
    assert torch.equal(pair.model_b.weight, b.weight) and not pair.model_b.training
    with pytest.raises(ValueError, match="different architectures"):
        lmc.load_pair(None, a, nn.Linear(3, 4))
    with pytest.raises(ValueError, match="both runs"):
        lmc.load_pair(None, a, b, trajectory_a=[a])
    with pytest.raises(TypeError, match="factory must return a torch.nn.Module"):
        lmc.load_pair(lambda: 3, a.state_dict(), b.state_dict())
    pair = lmc.load_pair(None, a, b, trajectory_a=[a, b], trajectory_b=[b])
    assert len(pair.checkpoints["a"]) == 2 and torch.equal(pair.checkpoints["b"][0]["bias"], b.bias)


def test_load_data_sources(tmp_path):
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 1, 0])
    np.savez(tmp_path / "two.npz", features=X, labels=y)
    Xt, yt = lmc.load_data(tmp_path / "two.npz")
    assert Xt.dtype == torch.float32 and yt.tolist() == y.tolist()
    np.savez(tmp_path / "three.npz", a=X, b=y, c=y)
    with pytest.raises(ValueError, match="name them X and y"):
        lmc.load_data(tmp_path / "three.npz")
    torch.save(torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), tmp_path / "ds.pt")
    with pytest.raises(ValueError, match="save \\(X, y\\) tensors instead"):
        lmc.load_data(tmp_path / "ds.pt")
    loader = lmc.load_data(tmp_path / "ds.pt", allow_pickle=True)
    assert sum(len(b[1]) for b in loader) == 6
    assert lmc.load_data(lambda: (X, y))[1].tolist() == y.tolist()
    with pytest.raises(ValueError, match="neither an existing file"):
        lmc.load_data("nowhere.npz")
    with pytest.raises(ValueError, match="expected a .npz or .pt"):
        (tmp_path / "d.csv").write_text("1,2")
        lmc.load_data(str(tmp_path / "d.csv"))


def test_regression_evaluator_batched_equals_one_by_one_and_numpy():
    torch.manual_seed(0)
    a, b = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), nn.Sequential(nn.Linear(4, 8), nn.Tanh(),
                                                                                      nn.Linear(8, 2))
    X, Y = torch.randn(50, 4), torch.randn(50, 2)
    alphas = np.linspace(0, 1, 5)
    for loss in ("mse", "l1"):
        ev = lmc.regression_evaluator((X, Y), loss=loss, batch_size=16)
        batched = lmc.evaluate_path(a, b, ev, alphas=alphas)
        assert batched.method == "vmap"
        loop = lmc.evaluate_path(a, b, lambda m: ev(m), alphas=alphas)  # a plain function: one pass per point
        np.testing.assert_allclose(batched.loss, loop.loss, rtol=1e-6)
        sa, sb = a.state_dict(), b.state_dict()
        for al, got in zip(alphas, batched.loss):
            W = {k: ((1 - al) * sa[k] + al * sb[k]).double().numpy() for k in sa}
            h = np.tanh(X.double().numpy() @ W["0.weight"].T + W["0.bias"])
            out = h @ W["2.weight"].T + W["2.bias"]
            err = out - Y.double().numpy()
            want = np.mean(err ** 2) if loss == "mse" else np.mean(np.abs(err))
            assert got == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="loss must be 'mse', 'l1' or a callable"):
        lmc.regression_evaluator((X, Y), loss="huber")
    with pytest.raises(ValueError, match="loss must be one of"):
        lmc.make_evaluator((X, Y), loss="hinge")


def test_import_object(tmp_path):
    (tmp_path / "m.py").write_text("class K:\n    @staticmethod\n    def make():\n        return 7\n")
    assert loading.import_object(f"{tmp_path / 'm.py'}:K.make")() == 7
    with pytest.raises(ValueError, match="must look like"):
        loading.import_object("nocolon")
    with pytest.raises(ValueError, match="cannot import module"):
        loading.import_object("no_such_module_xyz:f")


def test_docstring_examples():
    assert doctest.testmod(loading).failed == 0


def test_check_data_fits_reads_a_loader_and_leaves_batchnorm_alone():
    from radonml.lmc.loading import check_data_fits

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = torch.randn(40, 5), torch.arange(40) % 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
    check_data_fits(model, lmc.make_evaluator(loader))  # fits: no error
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match=r"^data: X in batches of shape \(16, 6\) does not fit the model: its first "
                                         r"layer '0' \(Linear\) expects 5 input features"):
        check_data_fits(model, lmc.make_evaluator(torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.randn(40, 6), y), batch_size=16)))
    # regression targets of another shape than the output (not class labels): named, with both shapes
    with pytest.raises(ValueError, match=r"^loss='mse': the targets do not match the model's output, one target per "
                                         r"output entry \(y of shape \(8, 2\), output of shape \(8, 3\)\)"):
        check_data_fits(model, lmc.make_evaluator((X, torch.randn(40, 2)), loss="mse"))
    # an evaluator without its data is not checked
    check_data_fits(model, lambda m: {"loss": 0.0})
