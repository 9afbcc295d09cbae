"""``radonml robust``: the command runs a small grid end to end, prints the worst-case table and
the Radon capture, writes robust.json (every cell) and robust.png, and rejects bad options."""

import json

import pytest
from radonml.cli import build_parser, main

SMALL = ["robust", "--settings", "oneshot", "--n-samples", "3000", "--aggregators", "mean,median,radon",
         "--attacks", "sign_flip,ipm", "--fractions", "0.1", "--heterogeneity", "iid", "--quiet"]


def test_robust_runs_a_small_grid(tmp_path, capsys):
    assert main([*SMALL, "--out", str(tmp_path), "--attack-options", "sign_flip.scale=8"]) == 0
    out = capsys.readouterr().out
    assert "oneshot · synthetic · iid · n = 21 models, d = 19" in out
    assert "radon" in out and "ipm*" in out  # two identical IPM vectors capture the Radon point
    assert "k = 2" in out and "cells, wall" in out
    payload = json.loads((tmp_path / "robust.json").read_text())
    assert len(payload["cells"]) == 3 * (1 + 2) and payload["config"]["attack_params"]["sign_flip"]["scale"] == 8
    assert {r["aggregator"] for r in payload["summary"]} == {"mean", "median", "radon"}
    assert (tmp_path / "robust.png").stat().st_size > 10_000


def test_robust_options_parse():
    args = build_parser().parse_args(["robust", "--heterogeneity", "iid,dirichlet:0.1,0.5", "--fractions", "0.2",
                                      "--aggregator-options", "nnm>krum.n_neighbours=3,mda.max_subsets=10",
                                      "--hidden", "16"])
    assert args.heterogeneity == ["iid", "dirichlet:0.1", "dirichlet:0.5"] and args.fractions == [0.2]
    assert args.aggregator_options == [("nnm>krum", "n_neighbours", 3), ("mda", "max_subsets", 10)]
    assert args.hidden == [16] and args.n_jobs == 1 and args.settings == ["oneshot", "federated"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fractions", "0.5,1"], "argument --fractions: expected a number in (0, 1), got 1.0"),
        (["--heterogeneity", "shards"], "expected iid or dirichlet:A with A > 0, got 'shards'"),
        (["--attack-options", "scale=3"], "expected NAME.KEY=VALUE (e.g. sign_flip.scale=8), got 'scale=3'"),
        (["--settings", "central"], "expected a comma-separated subset of oneshot,federated"),
    ],
)
def test_bad_values_name_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["robust", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--aggregators", "mean,nope"], "unknown aggregator method 'nope'"),
        (["--attacks", "ipm,zzz"], "unknown attack 'zzz'"),
        (["--attack-options", "alie.z=1"], "--attack-options names ['alie'], which are not among --attacks"),
        (["--attack-options", "ipm.eps=1"], "has no parameter(s) ['eps']"),
        (["--aggregator-options", "krum.f=1"], "which are not among --aggregators"),
    ],
)
def test_invalid_combinations_exit_2(extra, message, tmp_path, capsys):
    assert main([*SMALL, "--out", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err
