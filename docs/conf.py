"""Sphinx configuration for ndgrad's documentation.

Build: python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# the gallery runs the examples in their small configuration, with plots but no windows
os.environ.setdefault("NDGRAD_EXAMPLES_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from png_scraper import PNGScraper  # noqa: E402

import ndgrad  # noqa: E402

project = "ndgrad"
author = "the ndgrad developers"
copyright = "2026, the ndgrad developers"
version = release = ndgrad.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "coverage_tables",
    "benchmark_tables",
    "readme_sections",
]

exclude_patterns = ["_build", "_generated", "sg_execution_times.rst", "auto_examples/*.ipynb"]
templates_path = ["_templates"]

html_theme = "pydata_sphinx_theme"
html_title = f"ndgrad {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # types are in the numpydoc Parameters sections
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# no intersphinx: the build must work offline, and warnings are errors


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example (small sizes: NDGRAD_EXAMPLES_QUICK)
    "image_scrapers": (PNGScraper(),),
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "plot_gallery": "True",
    "reset_modules": (),
    "capture_repr": (),
}
