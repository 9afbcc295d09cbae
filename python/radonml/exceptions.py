"""Warning and exception classes of radonml (filter the warnings with ``warnings.simplefilter``)."""

__all__ = [
    "RadonmlWarning",
    "ConvergenceWarning",
    "EndpointMismatchWarning",
    "FallbackWarning",
    "TooFewModelsError",
    "NoRadonPointError",
]


class RadonmlWarning(UserWarning):
    """Base class of every warning radonml emits."""


class ConvergenceWarning(RadonmlWarning):
    """An iterative solver (e.g. Weiszfeld's geometric median) stopped at its iteration limit."""


class EndpointMismatchWarning(RadonmlWarning):
    """The two endpoints of an interpolation path differ a lot in the metric, so the
    ``"mean"`` barrier mostly measures that gap (SPEC §5); read the ``"linear"`` one."""


class FallbackWarning(RadonmlWarning):
    """An aggregator could not run as asked (e.g. fewer models than the Radon number) and a
    documented fallback was used instead."""


class TooFewModelsError(ValueError):
    r"""An aggregator's condition on the number of models fails (e.g. Krum needs
    :math:`n \ge 2f + 3`; the Radon point :math:`n \ge d + 2`) and no fallback was allowed
    (raised by :func:`radonml.aggregate` and by
    :func:`radonml.aggregators.aggregate_with_fallback` with ``fallback=None``)."""


class NoRadonPointError(TooFewModelsError):
    """No Radon point exists: fewer models than the Radon number :math:`r = d + 2` and no
    fallback (raised by :func:`radonml.aggregators.aggregate_with_fallback` with ``fallback=None``)."""
