r"""Your own models and data for :mod:`radonml.lmc`: checkpoints, an architecture, a data set, a loss.

A researcher has two checkpoints and a model definition. :func:`load_pair` builds the two
models from them (state dicts, or whole saved modules), with the checkpoints of both training
runs for the subspace study; :func:`load_data` reads the data (``.npz`` or ``.pt`` tensors, or
a ``module:function`` that returns a DataLoader); :func:`make_evaluator` evaluates a
classification or a regression loss, batched over the points of a path. Then
:func:`~radonml.lmc.analyze_pair` runs every study, as ``radonml lmc --model pkg.mod:factory
--checkpoint-a A.pt --checkpoint-b B.pt --data data.npz`` does.

Loading is safe by default: state dicts are read with ``torch.load(weights_only=True)``, which
unpickles only tensors and plain containers, and ``.npz`` files with ``allow_pickle=False``.
Whole pickled modules need ``allow_pickle=True``: unpickling runs code from the file, so use
it only for files you trust.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import pickle
import sys
import zipfile
from collections.abc import Mapping
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from .._validation import check_int
from .training import TrainedPair

__all__ = ["import_object", "load_checkpoint", "load_pair", "load_data", "make_evaluator", "RegressionEvaluator",
           "regression_evaluator", "check_data_fits", "LOSSES"]

#: Losses by name: what :func:`make_evaluator` (and ``radonml lmc --loss``) accepts.
LOSSES = ("cross_entropy", "mse", "l1")
_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")
_DATA_KEYS = (("X", "y"), ("x", "y"), ("inputs", "targets"), ("data", "target"), ("data", "targets"),
              ("features", "labels"), ("X", "Y"))
_UNSAFE = ("unpickling runs code from the file: pass allow_pickle=True (radonml lmc --allow-pickle) only for a "
           "file you trust")


# --------------------------------------------------------------------------- objects --

def import_object(spec: str, what: str = "spec"):
    """The object named by ``"package.module:name"`` (or ``"path/to/file.py:name"``; the name
    may be dotted, ``"module:Class.method"``). Importing runs the module's code, as any import.

    Raises
    ------
    ValueError
        ``spec`` without exactly one ``:``, an unknown module or attribute.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or spec.startswith(":") or spec.endswith(":"):
        raise ValueError(f"{what} must look like 'package.module:name' or 'file.py:name', got {spec!r}")
    mod_name, attr = spec.split(":")
    try:
        if mod_name.endswith(".py"):
            if not os.path.isfile(mod_name):
                raise ValueError(f"{what}: no file {mod_name!r}")
            name = "_radonml_user_" + os.path.splitext(os.path.basename(mod_name))[0]
            s = importlib.util.spec_from_file_location(name, mod_name)
            module = importlib.util.module_from_spec(s)
            sys.modules[name] = module
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"{what}: cannot import module {mod_name!r} ({exc}); is it on PYTHONPATH?") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{what}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _is_state(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_checkpoint(path, *, allow_pickle: bool = False):
    """A state dict, or a whole module, from a file written by ``torch.save``.

    Read with ``torch.load(weights_only=True)`` unless ``allow_pickle``. A dict that is not
    itself a state dict may hold one under ``"state_dict"``, ``"model_state_dict"``,
    ``"model"``, ``"net"`` or ``"module"`` (training scripts' usual wrappers).

    Parameters
    ----------
    path : str or os.PathLike
    allow_pickle : bool, default False
        Allow arbitrary pickled objects (a whole ``nn.Module`` saved with ``torch.save(model)``).
        Unpickling runs code from the file: only for files you trust.

    Returns
    -------
    dict of str to Tensor, or torch.nn.Module (with ``allow_pickle``)

    Raises
    ------
    ValueError
        No such file; a file that needs unpickling without ``allow_pickle``; no state dict in it.

    Examples
    --------
    >>> import os, tempfile
    >>> import torch
    >>> path = os.path.join(tempfile.mkdtemp(), "a.pt")
    >>> torch.save({"epoch": 3, "model_state_dict": torch.nn.Linear(2, 1).state_dict()}, path)
    >>> sorted(load_checkpoint(path))
    ['bias', 'weight']
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as exc:
        if allow_pickle or not zipfile.is_zipfile(path):  # torch.save writes zip archives
            raise ValueError(f"checkpoint {path!r} is not a file torch.load can read: {str(exc)[:200]}") from None
        raise ValueError(f"checkpoint {path!r} holds Python objects beyond tensors (e.g. a whole saved module), which "
                         f"loading with weights_only=True refuses; {_UNSAFE}") from None
    except Exception as exc:  # not a torch file at all
        raise ValueError(f"checkpoint {path!r} is not a file torch.load can read: {type(exc).__name__}: {exc}") from None
    if isinstance(obj, nn.Module):
        return obj
    if _is_state(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for k in _STATE_KEYS:
            inner = obj.get(k)
            if isinstance(inner, nn.Module) or _is_state(inner):
                return inner if isinstance(inner, nn.Module) else dict(inner)
        raise ValueError(f"checkpoint {path!r} is a dict with keys {sorted(map(str, obj))[:8]} but neither a state dict "
                         f"(str -> Tensor) nor one under {list(_STATE_KEYS)}")
    raise ValueError(f"checkpoint {path!r} holds a {type(obj).__name__}, not a state dict or a module")


def _strip_prefix(state, expected):
    """``state`` with a wrapper's common key prefix removed (``module.`` of DataParallel,
    ``model.`` of Lightning) when that makes its keys the model's; else ``state``."""
    keys = list(state)
    head = keys[0].split(".", 1)[0] + "."
    if all(k.startswith(head) for k in keys) and {k[len(head):] for k in keys} == expected:
        return {k[len(head):]: v for k, v in state.items()}
    return state


def _model_from(architecture, loaded, name, source):
    """A module holding ``loaded`` (a state dict or a module) on ``architecture``."""
    if isinstance(loaded, nn.Module):
        return loaded.eval()
    if architecture is None:
        raise ValueError(f"{name} ({source}) is a state dict: give the architecture as model= "
                         "(a module, a factory, or 'package.module:factory'; radonml lmc --model)")
    model = architecture()
    expected = set(model.state_dict())
    state = _strip_prefix(loaded, expected)
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{name} ({source}) does not fit the model: missing keys {missing[:5]}, "
                         f"unexpected keys {unexpected[:5]}")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # shapes
        raise ValueError(f"{name} ({source}) does not fit the model: {exc}") from None
    return model.eval()


def _architecture(model):
    """A callable returning a fresh module of the architecture, or None."""
    if model is None:
        return None
    if isinstance(model, str):
        model = import_object(model, "model")
    if isinstance(model, nn.Module):
        template = model
        return lambda: copy.deepcopy(template)
    if callable(model):
        def build():
            m = model()
            if not isinstance(m, nn.Module):
                raise TypeError(f"the model factory must return a torch.nn.Module, got {type(m).__name__}")
            return m
        return build
    raise TypeError(f"model must be a torch.nn.Module, a factory or 'package.module:factory', got {type(model).__name__}")


def _source(c) -> str:
    return repr(os.fspath(c)) if isinstance(c, (str, os.PathLike)) else type(c).__name__


def load_pair(model=None, checkpoint_a=None, checkpoint_b=None, *, trajectory_a=None, trajectory_b=None,
              allow_pickle: bool = False) -> TrainedPair:
    r"""Two models of one architecture from their checkpoints, as :func:`~radonml.lmc.train_pair`
    returns them.

    Parameters
    ----------
    model : torch.nn.Module, callable() -> Module, or str, optional
        The architecture: a module (copied), a factory, or ``"package.module:factory"`` /
        ``"file.py:factory"``. Not needed when the checkpoints are whole modules.
    checkpoint_a, checkpoint_b : path, state dict or torch.nn.Module
        The two models: files written by ``torch.save`` (read by :func:`load_checkpoint`), or
        state dicts or modules already in memory. A state dict whose keys carry a wrapper's
        prefix (``module.``, ``model.``) is loaded without it.
    trajectory_a, trajectory_b : sequence of the same, optional
        Checkpoints along each run's training, the initialization first, for
        :func:`~radonml.lmc.subspace_perturbations`.
    allow_pickle : bool, default False
        Read files that need unpickling (whole saved modules). Unpickling runs code from the
        file: only for files you trust.

    Returns
    -------
    TrainedPair
        ``(model_a, model_b, checkpoints)`` in eval mode; ``checkpoints`` is
        ``{"a": [...], "b": [...]}`` (state dicts) with trajectories, else None.

    Raises
    ------
    ValueError
        Missing or unreadable files, checkpoints that do not fit the architecture, unsafe
        files without ``allow_pickle``, two models of different architectures, only one of
        the trajectories.
    TypeError
        ``model`` of the wrong kind, or a factory that does not return a module.

    Examples
    --------
    >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    >>> pair = load_pair(lambda: nn.Linear(2, 1), a.state_dict(), b.state_dict())
    >>> torch.equal(pair.model_b.weight, b.weight), pair.checkpoints is None
    (True, True)
    """
    if checkpoint_a is None or checkpoint_b is None:
        raise ValueError("load_pair needs both checkpoint_a and checkpoint_b")
    arch = _architecture(model)

    def load(c, name):
        loaded = load_checkpoint(c, allow_pickle=allow_pickle) if isinstance(c, (str, os.PathLike)) else c
        if not (isinstance(loaded, nn.Module) or _is_state(loaded)):
            raise TypeError(f"{name} must be a file, a state dict or a torch.nn.Module, got {type(loaded).__name__}")
        return _model_from(arch, loaded, name, _source(c))

    a, b = load(checkpoint_a, "checkpoint A"), load(checkpoint_b, "checkpoint B")
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("checkpoint A and checkpoint B are models of different architectures")
    if (trajectory_a is None) != (trajectory_b is None):
        raise ValueError("give the trajectories of both runs (trajectory_a and trajectory_b) or neither")
    ckpts = None
    if trajectory_a is not None:
        ckpts = {}
        for run, traj in (("a", trajectory_a), ("b", trajectory_b)):
            states = []
            for i, c in enumerate(traj):
                m = load(c, f"trajectory {run.upper()}[{i}]")
                states.append({k: v.detach().clone() for k, v in m.state_dict().items()})
            if not states:
                raise ValueError(f"trajectory_{run} is empty")
            ckpts[run] = states
    return TrainedPair(a, b, ckpts)


# ------------------------------------------------------------------------------ data --

def _pair_from_mapping(obj, source):
    for kx, ky in _DATA_KEYS:
        if kx in obj and ky in obj:
            return obj[kx], obj[ky]
    keys = list(obj)
    if len(keys) == 2:
        return obj[keys[0]], obj[keys[1]]
    raise ValueError(f"data {source} holds arrays {keys[:8]}: name them X and y (or hold exactly two)")


def _as_tensors(X, y, source):
    X, y = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X), \
        torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"data {source}: X and y must hold the same number n >= 1 of examples, got "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if X.is_floating_point() and X.dtype == torch.float64:
        X = X.float()
    return X, y


def load_data(source, *, allow_pickle: bool = False):
    """Evaluation data from a file or a function.

    Parameters
    ----------
    source : str, os.PathLike, callable, (X, y) or iterable of batches
        - ``.npz``: arrays ``X`` and ``y`` (or ``x``/``y``, ``inputs``/``targets``, or exactly
          two arrays), read with ``allow_pickle=False``;
        - ``.pt``/``.pth``: a tuple ``(X, y)`` or a dict with those keys, read with
          ``torch.load(weights_only=True)``;
        - ``"package.module:function"`` (or ``"file.py:function"``) or a callable: called
          with no arguments; it returns a DataLoader (any iterable of ``(x, y)`` batches) or
          ``(X, y)``;
        - ``(X, y)`` or a DataLoader: returned as they are (tensors converted).
    allow_pickle : bool, default False
        Let ``.pt`` files hold pickled objects (e.g. a ``TensorDataset``). Unpickling runs
        code from the file: only for files you trust.

    Returns
    -------
    (X, y) Tensors, or the iterable of batches
        float64 inputs become float32 (the evaluators cast to the model's dtype anyway).

    Raises
    ------
    ValueError
        Unknown file type, missing file or arrays, X and y of different lengths, unsafe
        content without ``allow_pickle``.

    Examples
    --------
    >>> X, y = load_data((np.zeros((3, 2)), np.array([0, 1, 1])))
    >>> X.dtype, y.tolist()
    (torch.float32, [0, 1, 1])
    """
    if isinstance(source, tuple) and len(source) == 2:
        return _as_tensors(*source, source="(X, y)")
    if isinstance(source, os.PathLike) or (isinstance(source, str) and os.path.isfile(source)):
        path = os.fspath(source)
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npz":
            try:
                with np.load(path, allow_pickle=False) as z:
                    X, y = _pair_from_mapping({k: z[k] for k in z.files}, repr(path))
            except ValueError as exc:
                if "pickle" in str(exc):
                    raise ValueError(f"data {path!r} holds object arrays, which are read only with pickling: save "
                                     "numeric arrays (np.savez(path, X=X, y=y))") from None
                raise
            return _as_tensors(X, y, repr(path))
        if ext in (".pt", ".pth"):
            try:
                obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
            except pickle.UnpicklingError:
                raise ValueError(f"data {path!r} holds Python objects beyond tensors (e.g. a Dataset); save "
                                 f"(X, y) tensors instead, or {_UNSAFE}") from None
            if isinstance(obj, (tuple, list)) and len(obj) == 2:
                return _as_tensors(*obj, source=repr(path))
            if isinstance(obj, Mapping):
                return _as_tensors(*_pair_from_mapping(obj, repr(path)), source=repr(path))
            if isinstance(obj, torch.utils.data.Dataset):
                return torch.utils.data.DataLoader(obj, batch_size=1024)
            raise ValueError(f"data {path!r} holds a {type(obj).__name__}; expected (X, y) or a dict of X and y")
        raise ValueError(f"data file {path!r}: expected a .npz or .pt/.pth file (or 'module:function')")
    if isinstance(source, str):
        if ":" not in source:
            raise ValueError(f"data {source!r} is neither an existing file nor 'package.module:function'")
        source = import_object(source, "data")
    if callable(source) and not hasattr(source, "__iter__"):
        out = source()
        if isinstance(out, tuple) and len(out) == 2:
            return _as_tensors(*out, source="the data function's (X, y)")
        if not hasattr(out, "__iter__"):
            raise TypeError(f"the data function must return a DataLoader (iterable of (x, y)) or (X, y), got "
                            f"{type(out).__name__}")
        return out
    if hasattr(source, "__iter__"):
        return source
    raise TypeError(f"data must be a file, 'module:function', a callable, (X, y) or a DataLoader, got "
                    f"{type(source).__name__}")


# ------------------------------------------------------------------------ evaluators --

class RegressionEvaluator:
    """Mean loss of a regression model on fixed data (see :func:`regression_evaluator`).

    ``evaluator(model) -> {"loss": float}``; path functions evaluate many parameter sets per
    forward pass through :meth:`evaluate_stacked` (:func:`torch.func.vmap`), falling back to
    one pass per point where the model cannot be vmapped.

    Parameters
    ----------
    data : (X, y) pair of tensors or arrays, or an iterable of (X, y) batches (a DataLoader)
        ``X`` of shape (n, ...) and ``y`` of shape (n,) or (n, k), floating.
    loss : {"mse", "l1"} or callable, default "mse"
        Squared or absolute error averaged over every output entry, or ``loss(out, y)``
        returning the mean over the batch's examples.
    batch_size : int, default 1024
        Rows per forward pass when ``data`` is a pair.

    Examples
    --------
    >>> ev = RegressionEvaluator((torch.ones(4, 1), torch.full((4,), 3.0)))
    >>> ev(nn.Identity())["loss"]
    4.0
    """

    vectorize = True

    def __init__(self, data, loss="mse", batch_size=1024):
        self.loss, self.batch_size = loss, batch_size
        self.vmap_error: Optional[str] = None
        self._failed: Dict[tuple, str] = {}
        self.last_method = ""
        if isinstance(data, tuple) and len(data) == 2:
            self._tensors = _as_tensors(*data, source="(X, y)")
            self._loader = None
        elif hasattr(data, "__iter__"):
            self._tensors, self._loader = None, data
        else:
            raise TypeError(f"data must be (X, y) or an iterable of (x, y) batches, got {type(data).__name__}")

    @property
    def data(self):
        """The data as given: the ``(X, y)`` tensors or the iterable of batches."""
        return self._tensors if self._tensors is not None else self._loader

    def _batches(self):
        if self._tensors is not None:
            X, y = self._tensors
            for i in range(0, X.shape[0], self.batch_size):
                yield X[i:i + self.batch_size], y[i:i + self.batch_size]
        else:
            for batch in self._loader:
                yield torch.as_tensor(batch[0]), torch.as_tensor(batch[1])

    @staticmethod
    def _prepare(x, y, device, dtype):
        x = x.to(device)
        if x.is_floating_point():
            x = x.to(dtype)
        return x, y.to(device=device, dtype=dtype)

    def _sum(self, out, y):
        """Summed loss and the count it averages over."""
        if y.numel() == out.numel():
            y = y.reshape(out.shape)
        if callable(self.loss):
            return self.loss(out, y) * y.shape[0], y.shape[0]
        f = torch.nn.functional.mse_loss if self.loss == "mse" else torch.nn.functional.l1_loss
        return f(out, y, reduction="sum"), out.numel()

    def __call__(self, model) -> Dict[str, float]:
        device, dtype = _device_dtype(model)
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in self._batches():
                x, y = self._prepare(x, y, device, dtype)
                s, n = self._sum(model(x), y)
                total, count = total + float(s), count + n
        if count == 0:
            raise ValueError("data yielded no examples")
        return {"loss": total / count}

    def evaluate_stacked(self, template, stacked, shared, n_points):
        """Loss of ``n_points`` parameter sets at once (the protocol of
        :meth:`radonml.lmc.ClassificationEvaluator.evaluate_stacked`), or None."""
        sig = (type(template), tuple(sorted(stacked)), tuple(sorted(shared)))
        if sig in self._failed:
            return None

        def f(bp, x):
            params = dict(shared)
            params.update(bp)
            return functional_call(template, params, (x,))

        forward = vmap(f, in_dims=(0, None))
        device, dtype = _device_dtype(template)
        loss = torch.zeros(n_points, dtype=torch.float64)
        count = 0
        try:
            for x, y in self._batches():
                x, y = self._prepare(x, y, device, dtype)
                out = forward(stacked, x)
                for j in range(n_points):
                    s, n = self._sum(out[j], y)
                    loss[j] += float(s)
                count += n
        except Exception as exc:  # vmap cannot batch this model: remember, use the loop
            self.vmap_error = self._failed[sig] = f"{type(exc).__name__}: {exc}"
            return None
        if count == 0:
            raise ValueError("data yielded no examples")
        self.last_method = "vmap"
        return {"loss": (loss / count).numpy()}, "vmap"


def _device_dtype(model):
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def regression_evaluator(data, *, loss="mse", batch_size: int = 1024) -> RegressionEvaluator:
    r"""An ``evaluate(model)`` for regression: the mean loss on ``data``.

    .. math:: \text{mse} = \frac1{nk}\sum_{i,j} (f(x_i)_j - y_{ij})^2, \qquad
              \text{l1} = \frac1{nk}\sum_{i,j} |f(x_i)_j - y_{ij}|

    over n examples with k outputs (targets of n values are reshaped to the output's shape).

    Parameters
    ----------
    data : (X, y) tensors or arrays, or an iterable of (x, y) batches
    loss : {"mse", "l1"} or callable(output, target) -> batch-mean scalar, default "mse"
    batch_size : int, default 1024

    Returns
    -------
    RegressionEvaluator
        ``evaluator(model) -> {"loss": float}``.

    Raises
    ------
    ValueError
        Unknown ``loss``; X and y of different lengths.

    Examples
    --------
    >>> ev = regression_evaluator((torch.ones(4, 1), torch.full((4,), 3.0)))
    >>> ev(nn.Identity())["loss"]
    4.0
    """
    if not callable(loss) and loss not in ("mse", "l1"):
        raise ValueError(f"loss must be 'mse', 'l1' or a callable, got {loss!r}")
    return RegressionEvaluator(data, loss=loss, batch_size=check_int(batch_size, "batch_size", minimum=1))


def make_evaluator(data, *, loss="cross_entropy", batch_size: int = 1024):
    """The evaluator of ``loss`` on ``data``: classification (cross-entropy: loss and accuracy,
    :func:`~radonml.lmc.classification_evaluator`) or regression (``"mse"``, ``"l1"``: loss,
    :func:`regression_evaluator`).

    Parameters
    ----------
    data : as returned by :func:`load_data`
    loss : {"cross_entropy", "mse", "l1"}, default "cross_entropy"
    batch_size : int, default 1024

    Returns
    -------
    ClassificationEvaluator or RegressionEvaluator

    Raises
    ------
    ValueError
        Unknown ``loss``; data unsuited to it (e.g. non-integer class labels).

    Examples
    --------
    >>> make_evaluator((torch.eye(2), torch.tensor([0, 1])))(nn.Identity())["accuracy"]
    1.0
    """
    if loss == "cross_entropy":
        from .evaluators import classification_evaluator

        return classification_evaluator(data, batch_size=batch_size)
    if loss in ("mse", "l1"):
        return regression_evaluator(data, loss=loss, batch_size=batch_size)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")



# ------------------------------------------------------------------------ the fit check --

#: Examples :func:`check_data_fits` passes through the model.
CHECK_BATCH = 8


def _first_layer(model):
    """``(name, module, what it expects)`` of the first module that says what input it takes."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            return name, m, f"{m.in_features} input features per example (X of shape (n, {m.in_features}))"
        if isinstance(m, nn.modules.conv._ConvNd):
            return name, m, f"{m.in_channels} input channels"
    return None


def _sample(data):
    """A few ``(x, y)`` examples of ``data`` and the shape of its whole X (or of one batch)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(v, torch.Tensor) for v in data):
        X, y = data
        return X[:CHECK_BATCH], y[:CHECK_BATCH], f"X of shape {tuple(X.shape)}"
    for batch in data:
        x, y = torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
        return x[:CHECK_BATCH], y[:CHECK_BATCH], f"X in batches of shape {tuple(x.shape)}"
    raise ValueError("data yielded no examples")


def _option(name, value) -> str:
    """``--loss mse`` for a command-line option, ``loss='mse'`` for an argument."""
    return f"{name} {value}" if name.startswith("-") else f"{name}={value!r}"


def check_data_fits(model, evaluate, *, data_name: str = "data", loss_name: str = "loss") -> None:
    """Check, with one forward pass of ``model`` on a few examples, that the evaluator's data
    and loss fit the model, before any study evaluates it at many points.

    :func:`~radonml.lmc.analyze_pair` calls it on model A (``radonml lmc`` too, naming its
    options). An evaluator without its data (a plain callable) is not checked. The model is
    run in eval mode without gradients (BatchNorm statistics stay as they are).

    Parameters
    ----------
    model : torch.nn.Module
    evaluate : ClassificationEvaluator, RegressionEvaluator or callable
        Checked when it holds its data (``evaluate.data``): the first :data:`CHECK_BATCH` = 8
        examples.
    data_name, loss_name : str, default "data", "loss"
        How the error messages name the data and the loss (``radonml lmc``: ``--data``,
        ``--loss``).

    Returns
    -------
    None

    Raises
    ------
    ValueError
        The model cannot take the inputs (the message gives X's shape, what the model's first
        layer expects and torch's error), class labels the output cannot score, or targets
        whose shape does not match the output of a regression loss (class labels for
        ``"mse"``/``"l1"``: ``"cross_entropy"`` is the loss for them).

    Examples
    --------
    >>> X, y = torch.zeros(20, 3), torch.zeros(20, dtype=torch.long)
    >>> check_data_fits(nn.Linear(3, 2), make_evaluator((X, y)))
    >>> check_data_fits(nn.Linear(8, 2), make_evaluator((X, y)))
    Traceback (most recent call last):
    ...
    ValueError: data: X of shape (20, 3) does not fit the model: its first layer (Linear) expects 8 input features per example (X of shape (n, 8)); torch says: mat1 and mat2 shapes cannot be multiplied (8x3 and 8x2)
    >>> check_data_fits(nn.Linear(3, 2), make_evaluator((X, y), loss="mse"))
    Traceback (most recent call last):
    ...
    ValueError: loss='mse': the targets look like class labels (y of shape (20,), integers) but the model's output has 2 columns (output of shape (8, 2)); loss='cross_entropy' is the loss for class labels
    """
    from .evaluators import ClassificationEvaluator

    data = getattr(evaluate, "data", None)
    if data is None or not isinstance(model, nn.Module):
        return
    x, y, what = _sample(data)
    device, dtype = _device_dtype(model)
    x = x.to(device)
    if x.is_floating_point():
        x = x.to(dtype)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # the model cannot take these inputs
        first = _first_layer(model)
        expects = "" if first is None else \
            f": its first layer {(repr(first[0]) + ' ') if first[0] else ''}({type(first[1]).__name__}) expects {first[2]}"
        raise ValueError(f"{data_name}: {what} does not fit the model{expects}; torch says: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    finally:
        model.train(was)
    y = y.to(device)
    shapes = f"y of shape {tuple(y.shape)}, output of shape {tuple(out.shape)}"
    if isinstance(evaluate, ClassificationEvaluator):
        fn = evaluate.loss_fn if evaluate.loss_fn is not None else torch.nn.functional.cross_entropy
        try:
            fn(out, y)
        except Exception as exc:
            raise ValueError(f"{data_name}: its labels do not fit the model's output for "
                             f"{_option(loss_name, 'cross_entropy')} ({shapes}); for regression targets use "
                             f"{_option(loss_name, 'mse')} or 'l1'; torch says: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    elif isinstance(evaluate, RegressionEvaluator) and not callable(evaluate.loss):
        if y.numel() != out.numel():
            labels = not y.is_floating_point() or bool(torch.equal(y, y.round()))
            if labels and y.ndim == 1 and out.ndim == 2 and out.shape[1] > 1:
                raise ValueError(f"{_option(loss_name, evaluate.loss)}: the targets look like class labels (y of shape "
                                 f"{tuple(evaluate.data[1].shape) if isinstance(evaluate.data, tuple) else tuple(y.shape)}"
                                 f", integers) but the model's output has {out.shape[1]} columns (output of shape "
                                 f"{tuple(out.shape)}); {_option(loss_name, 'cross_entropy')} is the loss for class labels")
            raise ValueError(f"{_option(loss_name, evaluate.loss)}: the targets do not match the model's output, one "
                             f"target per output entry ({shapes})")
