"""Sphinx configuration of radonml's documentation.

Build (what ``.ci/run`` does, warnings as errors)::

    pip install '.[docs,torch]'
    sphinx-build -W --keep-going -b html docs docs/_build/html

The API reference is generated from the docstrings (autosummary + numpydoc); the example
gallery (sphinx-gallery) runs every script in ``examples/gallery`` and shows its figures.
"""

import os
import warnings

import radonml

project = "radonml"
author = "radonml developers"
copyright = "radonml developers"
release = radonml.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",  # CHANGELOG.md
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "sg_execution_times.rst"]
root_doc = "index"
default_role = "py:obj"  # `name` in docstrings links like :obj:`name`
nitpicky = False

# -- API reference ------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
add_module_names = False
numpydoc_show_class_members = False  # autosummary lists the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


# Docstring fixes for files that other branches were editing when the site was set up
# (radonml.datasets, radonml.sklearn): applied at build time so that the site builds with
# warnings as errors. Each entry is (object path, text, replacement); the lead applies them to
# the source at merge and deletes the entry (tests/test_docstrings.py fails while an entry's
# text is no longer in the docstring, so none outlives its fix).
PENDING_DOCSTRING_FIXES = []


def _apply_pending_fixes(app, what, name, obj, options, lines):
    for path, old, new in PENDING_DOCSTRING_FIXES:
        if name == path:
            lines[:] = "\n".join(lines).replace(old, new).split("\n")


def setup(app):
    app.connect("autodoc-process-docstring", _apply_pending_fixes, priority=100)


# -- Example gallery ----------------------------------------------------------------------
os.environ.setdefault("MPLBACKEND", "Agg")
sphinx_gallery_conf = {
    "examples_dirs": ["../examples/gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",  # every plot_*.py runs at build time
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "reference_url": {"radonml": None},  # link functions used in the examples to the API pages
    "doc_module": ("radonml",),
    "backreferences_dir": "generated/backreferences",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}
# The examples train tiny models: one BLAS / OpenMP thread is fastest for them and does not
# oversubscribe a small machine (scipy's L-BFGS under scikit-learn's LogisticRegression ran
# 4x slower with two contending OpenBLAS threads on the 2-core CI machine).
from threadpoolctl import threadpool_limits  # noqa: E402

_THREAD_LIMITS = threadpool_limits(1)
try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:  # the API pages need no torch at import time; the torch examples do
    pass
# torch's own deprecation notices are not the examples' concern
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)

# -- Cross-references to the libraries radonml builds on ------------------------------------
# Offline builds (CI has no network beyond package registries): no inventories are fetched;
# external names render as plain code.
intersphinx_mapping = {}

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"radonml {release}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path = []
html_show_sourcelink = False
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
suppress_warnings = ["myst.header"]  # CHANGELOG.md starts at level 1 inside the page
