"""Temporary alias of the 0.1 module path (private; delete at merge).

tests/test_lmc.py and benchmarks/bench_lmc_finding.py, which another branch owns, import
``build_model`` and ``train_pair`` from here; once they use the public
``radonml.lmc.train_pair`` and ``radonml.torch.make_mlp``/``make_cnn``, this file goes.
"""

from .cli.lmc import build_model, train_pair

__all__ = ["build_model", "train_pair"]
