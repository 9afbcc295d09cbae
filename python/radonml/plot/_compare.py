"""Figures (see radonml.plot)."""

__all__: list = []
