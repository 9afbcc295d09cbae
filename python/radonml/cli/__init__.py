"""The ``radonml`` command line: ``radonml compare``, ``radonml federated``, ``radonml lmc``,
``radonml robust``.

One module per subcommand (:mod:`radonml.cli.compare`, :mod:`radonml.cli.federated`,
:mod:`radonml.cli.lmc`, :mod:`radonml.cli.robust`), each with ``HELP`` (one line), ``DESCRIPTION`` and ``EXAMPLES``
(plain text for ``--help``), ``add_arguments(parser)`` and ``run(args) -> int``; the
conventions they share (flag names, lists, defaults in the help, output streams, old
spellings) are written once in ``radonml/cli/_conventions.py``. A new subcommand is one more
module and one more entry in :data:`SUBCOMMANDS`.

:func:`main` is the ``radonml`` entry point (``python -m radonml.cli`` works too).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._conventions import Parser, examples_epilog

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module (imported when the parser is built; heavy imports wait for ``run``).
SUBCOMMANDS = {
    "compare": "radonml.cli.compare",
    "federated": "radonml.cli.federated",
    "lmc": "radonml.cli.lmc",
    "robust": "radonml.cli.robust",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``radonml`` parser with one subparser per available subcommand.

    A subcommand whose module is missing from this build is left out; any other import error
    is raised.

    Returns
    -------
    argparse.ArgumentParser
        Parsing sets ``command`` and ``_run`` (the subcommand's ``run(args) -> int``).

    Examples
    --------
    >>> parser = build_parser()
    >>> args = parser.parse_args(["compare", "--seed", "3", "--no-plot"])
    >>> args.command, args.seed
    ('compare', 3)
    """
    from .. import __version__

    modules = {}
    for name, module in SUBCOMMANDS.items():
        try:
            modules[name] = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise  # subcommand not available in this build: skip it, anything else is a bug
    width = max(map(len, modules)) + 2
    commands = "\n".join(f"  {name:<{width}}{mod.HELP}" for name, mod in modules.items())
    parser = Parser(
        prog="radonml",
        description="The Radon machine, robust aggregation, federated learning protocols and (layer-wise)\n"
                    f"linear mode connectivity from the command line.\n\ncommands:\n{commands}",
        epilog="Run 'radonml COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"radonml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser,
                                help="one of the commands above")
    sub.required = True
    for name, mod in modules.items():
        p = sub.add_parser(name, description=mod.DESCRIPTION, epilog=examples_epilog(*mod.EXAMPLES))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    """Run ``radonml`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    A bad value of one option exits through argparse (``SystemExit(2)``); an invalid
    combination of options (``ValueError``/``TypeError`` raised by the command) is printed
    as ``radonml COMMAND: error: ...`` and returns 2.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``radonml``.

    Returns
    -------
    int
        0 on success, 2 for invalid options, 130 when interrupted.

    Raises
    ------
    SystemExit
        From argparse: ``--help``, ``--version`` or an option it rejects.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as exc:
        print(f"radonml {args.command}: error: {exc}", file=sys.stderr)
        return 2
