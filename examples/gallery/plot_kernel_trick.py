"""
The kernel trick, and the kernel Radon machine
==============================================

A linear model draws a straight line. Put a *feature map* :math:`\\phi` in front of it and
the same linear model, :math:`x \\mapsto \\langle w, \\phi(x)\\rangle + b`, draws whatever
boundary is straight in feature space — a circle, a spiral. The *kernel trick* computes such
models from inner products :math:`k(x, x') = \\langle \\phi(x), \\phi(x')\\rangle` alone,
without ever forming :math:`\\phi(x)`. *Random features* go back the other way: an explicit,
finite :math:`\\phi` whose inner products approximate a kernel. And because the model on top
of :math:`\\phi` is linear, it is a vector that the Radon machine can aggregate: a kernel
Radon machine (:doc:`/concepts/radon`).

This example follows the teaching notebook with which the kernel trick was explained to
students: first pictures, then the trick, then what it buys for parallel learning.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_circles
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from radonml.sklearn import RadonMachineClassifier

rng = np.random.default_rng(0)
X, y = make_circles(n_samples=400, noise=0.08, factor=0.45, random_state=0)

# a grid over the plane, to draw every model's decision boundary
xx, yy = np.meshgrid(np.linspace(-1.5, 1.5, 200), np.linspace(-1.5, 1.5, 200))
grid = np.c_[xx.ravel(), yy.ravel()]


def show(ax, score, title):
    """Draw the data and the zero level of a decision function on the grid."""
    zz = score(grid).reshape(xx.shape)
    ax.contourf(xx, yy, zz > 0, alpha=0.2, cmap="coolwarm")
    ax.contour(xx, yy, zz, levels=[0.0], colors="black", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap="coolwarm", edgecolors="none")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


# %%
# A linear model cannot separate two rings
# ----------------------------------------
# Logistic regression on :math:`x = (x_1, x_2)` draws a line; about half the points end up
# on the wrong side.

linear = LogisticRegression().fit(X, y)
print(f"linear model on x: training accuracy {linear.score(X, y):.2f}")

# %%
# A feature map makes them separable
# ----------------------------------
# Add one feature, the squared radius: :math:`\phi(x) = (x_1, x_2, x_1^2 + x_2^2)`. In
# :math:`\mathbb{R}^3` the inner ring sits low and the outer ring high, and a *plane*
# separates them. The same logistic regression, trained on :math:`\phi(x)`, is linear in
# :math:`\phi(x)` — and its boundary, drawn back in the plane, is a circle.


def phi(Z):
    return np.c_[Z, (Z**2).sum(axis=1)]


on_phi = LogisticRegression(C=100.0).fit(phi(X), y)
print(f"linear model on phi(x): training accuracy {on_phi.score(phi(X), y):.2f}")

fig = plt.figure(figsize=(12, 3.8))
show(fig.add_subplot(1, 3, 1), linear.decision_function, "linear model on x")
ax3d = fig.add_subplot(1, 3, 2, projection="3d")
F = phi(X)
ax3d.scatter(F[:, 0], F[:, 1], F[:, 2], c=y, s=8, cmap="coolwarm")
w, b = on_phi.coef_[0], on_phi.intercept_[0]
px, py = np.meshgrid(np.linspace(-1.2, 1.2, 10), np.linspace(-1.2, 1.2, 10))
ax3d.plot_surface(px, py, -(b + w[0] * px + w[1] * py) / w[2], alpha=0.3, color="grey")
ax3d.set_title("phi(x) = (x1, x2, x1² + x2²): a plane separates", fontsize=10)
ax3d.view_init(elev=12, azim=-60)
show(fig.add_subplot(1, 3, 3), lambda Z: on_phi.decision_function(phi(Z)), "the same model, drawn in x: a circle")
fig.tight_layout()

# %%
# The kernel trick
# ----------------
# Learners such as the support vector machine touch the data only through inner products
# :math:`\langle \phi(x_i), \phi(x_j)\rangle`. Replace them by a kernel
# :math:`k(x_i, x_j)` and the model is linear in a feature space that is never built. The
# Gaussian (RBF) kernel :math:`k(x, x') = \exp(-\gamma\lVert x - x'\rVert^2)` belongs to an
# infinite-dimensional :math:`\phi`; its model is
# :math:`x \mapsto \sum_i \alpha_i y_i k(x_i, x) + b`, a sum over training points — not a
# vector of fixed length that two learners could average or aggregate.
#
# Random Fourier features (Rahimi and Recht, 2007) make :math:`\phi` explicit again:
# :math:`\phi(x) = \sqrt{2/D}\,\cos(\Omega^\top x + u)`, with :math:`\Omega` drawn from the
# kernel's Fourier transform and :math:`u` uniform, so that
# :math:`\langle\phi(x), \phi(x')\rangle \approx k(x, x')`.
# :class:`~sklearn.kernel_approximation.RBFSampler` draws :math:`(\Omega, u)` from a seed:
# every learner that uses the same seed computes the same map.

gamma = 2.0
svm = SVC(kernel="rbf", gamma=gamma).fit(X, y)
features = RBFSampler(gamma=gamma, n_components=20, random_state=0).fit(X)
on_rff = LogisticRegression(C=10.0).fit(features.transform(X), y)
print(f"RBF-kernel SVM: {svm.score(X, y):.2f}; logistic regression on 20 random features: "
      f"{on_rff.score(features.transform(X), y):.2f}")

exact = np.exp(-gamma * ((X[:50, None] - X[None, :50]) ** 2).sum(-1))
for D in (20, 200, 2000):
    approx = RBFSampler(gamma=gamma, n_components=D, random_state=0).fit_transform(X[:50])
    print(f"D = {D:4d} random features: max |<phi(x), phi(x')> - k(x, x')| = "
          f"{np.abs(approx @ approx.T - exact).max():.3f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
show(axes[0], svm.decision_function, "RBF-kernel SVM (implicit phi)")
show(axes[1], lambda Z: on_rff.decision_function(features.transform(Z)),
     "logistic regression on 20 random features")
fig.tight_layout()

# %%
# The kernel Radon machine
# ------------------------
# A linear model on :math:`D` shared random features is a vector in
# :math:`\mathbb{R}^{D+1}`, so the Radon machine applies: split the data into
# :math:`r^h` parts (:math:`r = D + 3`), train one model per part, aggregate the models with
# iterated Radon points. With :math:`D = 20`, :math:`r = 23`, and 6000 examples give
# :math:`h = 1`: 23 models of about 260 examples each, aggregated in one Radon point.
#
# The lesson above is one scikit-learn pipeline: the feature map, then the linear model.
# :class:`~radonml.sklearn.RadonMachineClassifier` takes it as its base estimator. The steps
# before the last are the *shared* feature map: fitted once (with its seed) and used by every
# base model, so that all 23 models live in the same feature space and their Radon point is
# defined; only the last step, the logistic regression, is fitted per part. The fitted machine
# is a classifier on the raw :math:`x`.

from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

X_big, y_big = make_circles(n_samples=8000, noise=0.08, factor=0.45, random_state=1)
X_train, y_train, X_test, y_test = X_big[:6000], y_big[:6000], X_big[6000:], y_big[6000:]

kernel_model = make_pipeline(RBFSampler(gamma=gamma, n_components=20, random_state=0), LogisticRegression(C=10.0))
radon = RadonMachineClassifier(kernel_model, random_state=0).fit(X_train, y_train)
averaged = RadonMachineClassifier(kernel_model, aggregation="mean", random_state=0).fit(X_train, y_train)
central = clone(kernel_model).fit(X_train, y_train)
print(f"shared feature map: {radon.feature_map_}")
print(f"height {radon.height_}, {radon.n_models_} base models of "
      f"{len(radon.estimators_samples_[0])} examples each, "
      f"each a vector of {radon.base_parameters_.shape[-1]} parameters")
for name, model in [("central", central), ("Radon machine", radon), ("averaging", averaged)]:
    print(f"{name:>14}: test accuracy {model.score(X_test, y_test):.3f}")

# %%
# Robustness comes with it. Three of the 23 learners are Byzantine and send their model
# sign-flipped and scaled by 10 (an :class:`~radonml.attacks.Attack` passed as ``corrupt=``,
# :doc:`/concepts/attacks`): the average turns around with them, the Radon point — a point
# deep inside the cloud of models — does not. The honest base models are the same in every
# machine (same ``random_state``); only the aggregation differs.

from radonml.attacks import Attack  # noqa: E402

attack = Attack("sign_flip", f=3, scale=10.0)
radon_attacked = RadonMachineClassifier(kernel_model, corrupt=attack, random_state=0).fit(X_train, y_train)
mean_attacked = RadonMachineClassifier(kernel_model, aggregation="mean", corrupt=attack,
                                       random_state=0).fit(X_train, y_train)
print(f"3 of 23 base models sign-flipped: Radon point {radon_attacked.score(X_test, y_test):.3f}, "
      f"average {mean_attacked.score(X_test, y_test):.3f} test accuracy")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
for ax, (title, model) in zip(axes, [
    ("Radon machine, 23 models", radon),
    ("Radon point, 3 of 23 corrupted", radon_attacked),
    ("average, 3 of 23 corrupted", mean_attacked),
]):
    show(ax, model.decision_function, title)
fig.tight_layout()
plt.show()

# %%
# :func:`radonml.sklearn.aggregate_estimators` aggregates pipelines fitted elsewhere (it
# checks that they share equal feature maps), and
# :func:`radonml.sklearn.aggregate_parameters` aggregates such parameter vectors per class
# for multi-class models; :doc:`/concepts/radon` states the guarantee behind the Radon
# machine, :doc:`/concepts/aggregators` the other rules.
