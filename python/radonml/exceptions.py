"""Warning classes of radonml (filter them with ``warnings.simplefilter``)."""

__all__ = ["RadonmlWarning", "ConvergenceWarning", "EndpointMismatchWarning", "FallbackWarning"]


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
