"""
Layer-wise linear mode connectivity of a small MLP
==================================================

Two copies of one MLP are trained on the 8x8 digits from different initializations. Along
the straight line :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B` between
them the loss rises: a *barrier*. Layer-wise linear mode connectivity (Adilova et al., ICLR
2024; :doc:`/concepts/lmc`) asks what happens when only one layer, or a growing stack of
layers, is interpolated while the rest of the network stays A's (or B's).

This example shows how each quantity is measured, on a network small enough to train in
seconds. It is not where the paper's finding shows: for MLPs with two to four hidden layers
the single-layer barriers are *not* below the full-model barrier (as here), and the finding
appears with depth (24 hidden layers of 128 units in ``benchmarks/lmc.md``, section 4).
"""

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits

from radonml import lmc, plot
from radonml.torch import make_mlp

torch.manual_seed(0)
digits = load_digits()
X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target)
X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]

# %%
# Two networks
# ------------
# :func:`radonml.lmc.train_pair` runs SGD twice; ``different_init=True`` starts the runs
# from independent initializations (the setting in which the full-model barrier is large).

pair = lmc.train_pair(lambda: make_mlp(64, [64, 64, 64], 10, init="kaiming_normal", seed=None),
                      X_train, y_train, epochs=15, lr=0.05, momentum=0.9, different_init=True, seed=0)
model_a, model_b = pair.model_a, pair.model_b
evaluate = lmc.classification_evaluator((X_test, y_test))

# %%
# The full-model path
# -------------------
# All 11 points of the path are evaluated in one vectorised forward pass. The *linear*
# barrier compares the loss with the straight line between the endpoint losses.

path = lmc.evaluate_path(model_a, model_b, evaluate)
print(f"endpoint accuracies {path.metrics['accuracy'][0]:.3f} and {path.metrics['accuracy'][-1]:.3f}; "
      f"loss barrier {lmc.barrier(path, 'loss', kind='linear'):.3f}")
plot.plot_path(path, "loss", title="loss along the full-model path")

# %%
# One layer at a time
# -------------------
# :func:`radonml.lmc.layerwise_barriers` interpolates one layer at a time inside A and
# inside B and measures each path against the *full* endpoint models. In this shallow
# network a single averaged layer, whose units do not correspond to the units of the layers
# around it, costs more than averaging everything.

layerwise = lmc.layerwise_barriers(model_a, model_b, evaluate)
print(layerwise.table())
plot.plot_layerwise_barriers(layerwise, "loss", kind="linear",
                             title="single-layer barriers vs. the full model's")

# %%
# Growing stacks of layers
# ------------------------
# Interpolate the first 1, 2, ... layers from the input (and, separately, from the
# output), with the rest from A. The last point of each curve is the full-model barrier.

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, direction in zip(axes, ("input", "output")):
    cumulative = lmc.cumulative_barriers(model_a, model_b, evaluate, direction=direction)
    plot.plot_cumulative_barriers(cumulative, "loss", kind="linear", ax=ax,
                                  title=f"layers counted from the {direction}")
fig.tight_layout()
plt.show()
