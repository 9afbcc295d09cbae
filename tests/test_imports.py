"""Import paths and import cost: every public import path of radonml.lmc, radonml.linear and
radonml.dln from before the lmc package works and gives the same objects as the package's
modules; ``import radonml`` (and the exact linear / deep-linear paths) need no torch,
scikit-learn or matplotlib."""

import importlib
import json
import re
import subprocess
import sys

import pytest

# the public names of each module before radonml.lmc became a package (their __all__ then)
OLD_LMC = [
    "layer_groups", "interpolate", "evaluate_path", "classification_evaluator", "ClassificationEvaluator",
    "barrier", "layerwise_barriers", "cumulative_barriers", "perturbation_robustness", "subspace_perturbations",
    "PathResult", "LayerwiseResult", "CumulativeResult", "RobustnessResult", "SubspaceResult",
]
OLD_LMC_CONSTANTS = ["ROOT", "BARRIER_KINDS"]
OLD_LINEAR = ["path_metrics", "exact_barrier", "squared_loss_coefficients", "LOSSES"]
OLD_DLN = ["PathPolynomial", "DLNToy", "loss", "path_polynomial", "path_loss", "exact_barrier", "init_weights",
           "train", "toy_example"]

# where each name lives now
NEW_HOME = {
    "layer_groups": "groups", "ROOT": "groups", "interpolate": "interpolation", "evaluate_path": "interpolation",
    "classification_evaluator": "evaluators", "ClassificationEvaluator": "evaluators", "barrier": "barriers",
    "PathResult": "barriers", "BARRIER_KINDS": "barriers", "layerwise_barriers": "layerwise",
    "LayerwiseResult": "layerwise", "cumulative_barriers": "layerwise", "CumulativeResult": "layerwise",
    "perturbation_robustness": "robustness", "RobustnessResult": "robustness",
    "subspace_perturbations": "subspaces", "SubspaceResult": "subspaces",
}


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (the test's sys.path) and return its printed JSON."""
    env_path = json.dumps([p for p in sys.path if p])
    out = subprocess.run([sys.executable, "-c", f"import sys, json; sys.path[:0] = json.loads({env_path!r})\n{code}"],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


HEAVY = ("torch", "sklearn", "matplotlib")
_HEAVY_LOADED = "print(json.dumps({m: m in sys.modules for m in " + repr(HEAVY) + "}))"


def test_import_radonml_imports_no_torch_sklearn_or_matplotlib():
    loaded = _run("import radonml\n" + _HEAVY_LOADED)
    assert loaded == {m: False for m in HEAVY}


def test_exact_paths_and_barriers_import_without_torch():
    code = ("import radonml.lmc, radonml.lmc.barriers, radonml.lmc.linear, radonml.lmc.deep_linear\n"
            "import radonml.linear, radonml.dln\n"
            "from radonml.lmc import barrier, PathResult, ExactBarrier, BARRIER_KINDS\n" + _HEAVY_LOADED)
    assert _run(code) == {m: False for m in HEAVY}


@pytest.mark.parametrize("name", OLD_LMC + OLD_LMC_CONSTANTS)
def test_old_lmc_names_are_the_package_objects(name):
    pytest.importorskip("torch")
    lmc = importlib.import_module("radonml.lmc")
    home = importlib.import_module(f"radonml.lmc.{NEW_HOME[name]}")
    assert getattr(lmc, name) is getattr(home, name)
    namespace = {}
    exec(f"from radonml.lmc import {name}", namespace)  # noqa: S102 - the user's import statement
    assert namespace[name] is getattr(home, name)


def test_old_lmc_all_still_listed_and_star_import_works():
    pytest.importorskip("torch")
    lmc = importlib.import_module("radonml.lmc")
    assert set(OLD_LMC) <= set(lmc.__all__)
    namespace = {}
    exec("from radonml.lmc import *", namespace)  # noqa: S102
    assert set(lmc.__all__) <= set(namespace)
    assert set(lmc.__all__) <= set(dir(lmc))


@pytest.mark.parametrize("old, new, names", [("radonml.linear", "radonml.lmc.linear", OLD_LINEAR),
                                             ("radonml.dln", "radonml.lmc.deep_linear", OLD_DLN)])
def test_old_exact_path_modules_re_export_the_same_objects(old, new, names):
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    assert set(names) <= set(old_mod.__all__)
    for name in names:
        assert getattr(old_mod, name) is getattr(new_mod, name), name
    assert old_mod.PathResult is importlib.import_module("radonml.lmc").PathResult
    import radonml

    assert getattr(radonml, old.split(".")[1]) is old_mod  # radonml.linear, radonml.dln as attributes


def test_unknown_names_raise_attribute_error():
    lmc = importlib.import_module("radonml.lmc")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        lmc.nope  # noqa: B018


def test_core_stub_names_every_compiled_function_and_enum():
    import ast
    import pathlib

    from radonml import _core

    tree = ast.parse((pathlib.Path(_core.__file__).parent / "_core.pyi").read_text())
    stubbed = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stubbed.update({n.target.id: n for n in tree.body  # module constants (``max_threads: int``)
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and not n.target.id.startswith("_")})
    compiled = {n for n in dir(_core) if not n.startswith("_")}
    assert set(stubbed) == compiled
    for name in compiled:
        obj = getattr(_core, name)
        if hasattr(obj, "__members__"):  # py::enum_: the stub lists the same members
            members = [t.target.id for t in stubbed[name].body
                       if isinstance(t, ast.AnnAssign) and t.target.id != "__members__"]
            assert members == list(obj.__members__), name
        elif callable(obj) and not isinstance(obj, type):  # the stub's parameters are the binding's
            params = [a.arg for a in stubbed[name].args.args]
            signature = obj.__doc__.splitlines()[0]
            assert signature.startswith(f"{name}("), signature
            assert re.findall(r"[(,] ?(\w+): ", signature) == params, (name, signature)
