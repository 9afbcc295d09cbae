r"""The Radon machine as scikit-learn meta-estimators (Kamp et al., NeurIPS 2017).

:class:`RadonMachineClassifier` and :class:`RadonMachineRegressor` split the training data
into :math:`r^h` disjoint random parts, fit a clone of a linear base estimator on every part
(in parallel through joblib, so ``joblib.parallel_config(backend="dask")`` or Ray's joblib
backend moves the work to a cluster), and aggregate the fitted ``coef_`` and ``intercept_``
with the iterated Radon point, or any aggregator of :func:`radonml.aggregate`.
The base estimator may be a :class:`~sklearn.pipeline.Pipeline` whose last step is linear:
the steps before it are a feature map fitted once and shared by every part, which is also how
the Radon machine learns non-linear (kernel) models through shared random features.
:func:`aggregate_estimators` does the aggregation step alone, for models (or pipelines)
fitted elsewhere; :func:`linear_parameters`, :func:`linear_decision` and
:func:`aggregate_parameters` work on the models as parameter vectors.

Modules: ``_machine`` (the meta-estimators), ``_parameters`` (models as parameter rows),
``_feature_map`` (pipelines' shared steps), ``_aggregate`` (:func:`aggregate_estimators`).

References
----------
M. Kamp, M. Boley, O. Missura, T. Gärtner, "Effective Parallelisation for Machine Learning",
NeurIPS 2017.
"""

from ._aggregate import aggregate_estimators
from ._machine import RadonMachineClassifier, RadonMachineRegressor
from ._parameters import aggregate_parameters, linear_decision, linear_parameters

__all__ = [
    "RadonMachineClassifier",
    "RadonMachineRegressor",
    "aggregate_estimators",
    "aggregate_parameters",
    "linear_parameters",
    "linear_decision",
]
