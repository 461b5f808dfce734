"""Sphinx configuration of the provider's documentation site (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "airflow-provider-contacts"
author = "airflow-provider-contacts contributors"

extensions = [
    "autoapi.extension",
    "myst_parser",
    "sphinx.ext.napoleon",
    "optional_include",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "HighLevel Contacts provider"

autoapi_type = "python"
autoapi_dirs = [str(ROOT / "airflow_provider_contacts")]
autoapi_root = "api"
autoapi_ignore = ["*/sandbox/*"]
autoapi_add_toctree_entry = False
autoapi_keep_files = False
autoapi_python_class_content = "both"
autoapi_options = ["members", "undoc-members", "show-inheritance", "show-module-summary", "imported-members"]
autoapi_member_order = "groupwise"

myst_heading_anchors = 3
nitpicky = True

# Names outside this package (the standard library, Airflow, requests ...) have no inventory here: the
# build runs offline, so intersphinx is not used. Every reference into the package itself must resolve.
nitpick_ignore_regex = [(r"py:.*", r"(?!airflow_provider_contacts\.).*")]
# autoapi cannot follow names that engines/records.py defines by tuple unpacking; they are documented there.
suppress_warnings = ["autoapi.python_import_resolution"]


def _only_this_package() -> None:
    """
    Keep autoapi's static analysis (astroid) inside this package and the standard library.

    Left alone, astroid parses every third-party module the package imports (Airflow, SQLAlchemy ...) to
    infer values, which is two thirds of the build's time and adds nothing but the docstrings of Airflow's
    own methods: base classes and annotations are written from the import statements either way.
    """
    from astroid.exceptions import AstroidImportError
    from astroid.manager import AstroidManager

    original = AstroidManager.ast_from_module_name

    def ast_from_module_name(self, modname, context_file=None, use_cache=True):  # type: ignore[no-untyped-def]
        top = (modname or "").split(".", 1)[0]
        if top and top != "airflow_provider_contacts" and top not in sys.stdlib_module_names:
            raise AstroidImportError(f"not analysed for the docs: {modname}")
        return original(self, modname, context_file=context_file, use_cache=use_cache)

    AstroidManager.ast_from_module_name = ast_from_module_name  # type: ignore[method-assign]


_only_this_package()
