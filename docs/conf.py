"""Sphinx configuration of the LATTE-RTL documentation (MyST Markdown pages).

Build: .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html   (tests/docs/test_site.py runs it)
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))    # cli_reference: the CLI reference directives
sys.path.insert(0, str(DOCS.parent))      # latte_rtl itself, also when it is not installed

from latte_rtl import __version__  # noqa: E402

project = "LATTE-RTL"
author = "the LATTE-RTL authors"
copyright = "the LATTE-RTL authors, Apache License 2.0"
version = release = __version__

extensions = ["myst_parser", "cli_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_heading_anchors = 4          # links like protocol.md#the-fine-print resolve to headings
myst_enable_extensions = ["colon_fence"]
highlight_language = "none"       # unlabelled blocks are waveforms, trees and tables, not Python
smartquotes = False              # "--attention" in help texts stays two hyphens, not an en dash

try:
    import furo  # noqa: F401

    html_theme = "furo"
except ImportError:  # the built-in theme: the site still builds without the dev extra's theme
    html_theme = "alabaster"
html_title = f"LATTE-RTL {release}"
html_static_path = []
