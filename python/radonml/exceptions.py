"""Warning and exception classes of radonml (filter the warnings with ``warnings.simplefilter``).

Every warning radonml emits is a :class:`RadonmlWarning`; every error about the number of
models an aggregator needs is a :class:`TooFewModelsError`, which is a ``ValueError``.
"""

__all__ = [
    "RadonmlWarning",
    "ConvergenceWarning",
    "EndpointMismatchWarning",
    "FallbackWarning",
    "TooFewModelsError",
    "NoRadonPointError",
]


class RadonmlWarning(UserWarning):
    """Base class of every warning radonml emits.

    Parameters
    ----------
    message : str
        What happened and what to do about it.

    Examples
    --------
    Silence all of radonml's warnings, and only them:

    >>> import warnings
    >>> warnings.simplefilter("ignore", RadonmlWarning)
    >>> warnings.resetwarnings()
    """


class ConvergenceWarning(RadonmlWarning):
    """An iterative solver (e.g. Weiszfeld's geometric median) stopped at its iteration limit.

    The result is the last iterate; raise ``max_iter`` or loosen ``tol``.

    Parameters
    ----------
    message : str
        The solver, the tolerance and the iteration limit.

    Examples
    --------
    >>> import warnings
    >>> import radonml
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = radonml.aggregate([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0]],
    ...                           "geometric_median", max_iter=1)
    >>> caught[0].category.__name__
    'ConvergenceWarning'
    """


class EndpointMismatchWarning(RadonmlWarning):
    """The two endpoints of an interpolation path differ a lot in the metric, so the
    ``"mean"`` barrier mostly measures that gap (:doc:`/concepts/lmc`); read the ``"linear"`` one.

    Parameters
    ----------
    message : str
        The endpoint values, their gap and the share of the barrier that is only the gap.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from radonml import lmc
    >>> path = lmc.PathResult(alphas=np.array([0.0, 0.5, 1.0]), metrics={"loss": np.array([0.1, 1.0, 2.0])})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     mean_barrier = lmc.barrier(path, "loss", kind="mean")
    >>> caught[0].category.__name__, round(mean_barrier, 2), lmc.barrier(path, "loss", kind="linear")
    ('EndpointMismatchWarning', 0.95, 0.0)
    """


class FallbackWarning(RadonmlWarning):
    """An aggregator could not run as asked (e.g. fewer models than the Radon number) and a
    documented fallback was used instead.

    Parameters
    ----------
    message : str
        Why the aggregator could not run, and the fallback used.

    Examples
    --------
    Three models in the plane are fewer than the Radon number 4:

    >>> import warnings
    >>> from radonml.aggregators import aggregate_with_fallback
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     vector, used = aggregate_with_fallback([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], "radon")
    >>> caught[0].category.__name__, used
    ('FallbackWarning', 'geometric_median')
    """


class TooFewModelsError(ValueError):
    r"""An aggregator's condition on the number of models fails (e.g. Krum needs
    :math:`n \ge 2f + 3`; the Radon point :math:`n \ge d + 2`) and no fallback was allowed
    (raised by :func:`radonml.aggregate` and by
    :func:`radonml.aggregators.aggregate_with_fallback` with ``fallback=None``).

    A subclass of ``ValueError``, so code that catches bad input catches it too.

    Parameters
    ----------
    message : str
        The aggregator, the number of models and dimension, and the condition that failed.

    Examples
    --------
    >>> import numpy as np
    >>> import radonml
    >>> try:
    ...     radonml.aggregate(np.eye(4), "krum", f=1)
    ... except radonml.TooFewModelsError as err:
    ...     print(err)
    aggregator 'krum' cannot run on 4 models in dimension d = 4: krum needs n >= 2f + 3 = 5 models for f = 1, got 4
    """


class NoRadonPointError(TooFewModelsError):
    """No Radon point exists: fewer models than the Radon number :math:`r = d + 2` and no
    fallback (raised by :func:`radonml.aggregate` and by
    :func:`radonml.aggregators.aggregate_with_fallback` with ``fallback=None``).

    Parameters
    ----------
    message : str
        The number of models, the dimension and the Radon number.

    Examples
    --------
    >>> import numpy as np
    >>> import radonml
    >>> try:
    ...     radonml.aggregate(np.eye(3), "radon")
    ... except radonml.NoRadonPointError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    aggregator 'radon' cannot run on 3 models in dimension d = 3: 3 models are fewer than the
    Radon number r = d + 2 = 5 (a Radon point needs at least r = d + 2 models)
    """
