"""The public API of radonml, each object under the one name the documentation gives it.

Used by ``tests/test_docstrings.py`` (every public name is listed in ``docs/api.rst`` and
documented to the numpydoc standard) and run as a script to print the API page's skeleton.
"""

import importlib
import sys
from pathlib import Path

# The namespaces the API reference documents, in order: each object is listed under the first
# of these that exports it (radonml.radon's names under radonml, the aggregator families'
# under radonml.aggregators, ...). radonml.linear and radonml.dln are kept import paths of
# radonml.lmc.linear and radonml.lmc.deep_linear (the same objects).
NAMESPACES = (
    "radonml",
    "radonml.aggregators",
    "radonml.attacks",
    "radonml.sklearn",
    "radonml.torch",
    "radonml.flower",
    "radonml.federated",
    "radonml.lmc",
    "radonml.lmc.linear",
    "radonml.lmc.deep_linear",
    "radonml.flatness",
    "radonml.robust",
    "radonml.datasets",
    "radonml.plot",
    "radonml.cli",
    # submodules with public names of their own (the building blocks of the names above)
    "radonml.aggregators.geometric",
    "radonml.lmc.permutations",
    "radonml.lmc.batchnorm",
    "radonml.lmc.renormalization",
    "radonml.cli.compare",
    "radonml.cli.federated",
    "radonml.cli.lmc",
    "radonml.cli.robust",
    "radonml.robust.oneshot",
    "radonml.robust.federated",
    "radonml.robust.grid",
)

# Public modules whose names all appear in one of the namespaces above.
SUBMODULES = (
    "radonml.radon",
    "radonml.exceptions",
    "radonml.aggregators.coordinate",
    "radonml.aggregators.distance",
    "radonml.aggregators.preaggregators",
    "radonml.federated.splits",
    "radonml.federated.learners",
    "radonml.federated.protocols",
    "radonml.federated.simulation",
    "radonml.flatness.measures",
    "radonml.flatness.fam",
    "radonml.lmc.barriers",
    "radonml.lmc.groups",
    "radonml.lmc.interpolation",
    "radonml.lmc.evaluators",
    "radonml.lmc.layerwise",
    "radonml.lmc.robustness",
    "radonml.lmc.subspaces",
    "radonml.lmc.training",
    "radonml.lmc.alignment",
    "radonml.robust.capture",
    "radonml.robust.result",
    "radonml.linear",
    "radonml.dln",
)


def _import(name, missing):
    """Import a module; None (and its name added to ``missing``) when an optional
    dependency (torch, flwr) is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split(".")[0] in OPTIONAL_DEPENDENCIES:
            missing.append(name)
            return None
        raise


OPTIONAL_DEPENDENCIES = ("torch", "flwr", "ray")


def public_objects(missing=None):
    """``{qualified documented name: object}`` for every name in a public ``__all__``.

    Parameters
    ----------
    missing : list, optional
        Receives the names of the modules skipped because an optional dependency (torch,
        flwr) is not installed; without it, such a module raises.

    Returns
    -------
    documented : dict
        Documented name (``"radonml.aggregators.krum"``) to the object.
    elsewhere : dict
        Every other public name (``"radonml.aggregators.distance.krum"``) to its documented
        name; a name that no namespace exports maps to None.
    """
    skipped = [] if missing is None else missing
    documented, by_id = {}, {}
    for ns in NAMESPACES:
        mod = _import(ns, skipped) if missing is not None else importlib.import_module(ns)
        if mod is None:
            continue
        for name in mod.__all__:
            obj = getattr(mod, name)
            key = id(obj)
            if key not in by_id:
                by_id[key] = f"{ns}.{name}"
                documented[f"{ns}.{name}"] = obj
    elsewhere = {}
    for sub in SUBMODULES:
        mod = _import(sub, skipped) if missing is not None else importlib.import_module(sub)
        if mod is None:
            continue
        for name in mod.__all__:
            obj = getattr(mod, name)
            key = id(obj)
            elsewhere[f"{sub}.{name}"] = by_id.get(key)
    return documented, elsewhere


TITLES = {
    "radonml": "radonml: Radon points, aggregation, warnings and errors",
    "radonml.aggregators": "radonml.aggregators: the aggregator registry and the robust catalogue",
    "radonml.attacks": "radonml.attacks: Byzantine attacks",
    "radonml.sklearn": "radonml.sklearn: the Radon machine for scikit-learn",
    "radonml.torch": "radonml.torch: PyTorch models as vectors",
    "radonml.flower": "radonml.flower: Flower strategies",
    "radonml.federated": "radonml.federated: distributed learning protocols",
    "radonml.lmc": "radonml.lmc: (layer-wise) linear mode connectivity",
    "radonml.lmc.linear": "radonml.lmc.linear: exact paths of linear models",
    "radonml.lmc.deep_linear": "radonml.lmc.deep_linear: exact paths of deep linear networks",
    "radonml.flatness": "radonml.flatness: relative flatness and FAM",
    "radonml.robust": "radonml.robust: the robust-aggregation benchmark",
    "radonml.datasets": "radonml.datasets: data generated or shipped offline",
    "radonml.plot": "radonml.plot: figures",
    "radonml.cli": "radonml.cli: the command line",
}


def write_pages(folder):
    """Write ``index.rst`` and one page per namespace of :data:`NAMESPACES` into ``folder``.

    Parameters
    ----------
    folder : str or pathlib.Path
        The API reference's folder (``docs/api``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    documented, _ = public_objects()
    pages = []
    for ns in NAMESPACES:
        names = [q[len(ns) + 1:] for q in documented if q.rsplit(".", 1)[0] == ns]
        title = TITLES.get(ns, ns)
        lines = [
            ".. This page is generated by tools/api_names.py (python tools/api_names.py docs/api).",
            "",
            title,
            "=" * len(title),
            "",
            f".. automodule:: {ns}",
            "   :no-members:",
            "",
            f".. currentmodule:: {ns}",
            "",
            ".. autosummary::",
            "   :toctree: ../generated",
            "",
        ]
        lines += [f"   {n}" for n in names] + [""]
        (folder / f"{ns}.rst").write_text("\n".join(lines))
        pages.append(ns)
    index = [
        ".. This page is generated by tools/api_names.py (python tools/api_names.py docs/api).",
        "",
        "API reference",
        "=============",
        "",
        "Every public name, generated from its docstring. Names are listed where users import them",
        "from; the modules they are defined in are named on each page.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ] + [f"   {ns}" for ns in pages] + [""]
    (folder / "index.rst").write_text("\n".join(index))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write_pages(sys.argv[1])
    else:
        documented, elsewhere = public_objects()
        print("\n".join(documented))
        print("-- not in a namespace:", [k for k, v in elsewhere.items() if v is None])
