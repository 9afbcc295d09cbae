"""
The Radon point of a point set
==============================

Radon's theorem: any :math:`r \\ge d + 2` points in :math:`\\mathbb{R}^d` split into two
parts :math:`I` and :math:`J` whose convex hulls intersect. A point of the intersection is a
*Radon point*. In the plane, :math:`d = 2` and :math:`r = 4`: four points either form a
triangle with the fourth point inside (:math:`|I| = 3`, :math:`|J| = 1`) or two crossing
segments (:math:`|I| = |J| = 2`). :func:`radonml.radon_point` finds the partition from a
null vector :math:`\\lambda` of

.. math:: M = \\begin{bmatrix} s_1 & \\cdots & s_r \\\\ 1 & \\cdots & 1 \\end{bmatrix}

and returns it with ``return_partition=True`` (:doc:`/concepts/radon`).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon
from scipy.spatial import ConvexHull

import radonml


def draw_hull(ax, pts, color, label):
    """Fill the convex hull of ``pts`` (a point, a segment or a polygon)."""
    if len(pts) >= 3:
        hull = pts[ConvexHull(pts).vertices]
        ax.add_patch(Polygon(hull, closed=True, alpha=0.25, color=color, label=label))
    elif len(pts) == 2:
        ax.plot(pts[:, 0], pts[:, 1], color=color, lw=3, alpha=0.6, label=label)
    ax.scatter(pts[:, 0], pts[:, 1], color=color, s=60 if len(pts) > 1 else 500, zorder=3,
               label=label if len(pts) == 1 else None)


# %%
# Two configurations of four points
# ---------------------------------
# The weights of the partition are canonical: the positive ones (the part :math:`I`) sum to
# 1, the others to -1, so the Radon point is the convex combination of either part.

configurations = {
    "triangle and a point inside": np.array([[0.0, 0.0], [4.0, 0.0], [1.5, 3.5], [1.8, 1.2]]),
    "two crossing segments": np.array([[0.0, 0.0], [4.0, 3.0], [0.5, 3.0], [3.5, 0.2]]),
}

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (title, points) in zip(axes, configurations.items()):
    part = radonml.radon_point(points, return_partition=True)
    I, J = points[part.positive], points[~part.positive]
    draw_hull(ax, I, "tab:blue", f"hull of I ({len(I)} points)")
    draw_hull(ax, J, "tab:orange", f"hull of J ({len(J)} points)")
    ax.scatter(*part.point, marker="*", s=300, color="black", zorder=4, label="Radon point")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    print(f"{title}: weights {np.round(part.weights, 3)}, point {np.round(part.point, 3)}")
    # the point is the same convex combination from both sides
    assert np.allclose(part.weights[part.positive] @ I, -part.weights[~part.positive] @ J)
fig.tight_layout()

# %%
# The iterated Radon point is a robust centre
# -------------------------------------------
# The Radon machine replaces groups of :math:`r` models by their Radon point, level by
# level. Here :math:`4^4 = 256` points, 10% of them gross outliers: the mean follows the
# outliers, the iterated Radon point stays in the bulk. Its Tukey depth (the fewest points
# in a closed half-plane containing it; :func:`radonml.tukey_depth`, exact in the plane) is
# far above the mean's.

rng = np.random.default_rng(0)
cloud = rng.normal(size=(256, 2))
outliers = rng.choice(256, size=26, replace=False)
cloud[outliers] = rng.normal(loc=(9.0, 7.0), scale=0.5, size=(26, 2))

centre = radonml.iterated_radon_point(cloud, rng=0)
mean = cloud.mean(axis=0)
depth_radon = radonml.tukey_depth(centre, cloud)
depth_mean = radonml.tukey_depth(mean, cloud)
print(f"height {radonml.tree_height(256, 2)}: Tukey depth of the iterated Radon point "
      f"{depth_radon}, of the mean {depth_mean}")

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(*cloud.T, s=10, color="grey", label="points (10% outliers)")
ax.scatter(*mean, marker="X", s=150, color="tab:red", label=f"mean (depth {depth_mean})")
ax.scatter(*centre, marker="*", s=250, color="black", label=f"iterated Radon point (depth {depth_radon})")
ax.legend(loc="lower right", fontsize=8)
ax.set_title("Iterated Radon point vs. mean")
fig.tight_layout()
plt.show()
