"""
The documentation site keeps up with the code: every connection extra the provider reads, and every field
of the connection form, is documented on the connection page.

The extras are found in the source (not in a list kept here), so an extra added to the code without a line
in ``docs/connection.rst`` fails this test.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

from airflow_provider_contacts.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_contacts"
CONNECTION_PAGE = ROOT / "docs" / "connection.rst"


def _is_extra(node: ast.AST) -> bool:
    """An expression that holds a connection's extra: a name with ``extra`` in it, or ``….extra_dejson``."""
    if isinstance(node, ast.Name):
        return "extra" in node.id
    if isinstance(node, ast.Attribute):
        return node.attr == "extra_dejson"
    if isinstance(node, ast.BoolOp):  # conn.extra_dejson or {}
        return any(_is_extra(value) for value in node.values)
    return False


def _text(node: ast.AST) -> set[str]:
    """The string a node holds when it is a string literal (as a one-element set), else nothing."""
    return {node.value} if isinstance(node, ast.Constant) and isinstance(node.value, str) else set()


def extras_read(source: str) -> set[str]:
    """
    The extra keys a module reads: ``extra.get("key")``, ``extra["key"]``,
    ``(conn.extra_dejson or {}).get("key")`` and helpers called with ``(…, extra, "key", …)``.

    :param source: a module's source.
    """
    keys: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func, args = node.func, node.args
            if isinstance(func, ast.Attribute) and func.attr == "get" and _is_extra(func.value) and args:
                keys |= _text(args[0])
            for before, arg in itertools.pairwise(args):
                if _is_extra(before):
                    keys |= _text(arg)
        elif isinstance(node, ast.Subscript) and _is_extra(node.value):
            keys |= _text(node.slice)
    return keys


def provider_extras() -> set[str]:
    """Every extra key the provider's code reads (the sandbox, a test server, excepted)."""
    keys: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "sandbox" not in path.relative_to(PACKAGE).parts:
            keys |= extras_read(path.read_text(encoding="utf-8"))
    return keys


def documented_names() -> set[str]:
    """The names written as ``literal`` in the first column of the connection page's tables."""
    return set(re.findall(r"^   \* - ``([a-z_0-9]+)``", CONNECTION_PAGE.read_text(encoding="utf-8"), re.M))


def test_the_scan_finds_the_forms_it_is_meant_to_find():
    source = (
        "def f(conn, extra):\n"
        "    a = extra.get('one')\n"
        "    b = extra['two']\n"
        "    c = (conn.extra_dejson or {}).get('three')\n"
        "    d = _number(conn_id, extra, 'four', 1.0, 0)\n"
        "    e = other.get('not_an_extra')\n"
    )
    assert extras_read(source) == {"one", "two", "three", "four"}


def test_every_extra_the_provider_reads_is_documented():
    read = provider_extras()
    # The scan must see the settings parser and the webhook receiver, or it proves nothing.
    assert {"location_id", "auth_type", "requests_per_10s", "webhook_public_key", "token_file"} <= read
    missing = sorted(read - documented_names())
    assert not missing, f"extras read by the provider but not documented in docs/connection.rst: {missing}"


def test_every_field_of_the_connection_form_is_documented():
    (connection_type,) = get_provider_info()["connection-types"]
    behaviour = connection_type["ui-field-behaviour"]
    fields = (
        set(connection_type["conn-fields"]) | set(behaviour["relabeling"]) | set(behaviour["hidden-fields"])
    )
    missing = sorted(fields - documented_names())
    assert not missing, f"connection form fields not documented in docs/connection.rst: {missing}"
