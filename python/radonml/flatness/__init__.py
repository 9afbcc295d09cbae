r"""Flatness of a torch model's loss (:doc:`/concepts/flatness`): relative flatness, Hessian trace and
eigenvalues, and the FAM regularizer.

Relative flatness of a layer with weight matrix :math:`W` (rows :math:`w_s`) and Hessian
blocks :math:`H_{s,s'}` of the empirical loss with respect to :math:`W` (Petzka et al., 2021):

.. math:: \kappa(W) = \sum_{s,s'} \langle w_s, w_{s'}\rangle\,\mathrm{Tr}(H_{s,s'}).

Unlike the Hessian trace and eigenvalues (what PyHessian reports), it does not change when a
ReLU network is rescaled without changing its function (layer l times c, layer l+1 times
1/c; or neuron by neuron). The seed links flatness to layer-wise linear mode connectivity:
"the more robust the model is in general, e.g., because being in a flat minimum [Petzka et
al. 2021], the harder it is to get a high loss through perturbations".

- :func:`relative_flatness`: :math:`\kappa` of one layer, exact or Hutchinson (with an interval).
- :func:`hessian_trace`, :func:`top_hessian_eigenvalue`: per layer or whole model.
- :func:`layerwise_flatness`: all three for every layer, as a table.
- :func:`hessian`: the dense Hessian of a small parameter block.
- :func:`fam_penalty`: the differentiable FAM term for any training loop (Adilova et al., 2023).

All take ``data`` as an ``(X, y)`` pair or a DataLoader (passed over batch by batch, never
held in memory) and a batch-mean ``loss_fn(output, target)``.
"""

from .fam import fam_penalty, last_linear_weight
from .measures import (
    EigenvalueResult,
    FlatnessResult,
    LayerwiseFlatness,
    hessian,
    hessian_trace,
    layerwise_flatness,
    relative_flatness,
    top_hessian_eigenvalue,
)

__all__ = [
    "relative_flatness",
    "hessian_trace",
    "top_hessian_eigenvalue",
    "hessian",
    "layerwise_flatness",
    "fam_penalty",
    "last_linear_weight",
    "FlatnessResult",
    "EigenvalueResult",
    "LayerwiseFlatness",
]
