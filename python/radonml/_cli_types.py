"""argparse value types shared by the ``radonml`` subcommands (private)."""

from __future__ import annotations

import argparse

__all__ = ["number", "positive_int", "non_negative_int", "positive_float", "fraction", "height"]


def number(text, kind=int, *, minimum=None, strict=False, what="a number"):
    """Parse ``text`` as ``kind``; reject values below ``minimum`` (or equal to it if ``strict``)."""
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


def positive_float(text):
    return number(text, float, minimum=0.0, strict=True, what="a positive number")


def fraction(text, *, closed_low=False):
    """A number in (0, 1] (or [0, 1] with ``closed_low``)."""
    v = number(text, float, minimum=0.0, strict=not closed_low, what="a number in (0, 1]")
    if v > 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {v}")
    return v


def height(text):
    """``"auto"`` or a positive integer."""
    if text == "auto":
        return "auto"
    return number(text, int, minimum=1, what="'auto' or a positive integer")
