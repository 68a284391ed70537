"""Sphinx configuration: API pages from the numpydoc docstrings, a gallery of examples.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors).
"""

import os
import sys
from pathlib import Path

import sklearn_seqinv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The examples train small torch models: one thread each keeps the build quiet on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "sklearn_seqinv"
author = "The sklearn_seqinv developers"
copyright = "2026, The sklearn_seqinv developers"
version = release = sklearn_seqinv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Intersphinx would fetch inventories over the network; references stay local.
intersphinx_mapping = {}
nitpicky = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "reset_modules": ("matplotlib",),
}

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Domain-generalizing multimodal sentiment analysis"}
suppress_warnings = ["config.cache"]
