"""
Robust aggregation under attack
===============================

Twenty-five learners each train a logistic regression on their own share of the data; five
of them are Byzantine and send what the attack tells them to (:doc:`/concepts/attacks`). The
coordinator aggregates the 25 parameter vectors with one rule of the catalogue
(:doc:`/concepts/aggregators`). The grid shows the test accuracy of the aggregate for every
pair of aggregator and attack.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import radonml
from radonml.attacks import corrupt

# %%
# Honest learners
# ---------------
# 25 shares of 160 examples, 10 features: every model is a vector in
# :math:`\mathbb{R}^{11}` (weights and intercept), so the Radon number is 13.

n_learners, f = 25, 5
X, y = make_classification(n_samples=4000 + 2000, n_features=10, n_informative=6, class_sep=0.8,
                           random_state=0)
X_test, y_test = X[4000:], y[4000:]
shares = np.array_split(np.arange(4000), n_learners)
honest = np.array([
    np.r_[m.coef_[0], m.intercept_]
    for m in (LogisticRegression().fit(X[idx], y[idx]) for idx in shares)
])


def accuracy(theta):
    """Test accuracy of the logistic model with parameters ``theta`` (weights, intercept)."""
    return float(((X_test @ theta[:-1] + theta[-1] > 0) == y_test).mean())


print(f"honest models: test accuracy {min(map(accuracy, honest)):.3f} to {max(map(accuracy, honest)):.3f}")

# %%
# The grid
# --------
# Every attack replaces the same five rows (``rng=0``); each aggregator gets ``f=5`` where
# it takes it. The Inf/NaN attack is not in the grid: :func:`radonml.aggregate` refuses
# non-finite input with a ``ValueError`` that names the model, before any rule runs.

attacks = {
    "none": {},
    "sign_flip": {"scale": 4.0},
    "gaussian_noise": {"sigma": 10.0},
    "alie": {},
    "ipm": {"epsilon": 5.0},
    "mimic": {},
    "min_max": {},
}
aggregators = {
    "mean": {},
    "median": {},
    "trimmed_mean": {"f": f},
    "geometric_median": {},
    "krum": {"f": f},
    "multi_krum": {"f": f},
    "bulyan": {"f": f},
    "centered_clipping": {},
    "nnm>trimmed_mean": {"f": f},
    "radon": {"rng": 0},
}

table = np.empty((len(aggregators), len(attacks)))
for j, (attack, params) in enumerate(attacks.items()):
    models = honest if attack == "none" else corrupt(honest, attack, f=f, rng=0, **params).models
    for i, (method, options) in enumerate(aggregators.items()):
        table[i, j] = accuracy(radonml.aggregate(models, method, **options))

width = max(map(len, aggregators))
print(" " * width, *(f"{a[:9]:>9}" for a in attacks))
for method, row in zip(aggregators, table):
    print(f"{method:>{width}}", *(f"{v:9.3f}" for v in row))

fig, ax = plt.subplots(figsize=(8.5, 5.5))
im = ax.imshow(table, cmap="RdYlGn", vmin=0.0, vmax=1.0)
ax.set_xticks(range(len(attacks)), list(attacks), rotation=30, ha="right")
ax.set_yticks(range(len(aggregators)), list(aggregators))
for i in range(table.shape[0]):
    for j in range(table.shape[1]):
        ax.text(j, i, f"{table[i, j]:.2f}", ha="center", va="center", fontsize=8)
ax.set_title(f"Test accuracy of the aggregate: {f} of {n_learners} learners Byzantine")
fig.colorbar(im, ax=ax, label="test accuracy")
fig.tight_layout()

# %%
# What the grid shows: the mean falls to the sign flip, to noise and to IPM, whose five
# Byzantine vectors :math:`-\varepsilon\bar x` outweigh the twenty honest ones; the
# coordinate-wise, geometric and distance-based rules hold. The Radon point falls to IPM
# too, for a reason of its own: the five Byzantine vectors are *identical*, and two equal
# points already form a Radon partition (:math:`\{i\}` and :math:`\{j\}`, whose hulls meet
# in the point itself), so a group of :math:`r` models that holds two copies of one vector
# may return that vector. Colluding attackers who send duplicates capture it; the
# confidence guarantee of :doc:`/concepts/radon` assumes independent models. ALIE, Mimic
# and min-max stay within the honest spread by design, which on this easy, homogeneous
# task costs little.

# %%
# Breakdown conditions
# --------------------
# Each rule tolerates :math:`f` only up to its condition on :math:`n`; below it,
# :func:`radonml.aggregate` raises :class:`radonml.TooFewModelsError` before any work
# (here Bulyan, which needs :math:`n \ge 4f + 3`), and
# :func:`radonml.aggregators.aggregate_with_fallback` falls back to the geometric median.

try:
    radonml.aggregate(honest[:20], "bulyan", f=5)
except radonml.TooFewModelsError as err:
    print(err)
plt.show()
