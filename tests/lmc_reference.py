"""Shared by the tests of radonml.lmc's torch studies: small models, data, and the reference
path computed the way public LMC code does it (deep copy, load an interpolated state dict,
evaluate). Not a test module (pytest collects ``test_*.py`` only)."""

import copy

import numpy as np
import torch
from torch import nn

from radonml import lmc


def mlp(seed, d=10, h=16, k=4):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, k))


def models():
    return mlp(0), mlp(1)


def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 10, generator=g)
    y = torch.randint(0, 4, (300,), generator=g)
    return X, y


def reference_path(a, b, alphas, X, y, layers=None, base="a"):
    """What public LMC code does: deep-copy, load an interpolated state dict, evaluate."""
    out = []
    sa, sb = a.state_dict(), b.state_dict()
    keys = None if layers is None else {k for l in layers for k in lmc.layer_groups(a)[l]}
    for al in alphas:
        m = copy.deepcopy(a if base == "a" else b)
        base_sd = sa if base == "a" else sb
        sd = {}
        for k in sa:
            if keys is None or k in keys:
                sd[k] = (1 - al) * sa[k] + al * sb[k] if sa[k].is_floating_point() else base_sd[k]
            else:
                sd[k] = base_sd[k]
        m.load_state_dict(sd)
        m.eval()
        with torch.no_grad():
            o = m(X)
        out.append((float(nn.functional.cross_entropy(o, y)), float((o.argmax(1) == y).float().mean())))
    return np.array(out)


def linear_2d(w0, w1):
    """A bias-free Linear(2, 1) with weight [[w0, w1]]: a model whose parameter space is R^2."""
    m = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[w0, w1]]))
    return m
