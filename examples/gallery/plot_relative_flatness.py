"""
Relative flatness per layer
===========================

The trace and the top eigenvalue of the Hessian are the classical flatness measures, but a
ReLU network can be rescaled — one layer times :math:`c`, the next times :math:`1/c` —
without changing its function, and both measures change with :math:`c`. *Relative
flatness* (Petzka et al., NeurIPS 2021),

.. math:: \\kappa(W) = \\sum_{s,s'} \\langle w_s, w_{s'}\\rangle\\,\\mathrm{Tr}(H_{s,s'}),

weighs the Hessian by the weights it acts on and does not change
(:doc:`/concepts/flatness`). This example computes all three for every layer of a small MLP
trained on the digits, then again after such a rescaling.
"""

import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from radonml.flatness import layerwise_flatness
from radonml.torch import make_mlp

torch.manual_seed(0)
digits = load_digits()
X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target)

model = make_mlp(64, [16, 16], 10, seed=0)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = torch.nn.functional.cross_entropy
for epoch in range(30):
    for idx in torch.randperm(len(X)).split(64):
        optimizer.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        optimizer.step()
with torch.no_grad():
    print(f"training accuracy {(model(X).argmax(1) == y).float().mean():.3f}")

# %%
# Every layer
# -----------
# :func:`radonml.flatness.layerwise_flatness` computes relative flatness, the Hessian trace
# of the layer's weight block and its top eigenvalue, for every weight matrix, plus the
# trace and top eigenvalue of the whole model. Layers with at most ``exact_limit`` weights
# are computed exactly; larger ones by Hutchinson's estimator with a confidence interval.

data = (X[:256], y[:256])
before = layerwise_flatness(model, data, loss_fn=loss_fn, seed=0, n_probes=50)
print(before.table())

# %%
# A rescaling that leaves the function unchanged
# ----------------------------------------------
# Multiply the first layer (weight and bias) by :math:`c = 4` and the second layer's weight
# by :math:`1/4`: ReLU is positively homogeneous, so every output is the same.

c = 4.0
rescaled = copy.deepcopy(model)
with torch.no_grad():
    rescaled[0].weight.mul_(c)
    rescaled[0].bias.mul_(c)
    rescaled[2].weight.div_(c)
    print("same function:", torch.allclose(model(X), rescaled(X), atol=1e-4))
after = layerwise_flatness(rescaled, data, loss_fn=loss_fn, seed=0, n_probes=50)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
positions = np.arange(len(before.layers))
for ax, measure in zip(axes, ("relative_flatness", "hessian_trace", "top_eigenvalue")):
    ax.bar(positions - 0.2, before.values[measure], width=0.4, label="trained")
    ax.bar(positions + 0.2, after.values[measure], width=0.4, label=f"layers 1, 2 scaled by {c:g}, 1/{c:g}")
    ax.set_xticks(positions, before.layers)
    ax.set_yscale("log")
    ax.set_title(measure.replace("_", " "))
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

for name, b, a in zip(before.layers, before.values["relative_flatness"], after.values["relative_flatness"]):
    print(f"{name}: relative flatness {b:.4g} -> {a:.4g}")
