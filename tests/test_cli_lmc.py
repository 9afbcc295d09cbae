"""`radonml lmc` end to end: tiny trained configurations, your own checkpoints (a factory
module, state dicts, whole pickled modules, data files and functions, a regression loss),
each checked against an independent evaluation of the same models."""

import copy
import json
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmc_reference as ref  # noqa: E402
from radonml import lmc  # noqa: E402
from radonml.cli import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--epochs", "2", "--hidden", "16,16", "--alphas", "3", "--n-draws", "2", "--quiet"]


def test_lmc_mnist1d_mlp_end_to_end(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path / "run"
    rc = main(["lmc", "--dataset", "mnist1d", "--n-samples", "400", "--lr", "0.05", *TINY, "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "full-model barrier" in text and "loss into A" in text and "layers averaged from the input" in text
    assert "findings of Adilova et al." in text and "1. single-layer barriers" in text
    for name in ("lmc.json", "path.png", "layerwise.png", "cumulative.png", "robustness.png", "subspace.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "lmc.json").read_text())
    assert set(data) >= {"config", "full_path", "layerwise", "cumulative", "robustness", "subspace", "timings_s",
                         "findings", "per_layer"}
    assert [f["key"] for f in data["findings"]["findings"]] == ["single_layer", "middle_layers",
                                                                  "averaging_direction", "subspaces"]
    assert [r["layer"] for r in data["per_layer"]] == ["0", "2", "4"]
    assert set(data["timings_s"]["robustness"]) == {"wall", "cpu"}
    lw = data["layerwise"]
    assert lw["layers"] == ["0", "2", "4"] and lw["bases"] == ["a", "b"]
    assert np.array(lw["barriers"]["loss"]["mean"]).shape == (3, 2)
    # the JSON's numbers are consistent with each other: the mean barrier of the full path
    fp = data["full_path"]
    la, lb = lw["endpoints"]["loss"]
    assert lw["full_barriers"]["loss"]["mean"] == pytest.approx(max(fp["metrics"]["loss"]) - (la + lb) / 2, rel=1e-9)
    assert np.array(data["cumulative"]["barriers"]["loss"]["mean"]).shape == (2, 2, 3)
    # same init: the first checkpoints are identical, the subspace comes from both runs
    assert data["subspace"]["subspace_dim"] >= 2


def test_lmc_digits_cnn_different_init(tmp_path):
    out = tmp_path / "cnn"
    rc = main(["lmc", "--dataset", "digits", "--model", "cnn", "--different-init", "--no-plot", *TINY,
               "--per-layer-subspace", "--save-checkpoints", "--out", str(out)])
    assert rc == 0
    import torch

    saved = torch.load(out / "checkpoints.pt")
    assert len(saved["checkpoints"]["a"]) == 3  # initialization and two epochs
    # different initializations: the runs' first checkpoints differ
    first = [saved["checkpoints"][r][0] for r in "ab"]
    assert not all(torch.equal(first[0][k], first[1][k]) for k in first[0])
    data = json.loads((out / "lmc.json").read_text())
    assert data["config"]["model"] == "cnn" and data["config"]["different_init"] is True
    assert len(data["layerwise"]["layers"]) == 4  # two conv layers, two linear layers
    assert data["subspace"]["layers"] == data["layerwise"]["layers"]
    assert not (out / "path.png").exists()


@pytest.mark.parametrize("args, match", [
    (["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
    (["--alphas", "1"], "--alphas: expected an integer >= 2, got 1"),
    (["--lr", "-1"], "--lr: expected a positive number, got -1.0"),
    (["--lr", "nan"], "--lr: expected a positive number (finite), got 'nan'"),
    (["--momentum", "-0.5"], "--momentum: expected a non-negative number, got -0.5"),
    (["--n-samples", "10"], "--n-samples: expected an integer >= 20, got 10"),
    (["--hidden", "16,0"], "--hidden: expected a positive integer, got 0"),
    (["--seed", "-1"], "--seed: expected a non-negative integer, got -1"),
    (["--n-jobs", "x"], "--n-jobs: expected a positive integer or -1 (all cores), got 'x'"),
])
def test_lmc_bad_arguments(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as exc:
        main(["lmc", "--quiet", "--out", str(tmp_path / "x"), *args])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ your own checkpoints --

FACTORY = textwrap.dedent('''
    import torch
    from torch import nn


    def make_model():
        return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))


    def make_regressor():
        return nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 1))


    def test_loader():
        g = torch.Generator().manual_seed(0)
        X = torch.randn(300, 10, generator=g)
        y = torch.randint(0, 4, (300,), generator=g)
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64)
''')


def _nudged(model, seed, scale=0.05):
    g = torch.Generator().manual_seed(seed)
    state = {k: v + scale * torch.randn(v.shape, generator=g) for k, v in model.state_dict().items()}
    return state


@pytest.fixture
def mine(tmp_path):
    """A factory module, two checkpoints (the lmc_reference models), their runs and the data."""
    (tmp_path / "mynet.py").write_text(FACTORY)
    a, b = ref.models()  # the architecture of make_model
    X, y = ref.data()  # the data of test_loader
    init = ref.mlp(7).state_dict()
    files = {"init": init, "a1": _nudged(a, 1), "b1": _nudged(b, 2), "A": a.state_dict(), "B": b.state_dict()}
    for name, state in files.items():
        torch.save(state, tmp_path / f"{name}.pt")
    np.savez(tmp_path / "data.npz", X=X.numpy(), y=y.numpy())
    return {"dir": tmp_path, "a": a, "b": b, "X": X, "y": y, "states": files}


def _run(tmp_path, *args):
    out = tmp_path / "out"
    rc = main(["lmc", "--alphas", "5", "--n-draws", "2", "--quiet", "--no-plot", "--out", str(out), *args])
    return rc, (json.loads((out / "lmc.json").read_text()) if rc == 0 else None)


def test_your_checkpoints_state_dicts_npz_and_a_factory_file(mine, capsys):
    d = mine["dir"]
    traj = {r: ",".join(str(d / f"{n}.pt") for n in ("init", f"{r.lower()}1", r)) for r in "AB"}
    rc, data = _run(d, "--model", f"{d / 'mynet.py'}:make_model", "--checkpoint-a", str(d / "A.pt"),
                    "--checkpoint-b", str(d / "B.pt"), "--trajectory-a", traj["A"], "--trajectory-b", traj["B"],
                    "--data", str(d / "data.npz"))
    assert rc == 0
    text = capsys.readouterr().out
    assert "your checkpoints" in text and "findings of Adilova et al." in text
    # the same numbers as an independent evaluation: deep copy, load_state_dict, forward
    a, b, X, y = mine["a"], mine["b"], mine["X"], mine["y"]
    alphas = np.array(data["full_path"]["alphas"])
    want = ref.reference_path(a, b, alphas, X, y)
    np.testing.assert_allclose(data["full_path"]["metrics"]["loss"], want[:, 0], rtol=1e-5)
    np.testing.assert_allclose(data["full_path"]["metrics"]["accuracy"], want[:, 1], rtol=1e-6)
    lw = data["layerwise"]
    la, lb = want[0, 0], want[-1, 0]
    for i, layer in enumerate(lw["layers"]):
        for j, base in enumerate("ab"):
            path = ref.reference_path(a, b, alphas, X, y, layers=[layer], base=base)[:, 0]
            expected = np.max(path - ((1 - alphas) * la + alphas * lb))
            assert lw["barriers"]["loss"]["linear"][i][j] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # the training subspace: the span of both runs' differences from the first checkpoint
    flat = [torch.cat([s[k].reshape(-1) for k in s]).double().numpy() for s in
            (mine["states"][n] for n in ("init", "a1", "A", "init", "b1", "B"))]
    rank = np.linalg.matrix_rank(np.array(flat[1:]) - flat[0])
    assert data["subspace"]["subspace_dim"] == rank == 4
    assert data["scores"]["a"]["loss"] == pytest.approx(la, rel=1e-6)
    # the Python API does the same
    pair = lmc.load_pair(f"{d / 'mynet.py'}:make_model", d / "A.pt", d / "B.pt",
                         trajectory_a=traj["A"].split(","), trajectory_b=traj["B"].split(","))
    api = lmc.analyze_pair(pair.model_a, pair.model_b, lmc.make_evaluator(lmc.load_data(d / "data.npz")),
                           checkpoints=pair.checkpoints, alphas=5, n_draws=2, rng=0)
    assert api.layerwise.barriers["loss"]["linear"].tolist() == lw["barriers"]["loss"]["linear"]
    assert api.subspace.mean["loss"].tolist() == data["subspace"]["mean"]["loss"]


def test_your_checkpoints_wrapped_state_dicts_a_package_and_a_dataloader_function(mine, monkeypatch):
    d = mine["dir"]
    monkeypatch.syspath_prepend(str(d))
    monkeypatch.delitem(sys.modules, "mynet", raising=False)
    for name in "AB":  # a training script's wrapper: {"state_dict": {"model.<key>": ...}, "epoch": ...}
        torch.save({"state_dict": {f"model.{k}": v for k, v in mine["states"][name].items()}, "epoch": 3},
                   d / f"{name}_wrapped.pt")
    out = d / "out"
    rc = main(["lmc", "--model", "mynet:make_model", "--checkpoint-a", str(d / "A_wrapped.pt"), "--checkpoint-b",
               str(d / "B_wrapped.pt"), "--data", "mynet:test_loader", "--alphas", "3", "--n-draws", "2", "--quiet",
               "--resolution", "1e-3", "--out", str(out)])
    assert rc == 0
    data = json.loads((out / "lmc.json").read_text())
    want = ref.reference_path(mine["a"], mine["b"], np.array([0.0, 0.5, 1.0]), mine["X"], mine["y"])
    np.testing.assert_allclose(data["full_path"]["metrics"]["loss"], want[:, 0], rtol=1e-5)
    assert data["subspace"] is None  # no trajectories: skipped
    assert data["layerwise"]["search"]["resolution"] == 1e-3  # barriers found, not sampled
    for name in ("path.png", "layerwise.png", "cumulative.png", "robustness.png"):
        assert (out / name).stat().st_size > 0
    assert not (out / "subspace.png").exists()


def test_whole_pickled_modules_only_with_allow_pickle(mine, capsys):
    d = mine["dir"]
    torch.save(mine["a"], d / "A_module.pt")
    torch.save(mine["b"], d / "B_module.pt")
    args = ["--checkpoint-a", str(d / "A_module.pt"), "--checkpoint-b", str(d / "B_module.pt"),
            "--data", str(d / "data.npz")]
    rc, _ = _run(d, *args)
    assert rc == 2
    err = capsys.readouterr().err
    assert "weights_only=True refuses" in err and "unpickling runs code from the file" in err
    assert "--allow-pickle" in err
    rc, data = _run(d, *args, "--allow-pickle")
    assert rc == 0
    want = ref.reference_path(mine["a"], mine["b"], np.linspace(0, 1, 5), mine["X"], mine["y"])
    np.testing.assert_allclose(data["full_path"]["metrics"]["loss"], want[:, 0], rtol=1e-5)


def test_help_says_that_unpickling_runs_code(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lmc", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "UNPICKLING RUNS CODE FROM THE FILE" in text
    assert "--checkpoint-a FILE" in text and "(default: 16x128)" in text


def test_your_regression_models_with_mse(mine, capsys):
    d = mine["dir"]
    sys.path.insert(0, str(d))
    try:
        import importlib

        mynet = importlib.import_module("mynet")
        torch.manual_seed(3)
        a, b = mynet.make_regressor(), mynet.make_regressor()
    finally:
        sys.path.remove(str(d))
        sys.modules.pop("mynet", None)
    X = mine["X"]
    y = torch.sin(X[:, 0]) + 0.1 * X[:, 1]
    torch.save(a.state_dict(), d / "ra.pt")
    torch.save(b.state_dict(), d / "rb.pt")
    torch.save({"X": X, "y": y}, d / "reg.pt")
    rc, data = _run(d, "--model", f"{d / 'mynet.py'}:make_regressor", "--checkpoint-a", str(d / "ra.pt"),
                    "--checkpoint-b", str(d / "rb.pt"), "--data", str(d / "reg.pt"), "--loss", "mse")
    assert rc == 0
    # independently: interpolate the state dicts, forward, mean squared error in float64
    sa, sb = a.state_dict(), b.state_dict()
    for alpha, got in zip(data["full_path"]["alphas"], data["full_path"]["metrics"]["loss"]):
        m = copy.deepcopy(a)
        m.load_state_dict({k: (1 - alpha) * sa[k] + alpha * sb[k] for k in sa})
        with torch.no_grad():
            mse = float(((m(X).double().squeeze(1) - y.double()) ** 2).mean())
        assert got == pytest.approx(mse, rel=1e-5)
    assert set(data["layerwise"]["barriers"]) == {"loss"}  # no accuracy for regression
    assert "error into A" not in " ".join(data["per_layer"][0])
    # two layers have no middle: finding 2 is not applicable (it said "holds" for every 2-layer network)
    f2 = data["findings"]["findings"][1]
    assert f2["key"] == "middle_layers" and f2["holds"] is None and f2["verdict"] == "not applicable"
    assert "2. the layers that create the barrier sit in the middle (cumulative barriers): not applicable. a network " \
           "of 2 layers has no middle" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--checkpoint-a", "A.pt"], "--checkpoint-a and --checkpoint-b go together"),
    (["--data", "data.npz"], "--data evaluates your checkpoints"),
    (["--loss", "mse"], "--loss mse is for your own regression models"),
    (["--checkpoint-a", "nope.pt", "--checkpoint-b", "B.pt", "--model", "mynet.py:make_model"], "does not exist"),
    (["--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt"], "is a state dict: give the architecture"),
    (["--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt", "--model", "mynet.py:make_regressor"], "does not fit"),
    (["--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt", "--model", "mynet.py:nothing"], "has no attribute"),
    (["--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt", "--model", "mynet.py:make_model", "--data", "obj.npz"],
     "object arrays"),
])
def test_your_checkpoints_bad_inputs(mine, capsys, monkeypatch, args, match):
    d = mine["dir"]
    monkeypatch.chdir(d)
    np.savez(d / "obj.npz", X=np.array([{"x": 1}], dtype=object), y=np.zeros(1))
    rc, _ = _run(d, *args)
    assert rc == 2
    assert match in capsys.readouterr().err


def test_bad_model_spec(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["lmc", "--model", "resnet", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--model: expected mlp, cnn or package.module:factory" in capsys.readouterr().err


def test_align_weight_wiring(tmp_path):
    out = tmp_path / "al"
    rc = main(["lmc", "--different-init", "--align", "weight", *TINY, "--no-plot", "--out", str(out)])
    assert rc == 0
    data = json.loads((out / "lmc.json").read_text())
    assert data["alignment"] is not None
    # the permuted B computes the same function: its loss is B's (the test accuracy was measured on the raw B)
    assert data["layerwise"]["endpoints"]["loss"][1] == pytest.approx(data["full_path"]["metrics"]["loss"][-1])


# ------------------------------------------------------------------ the default run --

@pytest.mark.slow
def test_default_run_reproduces_the_papers_three_findings(tmp_path, capsys):
    """`radonml lmc` with no options (seed 0; a 16 x 128 MLP on digits, lr 0.02, 30 epochs):
    the paper's first three findings hold, and the numbers they rest on agree with an
    independent evaluation of the saved models (deep copy, load_state_dict, forward).

    The regime was chosen by the sweep in benchmarks/lmc.md (section 7): there the three
    findings hold for seeds 0-3, the first four tried; not for every seed beyond them.
    """
    from radonml.datasets import load_digits
    from radonml.torch import make_mlp

    out = tmp_path / "default"
    assert main(["lmc", "--quiet", "--no-plot", "--save-checkpoints", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for line in ("1. single-layer barriers are small next to the full-model barrier: holds.",
                 "2. the layers that create the barrier sit in the middle (cumulative barriers): holds.",
                 "3. the averaging direction hurts far more than random directions of the same norm: holds."):
        assert line in text
    data = json.loads((out / "lmc.json").read_text())
    f = {x["key"]: x for x in data["findings"]["findings"]}
    assert f["single_layer"]["holds"] and f["middle_layers"]["holds"] and f["averaging_direction"]["holds"]

    # the models, rebuilt from the saved state dicts, and the training split the paths ran on
    saved = torch.load(out / "checkpoints.pt", weights_only=True)
    models = []
    for k in ("model_a", "model_b"):
        m = make_mlp(64, [128] * 16, 10, init="kaiming_normal", seed=0)
        m.load_state_dict(saved[k])
        models.append(m.eval())
    a, b = models
    ds = load_digits(seed=0)
    X, y = torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.y_train)
    dense = np.linspace(0, 1, 101)
    full = ref.reference_path(a, b, dense, X, y)[:, 0]
    la, lb = full[0], full[-1]
    assert max(la, lb) < 0.05  # both runs fit the training data
    chord = (1 - dense) * la + dense * lb
    full_barrier = f["single_layer"]["measured"]["full_barrier"]
    # found to 1e-3: at least the 101-point grid's barrier, and not above it by more than the curve allows
    assert np.max(full - chord) * (1 - 1e-3) <= full_barrier <= np.max(full - chord) * 1.02
    # finding 1: the largest single-layer barrier, recomputed on its path
    layer, base = f["single_layer"]["measured"]["layer"], f["single_layer"]["measured"]["base"]
    single = ref.reference_path(a, b, dense, X, y, layers=[layer], base=base)[:, 0]
    assert np.max(single - chord) == pytest.approx(f["single_layer"]["measured"]["max_single_layer_barrier"],
                                                   rel=0.02)
    assert np.max(single - chord) < 0.5 * np.max(full - chord)
    # finding 3: half the averaging step in each layer vs random directions of its norm, recomputed for every layer
    sa, sb = a.state_dict(), b.state_dict()
    g = torch.Generator().manual_seed(123)
    toward, random = [], []
    for name in lmc.layer_groups(a):
        keys = [k for k in sa if k.startswith(f"{name}.")]
        delta = {k: sb[k] - sa[k] for k in keys}
        norm = torch.sqrt(sum((d.double() ** 2).sum() for d in delta.values()))
        for which, out_list in (("toward", toward), ("random", random)):
            m = copy.deepcopy(a)
            state = dict(sa)
            if which == "toward":
                state.update({k: sa[k] + 0.5 * delta[k] for k in keys})
            else:
                r = {k: torch.randn(sa[k].shape, generator=g) for k in keys}
                rn = torch.sqrt(sum((v.double() ** 2).sum() for v in r.values()))
                state.update({k: sa[k] + 0.5 * float(norm / rn) * r[k] for k in keys})
            m.load_state_dict(state)
            with torch.no_grad():
                out_list.append(float(torch.nn.functional.cross_entropy(m(X), y)) - la)
    assert np.mean(toward) > 2 * max(np.mean(random), 0.0)
    assert np.mean(toward) == pytest.approx(f["averaging_direction"]["measured"]["mean_increase_averaging"], rel=1e-3)


# ------------------------------------------------------------------ FAM and flatness --

MNIST_TINY = ["--dataset", "mnist1d", "--n-samples", "400", "--lr", "0.05", *TINY]


def _saved_models(out, hidden=(16, 16), n_in=40, n_out=10):
    from radonml.torch import make_mlp

    saved = torch.load(out / "checkpoints.pt", weights_only=True)
    models = []
    for k in ("model_a", "model_b"):
        m = make_mlp(n_in, list(hidden), n_out, init="kaiming_normal", seed=0)
        m.load_state_dict(saved[k])
        models.append(m.eval())
    return models


def test_fam_training_and_the_flatness_column(tmp_path, capsys):
    """--fam trains with FAM (recorded in the JSON; the models differ from the plain run's);
    the flatness column (on by default for this small model) equals relative_flatness of the
    saved models on the evaluation split, computed here directly."""
    from radonml.datasets import load_mnist1d
    from radonml.flatness import relative_flatness

    plain, fam = tmp_path / "plain", tmp_path / "fam"
    assert main(["lmc", *MNIST_TINY, "--no-plot", "--save-checkpoints", "--out", str(plain)]) == 0
    capsys.readouterr()
    assert main(["lmc", *MNIST_TINY, "--fam", "0.05", "--save-checkpoints", "--out", str(fam)]) == 0
    text = capsys.readouterr().out
    assert "FAM λ=0.05" in text and "flatness A" in text and "relative flatness kappa" in text
    data = json.loads((fam / "lmc.json").read_text())
    assert data["config"]["fam"] == 0.05 and data["config"]["flatness"] == "auto"
    assert data["flatness_plan"]["measured"] and data["flatness_plan"]["n_parameters"] == 40 * 16 + 16 * 16 + 16 * 10 + 42
    assert set(data["timings_s"]["flatness"]) == {"wall", "cpu"} and set(data["timings_s"]["training"]) == {"wall", "cpu"}
    assert (fam / "flatness.png").stat().st_size > 0
    a_plain = _saved_models(plain)[0]
    a, b = _saved_models(fam)
    assert not torch.equal(a.state_dict()["4.weight"], a_plain.state_dict()["4.weight"])
    ds = load_mnist1d(400, seed=0)
    X, y = torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.y_train)
    for row in data["per_layer"]:
        for m, model in (("a", a), ("b", b)):
            want = relative_flatness(model, (X, y), layer=f"{row['layer']}.weight",
                                     loss_fn=torch.nn.functional.cross_entropy, method="exact").value
            assert row[f"relative_flatness_{m}"] == pytest.approx(want, rel=1e-6)
    assert data["flatness"]["a"][0]["method"] == "exact"


def test_flatness_off_and_auto_above_the_limit(tmp_path, capsys, monkeypatch):
    from radonml.cli import lmc as cli_lmc

    out = tmp_path / "off"
    assert main(["lmc", *MNIST_TINY, "--no-plot", "--no-flatness", "--out", str(out)]) == 0
    data = json.loads((out / "lmc.json").read_text())
    assert data["flatness"] is None and "relative_flatness_a" not in data["per_layer"][0]
    assert data["flatness_plan"] == {**data["flatness_plan"], "mode": "off", "measured": False}
    assert "flatness" not in data["timings_s"]
    capsys.readouterr()
    monkeypatch.setattr(cli_lmc, "FLATNESS_AUTO_PARAMETERS", 100)
    out = tmp_path / "big"
    assert main(["lmc", *MNIST_TINY, "--no-plot", "--out", str(out)]) == 0
    assert "relative flatness not measured: the model has 1,098 parameters" in capsys.readouterr().err
    assert json.loads((out / "lmc.json").read_text())["flatness"] is None
    out = tmp_path / "forced"
    assert main(["lmc", *MNIST_TINY, "--no-plot", "--flatness", "hutchinson", "--flatness-probes", "3",
                 "--out", str(out)]) == 0
    data = json.loads((out / "lmc.json").read_text())
    assert data["flatness"]["a"][0]["method"] == "hutchinson" and data["flatness"]["a"][0]["n_probes"] == 3


@pytest.mark.parametrize("args, match", [
    (["--fam", "0.1", "--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt", "--model", "mynet.py:make_model"],
     "--fam trains the models with FAM"),
    (["--loss", "l1", "--flatness", "exact", "--checkpoint-a", "A.pt", "--checkpoint-b", "B.pt"],
     "--flatness needs a twice-differentiable loss"),
])
def test_fam_and_flatness_bad_combinations(tmp_path, capsys, args, match):
    rc, _ = _run(tmp_path, *args)
    assert rc == 2
    assert match in capsys.readouterr().err


@pytest.mark.parametrize("args, match", [
    (["--fam", "-0.1"], "--fam"),
    (["--flatness", "lanczos"], "--flatness"),
    (["--flatness-probes", "0"], "--flatness-probes"),
])
def test_fam_and_flatness_bad_values(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as exc:
        main(["lmc", *args, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


# ------------------------------------------------------------ data and loss checked up front --

def test_data_of_the_wrong_width_is_an_error_naming_data(mine, capsys):
    d = mine["dir"]
    np.savez(d / "narrow.npz", X=np.zeros((50, 3)), y=np.zeros(50, dtype=np.int64))  # make_model takes 10 features
    rc, _ = _run(d, "--model", f"{d / 'mynet.py'}:make_model", "--checkpoint-a", str(d / "A.pt"),
                 "--checkpoint-b", str(d / "B.pt"), "--data", str(d / "narrow.npz"))
    assert rc == 2
    err = capsys.readouterr().err
    assert f"radonml lmc: error: --data {d / 'narrow.npz'}: X of shape (50, 3) does not fit the model" in err
    assert "its first layer '0' (Linear) expects 10 input features" in err and "mat1 and mat2" in err
    assert "Traceback" not in err


def test_mse_on_class_labels_is_an_error_naming_loss(mine, capsys):
    import warnings

    d = mine["dir"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broadcasting UserWarning of mse_loss would fail the test
        rc, _ = _run(d, "--model", f"{d / 'mynet.py'}:make_model", "--checkpoint-a", str(d / "A.pt"),
                     "--checkpoint-b", str(d / "B.pt"), "--data", str(d / "data.npz"), "--loss", "mse")
    assert rc == 2
    err = capsys.readouterr().err
    assert "radonml lmc: error: --loss mse: the targets look like class labels (y of shape (300,)" in err
    assert "output has 4 columns" in err and "--loss cross_entropy is the loss for class labels" in err


def test_analyze_pair_checks_data_and_loss_before_any_study(mine):
    a, X, y = mine["a"], mine["X"], mine["y"]
    with pytest.raises(ValueError, match=r"^data: X of shape \(300, 3\) does not fit the model: its first layer '0' "
                                         r"\(Linear\) expects 10 input features"):
        lmc.analyze_pair(a, mine["b"], lmc.make_evaluator((X[:, :3], y)), alphas=3, n_draws=1)
    with pytest.raises(ValueError, match=r"^loss='mse': the targets look like class labels .* "
                                         r"loss='cross_entropy' is the loss for class labels"):
        lmc.analyze_pair(a, mine["b"], lmc.make_evaluator((X, y), loss="mse"), alphas=3, n_draws=1)
    # labels beyond the output's 4 classes
    with pytest.raises(ValueError, match=r"^data: its labels do not fit the model's output for "
                                         r"loss='cross_entropy'"):
        lmc.analyze_pair(a, mine["b"], lmc.make_evaluator((X, y + 10)), alphas=3, n_draws=1)


BN_FACTORY = textwrap.dedent('''
    from torch import nn


    def make_bn():
        return nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
''')


def _with_fresh_statistics(model, X):
    """torch's own re-estimation (as torch.optim.swa_utils.update_bn): reset, one pass in train mode."""
    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.reset_running_stats()
            mod.momentum = None
    m.train()
    with torch.no_grad():
        m(X)
    return m.eval()


def test_batchnorm_note_says_the_path_endpoints_are_re_estimated(mine, capsys):
    d = mine["dir"]
    (d / "bnnet.py").write_text(BN_FACTORY)
    X, y = mine["X"], mine["y"]
    models = []
    for seed in (1, 2):  # running statistics that are not those of X: the endpoints must differ
        torch.manual_seed(seed)
        m = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 4))
        m[1].running_mean.normal_(0.0, 0.5)
        m[1].running_var.uniform_(0.5, 2.0)
        torch.save(m.state_dict(), d / f"bn{seed}.pt")
        models.append(m.eval())
    rc, data = _run(d, "--model", f"{d / 'bnnet.py'}:make_bn", "--checkpoint-a", str(d / "bn1.pt"),
                    "--checkpoint-b", str(d / "bn2.pt"), "--data", str(d / "data.npz"), "--no-flatness")
    assert rc == 0
    out = capsys.readouterr().out
    note = [line for line in out.splitlines() if line.startswith("radonml lmc: note: BatchNorm statistics")]
    assert len(note) == 1 and "re-estimated at every point of every path" in note[0]
    assert f"--data {d / 'data.npz'}" in note[0] and "the models' own" in note[0]
    bn = data["batchnorm"]
    assert bn["layers"] == ["1"] and bn["data"] == f"--data {d / 'data.npz'}"
    ce = torch.nn.functional.cross_entropy
    with torch.no_grad():
        own = [float(ce(m(X), y)) for m in models]
        fresh = [float(ce(_with_fresh_statistics(m, X)(X), y)) for m in models]
    np.testing.assert_allclose(bn["models_own"]["loss"], own, rtol=1e-5)
    np.testing.assert_allclose(bn["path_endpoints"]["loss"], fresh, rtol=1e-4)
    np.testing.assert_allclose(data["full_path"]["metrics"]["loss"][::4], fresh, rtol=1e-4)  # alphas 0 and 1
    assert abs(own[0] - fresh[0]) > 1e-3 and f"A {own[0]:.4g}" in note[0] and f"at A {fresh[0]:.4g}" in note[0]
    # without BatchNorm: no note, null in the JSON
    rc, data = _run(d, "--model", f"{d / 'mynet.py'}:make_model", "--checkpoint-a", str(d / "A.pt"),
                    "--checkpoint-b", str(d / "B.pt"), "--data", str(d / "data.npz"), "--no-flatness")
    assert rc == 0 and data["batchnorm"] is None and "BatchNorm" not in capsys.readouterr().out
