"""`radonml lmc` end to end on tiny configurations."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from radonml.cli import main  # noqa: E402

TINY = ["--epochs", "2", "--hidden", "16,16", "--alphas", "3", "--n-draws", "2", "--quiet"]


def test_lmc_mnist1d_mlp_end_to_end(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path / "run"
    rc = main(["lmc", "--dataset", "mnist1d", "--n-samples", "400", *TINY, "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "full model" in text and "layer 0 into A" in text and "cumulative from the input" in text
    for name in ("lmc.json", "path.png", "layerwise.png", "cumulative.png", "robustness.png", "subspace.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "lmc.json").read_text())
    assert set(data) >= {"config", "full_path", "layerwise", "cumulative", "robustness", "subspace", "timings_s"}
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
