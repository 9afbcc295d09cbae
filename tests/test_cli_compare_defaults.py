"""`radonml compare` with default options on every built-in data set, and the attacks it refuses."""

import json
import re

import numpy as np
import pytest

from radonml import datasets
from radonml.cli import build_parser, main
from radonml.cli.compare import ATTACKS, DATASETS, KERNEL_ESTIMATOR, MIN_PART_ROWS


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


BUNDLED = {"breast-cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
           "mnist1d": datasets.load_mnist1d}


def _compare(tmp_path, *argv):
    rc = main(["compare", *argv, "--quiet", "--no-plot", "--n-jobs", "1", "--out", str(tmp_path)])
    js = json.loads((tmp_path / "compare.json").read_text())["regimes"][0] if rc == 0 else None
    return rc, js


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_datasets_run_with_the_defaults(name, tmp_path, capsys):
    """Too few rows for 100 per part: height 1 with n // r rows per part, said in a note."""
    ds = BUNDLED[name](seed=0)
    n, d = ds.X_train.shape
    r = (d + 1) + 2  # logistic regression: d weights and an intercept per class row; Radon number d + 2
    assert n // r < 100  # the default --min-samples cannot hold (the fault being fixed)
    rc, js = _compare(tmp_path, "--dataset", name)
    assert rc == 0
    err = capsys.readouterr().err
    assert js["data"]["radon_number"] == r and js["height_auto"] == 1
    assert js["min_samples"] == n // r >= MIN_PART_ROWS
    assert len(js["notes"]) == 1 and f"height 1 with {n // r} rows per part" in js["notes"][0]
    assert "note:" in err and f"{n // r} rows per part" in err  # printed even with --quiet
    central, radon = js["results"][0], js["results"][1]
    assert radon["label"] == "radon h=1" and radon["n_models"] == r
    assert radon["auc"] > central["auc"] - 0.05  # the parts' models are still useful


@pytest.mark.parametrize("name", ["synthetic", "synthetic28"])
def test_generated_datasets_run_with_the_defaults(name, tmp_path):
    rc, js = _compare(tmp_path, "--dataset", name, "--n-samples", "4000")
    assert rc == 0 and js["min_samples"] == 100 and js["notes"] == []  # enough rows: the rule is unchanged
    d = 18 if name == "synthetic" else 28
    assert js["data"]["radon_number"] == d + 3 and js["height_auto"] == 1
    assert all(r["auc"] > 0.75 for r in js["results"])


def test_spheres_defaults_to_the_kernel_pipeline(tmp_path, capsys):
    rc, js = _compare(tmp_path, "--dataset", "spheres", "--n-samples", "6000")
    assert rc == 0 and js["estimator"] == js["central"] == KERNEL_ESTIMATOR
    assert "no linear model separates spheres" in capsys.readouterr().err
    assert all(r["auc"] > 0.8 for r in js["results"])  # a linear model gets about 0.5 here (0.89 here)


def test_every_dataset_offered_is_covered():
    assert set(DATASETS) == set(BUNDLED) | {"synthetic", "synthetic28", "spheres"}


def test_what_the_user_asked_for_stays_an_error(tmp_path, capsys):
    for extra in (["--min-samples", "100"], ["--height", "auto"], ["--height", "2"]):
        rc, _ = _compare(tmp_path, "--dataset", "digits", *extra)
        err = capsys.readouterr().err
        assert rc == 2, extra
        assert ("lower --min-samples or give --height" in err) or ("use a smaller --height" in err), extra
    assert not (tmp_path / "compare.json").exists()
    rc, js = _compare(tmp_path, "--dataset", "digits", "--min-samples", "15")
    assert rc == 0 and js["min_samples"] == 15 and js["notes"] == [] and js["height_auto"] == 1


def test_inf_nan_is_refused_before_fitting(tmp_path, capsys):
    rc, _ = _compare(tmp_path, "--dataset", "synthetic", "--n-samples", "30000", "--corrupt", "3",
                     "--attack", "inf_nan")
    assert rc == 2 and "'inf_nan' is refused" in capsys.readouterr().err
    assert not (tmp_path / "compare.json").exists()


def test_help_and_the_unknown_attack_error_list_the_same_attacks(tmp_path, capsys):
    from radonml.attacks import attack_info, available_attacks

    model_level = {a for a in available_attacks() if attack_info(a).kind == "model"}
    assert set(ATTACKS) == model_level - {"inf_nan"}
    sub = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "compare")[1]
    text = " ".join(sub.format_help().split())
    listed = re.search(r"NAME one of ([a-z_, ]+?) \(", text).group(1).split(", ")
    rc, _ = _compare(tmp_path, "--dataset", "synthetic", "--n-samples", "3000", "--corrupt", "1", "--attack", "foo")
    err = capsys.readouterr().err
    assert rc == 2
    assert re.search(r"expected one of ([a-z_, ]+)", err).group(1).strip().split(", ") == listed == list(ATTACKS)
    assert "inf_nan is refused" in text
