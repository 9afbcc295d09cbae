"""
The Radon point of a point set
==============================

Radon's theorem: any :math:`r \\ge d + 2` points in :math:`\\mathbb{R}^d` split into two
parts whose convex hulls intersect; a point in the intersection is a *Radon point*.
"""
import numpy as np
import radonml
r = radonml.radon_point(np.random.default_rng(0).normal(size=(4, 2)))
print(r)
