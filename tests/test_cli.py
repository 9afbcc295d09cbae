"""The conventions every `radonml` subcommand shares (radonml/cli/_conventions.py): one flag name
per idea, comma lists, readable help, old spellings kept for one release with a note."""

import re
import subprocess
import sys

import pytest

from radonml.cli import SUBCOMMANDS, build_parser, main

COMMANDS = sorted(SUBCOMMANDS)


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_the_common_options_and_readable_help(command, capsys):
    text = _help(capsys, command)
    for flag in ("--seed N", "--n-jobs N", "--out DIR", "--quiet", "--no-plot"):
        assert flag in text, flag
    assert "-1 for all cores" in " ".join(text.split())
    # an example epilog whose lines are commands of this subcommand
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith(f"  radonml {command}") for line in examples if line.strip())
    # plain text: no reST markup, no Python reprs of defaults, no hidden old spellings
    body = text.split("\n\n", 1)[1]  # (the usage line shows optional arguments in brackets)
    for bad in ("``", ":func:", ":class:", ":math:", "None", "['", "[1", "(default: '", "%%", "--threads",
                "--no-plots", "--no-progress"):
        assert bad not in body, (bad, body)
    # every default shown is what a user would type
    for shown in re.findall(r"\(default: ([^)]*)\)", text.replace("\n", " ")):
        assert not re.search(r"\.0\b|e\+|True|False", shown), shown


def test_top_level_help_lists_the_commands(capsys):
    text = _help(capsys)
    for command in COMMANDS:
        assert re.search(rf"^  {command} +\S", text, re.M), command


def test_one_spelling_for_one_idea_across_subcommands():
    parser = build_parser()
    common = {"seed": 0, "quiet": False, "no_plot": False}
    defaults = {"compare": -1, "federated": 1, "lmc": 1, "robust": 1}
    for command in COMMANDS:
        args = parser.parse_args([command])
        for dest, value in common.items():
            assert getattr(args, dest) == value, (command, dest)
        assert args.n_jobs == defaults[command]
        assert args.out == f"radonml-{command}"
        args = parser.parse_args([command, "--seed", "3", "--n-jobs", "-1", "--quiet", "--no-plot", "--out", "o"])
        assert (args.seed, args.n_jobs, args.quiet, args.no_plot, args.out) == (3, -1, True, True, "o")


def test_lists_are_comma_separated():
    parser = build_parser()
    args = parser.parse_args(["federated", "--hidden", "32,16", "--protocols", "periodic,nosync", "--layers", "0,2"])
    assert (args.hidden, args.protocols, args.layers) == ([32, 16], ["periodic", "nosync"], ["0", "2"])
    assert parser.parse_args(["federated", "--hidden", ""]).hidden == []  # no hidden layer
    assert parser.parse_args(["lmc", "--hidden", "8,8,8"]).hidden == [8, 8, 8]
    assert parser.parse_args(["lmc", "--hidden=4"]).hidden == [4]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["lmc", "--hidden", ""], "argument --hidden: expected hidden widths, got an empty value"),
        (["lmc", "--hidden", "8,,8"], "argument --hidden: expected hidden widths without empty items, got '8,,8'"),
        (["federated", "--protocols", "periodic,fedprox"], "expected a comma-separated subset of sgd,periodic,"),
        (["federated", "--n-jobs", "-2"], "argument --n-jobs: expected a positive integer or -1 (all cores), got '-2'"),
        (["compare", "--seed", "x"], "argument --seed: expected a non-negative integer, got 'x'"),
    ],
)
def test_bad_values_name_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_old_spellings_still_work_for_one_release_with_a_note(capsys):
    parser = build_parser()
    args = parser.parse_args(["lmc", "--no-plots", "--no-progress", "--threads", "0", "--hidden", "16", "16"])
    assert (args.no_plot, args.quiet, args.n_jobs, args.hidden) == (True, True, -1, [16, 16])
    err = capsys.readouterr().err
    for old, new in [("--no-plots", "--no-plot"), ("--no-progress", "--quiet"), ("--threads", "--n-jobs"),
                     ("'--hidden 16 16'", "--hidden 16,16")]:
        assert re.search(rf"radonml lmc: note: {old} is deprecated and goes away in the next release;.*{new}", err), old
    assert parser.parse_args(["lmc", "--threads", "3"]).n_jobs == 3
    args = parser.parse_args(["federated", "--threads", "2", "--layers", "0", "2", "--hidden", "--steps", "5"])
    assert (args.n_jobs, args.layers, args.hidden, args.steps) == (2, ["0", "2"], [], 5)
    err = capsys.readouterr().err
    assert "radonml federated: note: --threads is deprecated" in err
    assert "radonml federated: note: '--hidden' is deprecated" in err and "--hidden ''" in err
    with pytest.raises(SystemExit):  # compare never had these spellings
        parser.parse_args(["compare", "--threads", "2"])


def test_the_entry_point_runs_as_a_module_and_imports_no_heavy_library():
    out = subprocess.run([sys.executable, "-m", "radonml.cli", "--version"], capture_output=True, text=True,
                         check=True).stdout
    from radonml import __version__

    assert out.strip() == f"radonml {__version__}"
    code = ("import sys; from radonml.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'sklearn', 'matplotlib', 'flwr') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
