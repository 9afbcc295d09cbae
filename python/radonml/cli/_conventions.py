"""The conventions every ``radonml`` subcommand follows, written once (private module).

- **The same flag for the same idea.** :func:`add_common_options` gives every subcommand
  ``--seed N``, ``--n-jobs N`` (how many CPU cores it may use: joblib workers or torch
  threads; -1 means all), ``--out DIR``, ``--quiet`` (no progress bars or status lines; the
  result table is still printed) and ``--no-plot`` (no PNG files).
- **Lists are comma-separated, in one argument**: ``--hidden 128,128,128``,
  ``--protocols periodic,dynamic`` (:class:`CommaList`).
- **Help text is plain text**, each default shown readably by :func:`add_option`
  (``(default: 128,128)``, never a Python repr), and every subcommand ends its help with
  examples (:func:`examples_epilog`).
- **Output streams**: results go to stdout; progress and status lines (``wrote ...``) go to
  stderr through a :class:`Reporter`, silenced by ``--quiet``; warnings always go to stderr.
- **Errors**: a bad value of one flag is an argparse error (exit status 2, naming the flag);
  an invalid combination is a ``ValueError`` that :func:`radonml.cli.main` prints as
  ``radonml <command>: error: ...`` (exit status 2).
- **Old spellings** of release 0.1 (``--no-plots``, ``--no-progress``, ``--threads``, lists
  given as several arguments) still work for one release: they print a deprecation note to
  stderr naming the new spelling (:class:`DeprecatedAlias`, :func:`join_legacy_lists`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Callable, Iterable, List, Optional, Sequence

__all__ = [
    "HelpFormatter",
    "number",
    "positive_int",
    "non_negative_int",
    "int_at_least",
    "positive_float",
    "non_negative_float",
    "fraction",
    "height",
    "n_jobs",
    "option_value",
    "CommaList",
    "format_default",
    "add_option",
    "examples_epilog",
    "add_common_options",
    "DeprecatedAlias",
    "join_legacy_lists",
    "Parser",
    "note",
    "Reporter",
    "resolve_n_jobs",
    "torch_threads",
    "write_json",
    "use_file_backend",
]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and the examples' line breaks; option help is wrapped as usual."""

    def __init__(self, prog):
        import shutil

        super().__init__(prog, max_help_position=32, width=min(100, shutil.get_terminal_size().columns - 2))


# ------------------------------------------------------------------ value types


def number(text, kind=int, *, minimum=None, strict=False, what="a number"):
    """Parse ``text`` as ``kind``; reject non-finite values and values below ``minimum``
    (or equal to it if ``strict``)."""
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected {what} (finite), got {text!r}")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
    return v


def positive_int(text):
    return number(text, int, minimum=1, what="a positive integer")


def non_negative_int(text):
    return number(text, int, minimum=0, what="a non-negative integer")


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A type for integers >= ``minimum``."""
    what = f"an integer >= {minimum}"

    def parse(text):
        return number(text, int, minimum=minimum, what=what)

    parse.__name__ = what
    return parse


def positive_float(text):
    return number(text, float, minimum=0.0, strict=True, what="a positive number")


def non_negative_float(text):
    return number(text, float, minimum=0.0, what="a non-negative number")


def fraction(text):
    """A number in (0, 1]."""
    v = number(text, float, minimum=0.0, strict=True, what="a number in (0, 1]")
    if v > 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {v}")
    return v


def height(text):
    """``"auto"`` or a positive integer."""
    if text == "auto":
        return "auto"
    return number(text, int, minimum=1, what="'auto' or a positive integer")


def n_jobs(text):
    """A positive integer, or -1 for all cores."""
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v == -1 or v >= 1:
        return v
    raise argparse.ArgumentTypeError(f"expected a positive integer or -1 (all cores), got {text!r}")


def option_value(text: str):
    """A ``key=value`` option's value as written on a command line: an int, a float (``inf``
    and ``nan`` included), ``true``/``false``/``none``, or else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


class CommaList:
    """A comma-separated list in one argument, each item parsed by ``item`` (and checked
    against ``choices``). An empty value gives an empty list where ``allow_empty``."""

    def __init__(self, item: Callable[[str], object] = str, *, choices: Optional[Sequence[str]] = None,
                 allow_empty: bool = False, what: str = "a comma-separated list"):
        self.item = item
        self.choices = tuple(choices) if choices is not None else None
        self.allow_empty = allow_empty
        self.what = what
        self.__name__ = what  # argparse names the type in its messages

    def __call__(self, text: str) -> list:
        parts = [t.strip() for t in text.split(",")]
        if parts == [""]:
            if self.allow_empty:
                return []
            raise argparse.ArgumentTypeError(f"expected {self.what}, got an empty value")
        if "" in parts:
            raise argparse.ArgumentTypeError(f"expected {self.what} without empty items, got {text!r}")
        if self.choices is not None:
            bad = [p for p in parts if p not in self.choices]
            if bad:
                raise argparse.ArgumentTypeError(
                    f"expected a comma-separated subset of {','.join(self.choices)}, got {text!r}"
                )
        return [self.item(p) for p in parts]


# ------------------------------------------------------------------ help text


def format_default(value) -> Optional[str]:
    """A default as a user would type it (lists comma-separated, floats without trailing
    zeros), or None where nothing should be shown (None, booleans)."""
    if value is None or isinstance(value, bool) or value is argparse.SUPPRESS:
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(format_default(v) or "" for v in value) or "(empty)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def add_option(parser: argparse.ArgumentParser, *flags: str, help: str, show_default: bool = True, **kwargs):
    """``parser.add_argument`` with the default appended to ``help`` readably."""
    shown = format_default(kwargs.get("default")) if show_default else None
    if shown is not None:
        help = f"{help} (default: {shown.replace('%', '%%')})"
    return parser.add_argument(*flags, help=help, **kwargs)


def examples_epilog(*lines: str) -> str:
    """The ``examples:`` block closing a subcommand's help."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# ------------------------------------------------------------------ common options


def note(prog: str, message: str) -> None:
    """A note on stderr that ``--quiet`` does not silence (deprecations, fallbacks)."""
    print(f"{prog}: note: {message}", file=sys.stderr, flush=True)


class DeprecatedAlias(argparse.Action):
    """A hidden old spelling of an option: sets the new option's value and prints a note.

    ``replacement`` is the new flag; ``convert`` maps the old value to the new one (flags
    without a value set True)."""

    def __init__(self, option_strings, dest, *, replacement: str, convert: Optional[Callable] = None,
                 nargs=None, **kwargs):
        kwargs["help"] = argparse.SUPPRESS
        super().__init__(option_strings, dest, nargs=nargs, **kwargs)
        self.replacement = replacement
        self.convert = convert

    def __call__(self, parser, namespace, values, option_string=None):
        note(parser.prog, f"{option_string} is deprecated and goes away in the next release; use {self.replacement}")
        value = True if self.nargs == 0 else (self.convert(values) if self.convert else values)
        setattr(namespace, self.dest, value)


def add_common_options(parser: argparse.ArgumentParser, *, out: str, n_jobs_default: int, n_jobs_help: str,
                       seed_help: str, plot_help: str, deprecated: Iterable[str] = ()) -> None:
    """``--seed``, ``--n-jobs``, ``--out``, ``--quiet``, ``--no-plot`` and the hidden old
    spellings named in ``deprecated`` (``"--no-plots"``, ``"--no-progress"``, ``"--threads"``,
    ``"--threads0"`` for the old ``--threads`` that took 0 for torch's default)."""
    group = parser.add_argument_group("common options")
    add_option(group, "--seed", type=non_negative_int, default=0, metavar="N", help=seed_help)
    add_option(group, "--n-jobs", type=n_jobs, default=n_jobs_default, metavar="N", help=n_jobs_help)
    add_option(group, "--out", default=out, metavar="DIR", help="output directory")
    group.add_argument("--quiet", action="store_true",
                       help="no progress bars or status lines (the results are still printed)")
    group.add_argument("--no-plot", action="store_true", help=plot_help)
    deprecated = set(deprecated)
    if "--no-plots" in deprecated:
        parser.add_argument("--no-plots", dest="no_plot", action=DeprecatedAlias, nargs=0, replacement="--no-plot")
    if "--no-progress" in deprecated:
        parser.add_argument("--no-progress", dest="quiet", action=DeprecatedAlias, nargs=0, replacement="--quiet")
    if "--threads" in deprecated:
        parser.add_argument("--threads", dest="n_jobs", type=positive_int, action=DeprecatedAlias,
                            replacement="--n-jobs")
    if "--threads0" in deprecated:  # 0 meant torch's default: now -1, all cores
        parser.add_argument("--threads", dest="n_jobs", type=non_negative_int, action=DeprecatedAlias,
                            replacement="--n-jobs (-1 for all cores)", convert=lambda v: -1 if v == 0 else v)


def join_legacy_lists(argv: Sequence[str], list_types: dict, prog: str) -> List[str]:
    """Rewrite lists given as several arguments (``--hidden 16 16``, the 0.1 spelling) into
    one comma-separated argument (``--hidden 16,16``), with a deprecation note. A list
    option followed by no value where an empty list is allowed gets the empty value."""
    argv = list(argv)
    out: List[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        out.append(tok)
        i += 1
        if tok == "--":
            out.extend(argv[i:])
            break
        if tok not in list_types:
            continue
        items = []
        while i < len(argv) and not argv[i].startswith("-"):
            items.append(argv[i])
            i += 1
        if len(items) > 1 or (not items and list_types[tok].allow_empty):
            joined = ",".join(items)
            note(prog, f"'{' '.join([tok, *items])}' is deprecated and goes away in the next release; "
                       f"give the list in one argument: {tok} {joined or repr('')}")
            out.append(joined)
        else:
            out.extend(items)
    return out


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that knows its comma-list options (:attr:`list_options`)
    and accepts their 0.1 spelling as several arguments (:func:`join_legacy_lists`).

    List options must be added to the parser itself, not to an argument group."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.list_options = {}

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if isinstance(action.type, CommaList):
            self.list_options.update({s: action.type for s in action.option_strings})
        return action

    def parse_known_args(self, args=None, namespace=None):
        if self.list_options:
            args = join_legacy_lists(sys.argv[1:] if args is None else args, self.list_options, self.prog)
        return super().parse_known_args(args, namespace)


# ------------------------------------------------------------------ running


class Reporter:
    """Status lines on stderr, silenced by ``--quiet``; ``progress`` says whether to show bars."""

    def __init__(self, quiet: bool):
        self.quiet = bool(quiet)
        self.progress = not self.quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def resolve_n_jobs(value: int) -> int:
    """``--n-jobs`` as a count of cores: -1 is all of them."""
    return (os.cpu_count() or 1) if value == -1 else int(value)


@contextlib.contextmanager
def torch_threads(value: int):
    """Run with ``--n-jobs`` torch intra-op threads, restoring the previous number after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(resolve_n_jobs(value))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def write_json(path: str, payload: dict) -> None:
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=1, default=float)


def use_file_backend() -> None:
    """matplotlib without a display: the commands write files only."""
    import matplotlib

    matplotlib.use("Agg", force=False)
