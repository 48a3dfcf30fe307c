"""Sphinx configuration of the hm_neuro documentation (sphinx-build -W docs docs/_build/html)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import hm_neuro  # noqa: E402

project = "hm_neuro"
author = "the hm_neuro developers"
copyright = "2026, the hm_neuro developers"
release = version = hm_neuro.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "gallery/README.rst",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.json",
]
html_theme = "furo"
html_title = "hm_neuro"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "ignore-module-all": True,
    # scikit-learn's generated metadata-routing setters
    "exclude-members": "set_fit_request, set_partial_fit_request, set_score_request, set_transform_request, set_output",
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = True
napoleon_numpy_docstring = True
napoleon_google_docstring = False
nitpicky = False
suppress_warnings = ["myst.xref_missing", "autosummary.import_cycle"]

sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}
