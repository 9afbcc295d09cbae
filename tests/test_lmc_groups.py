"""radonml.lmc.groups: layers as groups of state-dict tensors, in execution order."""

import doctest

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.lmc import groups  # noqa: E402


def test_layer_groups_order_and_custom_order():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    g = lmc.layer_groups(m)
    assert list(g) == ["0", "1", "3"]
    assert g["1"] == ["1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]

    class Reversed(nn.Module):  # registration order differs from execution order
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(4, 2)
            self.body = nn.Linear(3, 4)

        def forward(self, x):
            return self.head(self.body(x))

    r = Reversed()
    assert list(lmc.layer_groups(r)) == ["head", "body"]
    assert list(lmc.layer_groups(r, torch.zeros(2, 3))) == ["body", "head"]


def test_root_group_and_training_mode_restored():
    class WithOwn(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.scale * self.fc(x)

    m = WithOwn().train()
    g = lmc.layer_groups(m, torch.zeros(1, 2))
    assert list(g) == [lmc.ROOT, "fc"] and g[lmc.ROOT] == ["scale"]
    assert m.training
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        lmc.layer_groups("not a model")


def test_docstring_examples():
    assert doctest.testmod(groups).failed == 0
