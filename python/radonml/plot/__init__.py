"""matplotlib figures for radonml's analyses.

Import is cheap: matplotlib is loaded when a figure is made. Each submodule holds the
figures of one analysis: ``_lmc`` (paths, barrier heat maps, cumulative, robustness and
subspace curves), ``_compare`` (the Radon machine vs. baselines), ``_federated``
(protocols side by side).
"""

from ._compare import *  # noqa: F401,F403
from ._federated import *  # noqa: F401,F403
from ._lmc import *  # noqa: F401,F403
