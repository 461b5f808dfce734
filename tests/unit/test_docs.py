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


# ------------------------------------------------------------------------------------- the setup guide

SETUP_PAGE = ROOT / "docs" / "highlevel-setup.rst"
EXAMPLE_DAGS = ROOT / "example_dags"


def _setup_text() -> str:
    return SETUP_PAGE.read_text(encoding="utf-8")


def scope_string() -> list[str]:
    """The scopes of the guide's one scope string (the text block after its heading)."""
    block = _setup_text().split(".. code-block:: text\n\n", 1)[1].split("\n\n", 1)[0]
    return block.split()


def scope_table() -> dict[str, set[str]]:
    """DAG id -> the scopes the guide's table gives it."""
    table = _setup_text().split("Scopes per example DAG", 1)[1].split("Step by step", 1)[0]
    rows = re.findall(r"^   \* - ``([a-z_]+)``\n     - (.*?)\n     - ", table, re.M | re.S)
    return {
        dag_id: set(re.findall(r"[a-z]+(?:/[A-Za-z]+)?\.(?:readonly|write)", scopes))
        for dag_id, scopes in rows
    }


def example_dag_ids() -> set[str]:
    text = "".join(path.read_text(encoding="utf-8") for path in EXAMPLE_DAGS.glob("*.py"))
    return set(re.findall(r'dag_id="([a-z_]+)"', text))


def test_the_scope_string_covers_every_dag_and_is_the_one_in_the_authorization_url():
    scopes = scope_string()
    assert "contacts.write" in scopes and len(scopes) == len(set(scopes))
    table = scope_table()
    assert set(table) == example_dag_ids()
    for dag_id, needed in table.items():
        assert needed <= set(scopes), (
            f"{dag_id}: {sorted(needed - set(scopes))} missing from the scope string"
        )
    (url_scopes,) = re.findall(r"chooselocation\?[^\n]*?&scope=(\S+)", _setup_text())
    assert url_scopes.split("%20") == scopes


def example_sources() -> list[Path]:
    """The example DAG files and their helpers (``example_dags/dag_support/``)."""
    return sorted(EXAMPLE_DAGS.rglob("*.py"))


def test_every_environment_variable_of_the_example_dags_is_documented():
    text = "".join(path.read_text(encoding="utf-8") for path in example_sources())
    read = set(re.findall(r"""(?:environ\.get|getenv|environ\[)\(?\s*["']([A-Z0-9_]+)["']""", text))
    assert {"CONTACTS_CONN_ID", "CONTACTS_LOCATION_ID", "CONTACTS_AGENCY_CONN_ID"} <= read
    documented = set(re.findall(r"^   \* - ``([A-Z0-9_]+)``", _setup_text(), re.M))
    assert not sorted(read - documented), f"undocumented: {sorted(read - documented)}"


def custom_field_keys() -> set[str]:
    """Custom fields the example DAGs name: ``customFields.<key>`` mappings and ``*_FIELD = "<key>"`` constants."""
    keys: set[str] = set()
    for path in example_sources():
        source = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'"customFields\.([a-z0-9_]+)"', source))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign):
                targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for target, value in zip(targets, values, strict=False):
                    if isinstance(target, ast.Name) and target.id.endswith("_FIELD"):
                        keys |= _text(value)
    return keys


def test_every_custom_field_the_example_dags_expect_is_documented():
    keys = custom_field_keys()
    assert {"customer_since", "status", "last_event"} <= keys
    section = _setup_text().split("Custom fields the DAGs expect", 1)[1]
    documented = set(re.findall(r"^   \* - ``([a-z0-9_]+)``", section, re.M))
    assert keys <= documented, f"undocumented: {sorted(keys - documented)}"
