"""
Weight matching: the barrier before and after alignment
=======================================================

Two networks trained from different initializations compute similar functions with their
hidden units in different orders. Permuting B's hidden units changes nothing about B's
function, but it changes the straight line from A to B. *Weight matching* (Ainsworth et
al., ICLR 2023) picks the permutations that make B's weights most similar to A's; after it,
the barrier along the path mostly disappears. REPAIR (Jordan et al., ICLR 2023) removes much
of what is left by restoring the variance of the interpolated network's hidden units
(:doc:`/concepts/lmc`).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from radonml import lmc
from radonml.torch import make_mlp

digits = load_digits()
X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target)
X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]

pair = lmc.train_pair(lambda: make_mlp(64, [128, 128], 10, seed=None), X_train, y_train,
                      epochs=15, lr=0.05, momentum=0.9, different_init=True, seed=0)
model_a, model_b = pair.model_a, pair.model_b
evaluate = lmc.classification_evaluator((X_test, y_test))

# %%
# Align B to A
# ------------
# The permutation symmetries of the MLP are derived from its graph
# (:func:`radonml.lmc.permutation_spec`); :func:`radonml.lmc.weight_matching` solves one
# linear assignment problem per hidden layer, sweep after sweep, until nothing improves.
# The aligned B computes the same function as B.

aligned = lmc.weight_matching(model_a, model_b, rng=0)
with torch.no_grad():
    same = torch.allclose(model_b(X_test), aligned.model(X_test), atol=1e-5)
print(aligned)
print(f"aligned B computes B's function: {same}")

# %%
# The paths
# ---------
# Every path function takes ``align=``: the same result object aligns B before
# interpolating, and ``repair=True`` adds REPAIR at every point.

paths = {
    "before alignment": lmc.evaluate_path(model_a, model_b, evaluate),
    "weight matching": lmc.evaluate_path(model_a, model_b, evaluate, align=aligned),
    "weight matching + REPAIR": lmc.evaluate_path(model_a, model_b, evaluate, align=aligned,
                                                  repair=True, bn_data=X_train),
}

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for name, path in paths.items():
    axes[0].plot(path.alphas, path.metrics["loss"], marker="o", label=name)
    axes[1].plot(path.alphas, 1.0 - np.asarray(path.metrics["accuracy"]), marker="o", label=name)
    print(f"{name:>26}: loss barrier {lmc.barrier(path, 'loss', kind='linear'):.3f}, "
          f"error barrier {lmc.barrier(path, 'accuracy', kind='linear'):.3f}")
axes[0].set(xlabel="alpha", ylabel="test loss", title="loss along the path")
axes[1].set(xlabel="alpha", ylabel="test error", title="error along the path")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
