from __future__ import annotations

import importlib
import json
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_contacts.get_provider_info import get_provider_info


def test_provider_info_validates_against_installed_schema():
    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_hook_class_imports():
    info = get_provider_info()
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[kind]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for conn in info["connection-types"]:
        module_name, _, class_name = conn["hook-class-name"].rpartition(".")
        hook_class = getattr(importlib.import_module(module_name), class_name)
        assert hook_class.conn_type == conn["connection-type"] == "contacts"


def test_connection_form_is_declarative_and_marks_the_refresh_token_secret():
    conn = get_provider_info()["connection-types"][0]
    assert conn["conn-fields"]["refresh_token"]["schema"]["format"] == "password"
    assert "location_id" in conn["conn-fields"]


def test_airflow_discovers_the_provider_its_hook_and_form_fields():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert "airflow-provider-contacts" in manager.providers
    hook_info = ProvidersManagerTaskRuntime().hooks["contacts"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_contacts.hooks.contacts.ContactsHook"
    widgets = manager.connection_form_widgets
    assert "extra__contacts__location_id" in widgets
    assert widgets["extra__contacts__refresh_token"].is_sensitive
    assert manager.field_behaviours["contacts"]["hidden_fields"] == ["schema", "port"]


def test_connection_form_defaults_authentication_to_oauth():
    """The form shows the hook's own default (``oauth``), not ``null`` (issue 10, finding 5)."""
    from airflow.providers_manager import ProvidersManager

    widget = ProvidersManager().connection_form_widgets["extra__contacts__auth_type"]
    assert widget.field["value"] == "oauth"
    assert widget.field["schema"]["default"] == "oauth"


def test_every_extra_the_provider_reads_is_a_form_field():
    """A setting only the JSON extra could hold (``rate_limit_backend`` was one) is missing from the form."""
    import re

    import airflow_provider_contacts

    package = Path(airflow_provider_contacts.__file__).parent
    read = {
        key
        for path in package.rglob("*.py")
        if "sandbox" not in path.parts
        for pattern in (r'extra\.get\("([a-z_]+)"', r'_number\(conn_id, extra, "([a-z_]+)"')
        for key in re.findall(pattern, path.read_text())
    }
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert {"rate_limit_backend", "company_id", "auth_type", "max_retries", "rate_limit_window"} <= read
    assert read - set(fields) == set()


def test_the_rate_budget_url_is_sensitive_and_agency_is_an_authentication():
    """A Redis URL may carry a password: the form masks it and Airflow redacts it."""
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    assert widgets["extra__contacts__rate_limit_backend"].is_sensitive
    assert "agency" in widgets["extra__contacts__auth_type"].field["schema"]["enum"]


def _classes_by_module(base: type) -> dict[str, set[type]]:
    """The provider's classes derived from ``base`` that nothing in the provider derives from, by module."""
    import inspect
    import pkgutil

    import airflow_provider_contacts

    found: set[type] = set()
    for info in pkgutil.walk_packages(airflow_provider_contacts.__path__, "airflow_provider_contacts."):
        module = importlib.import_module(info.name)
        found.update(
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and issubclass(obj, base)
        )
    leaves = {cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)}
    by_module: dict[str, set[type]] = {}
    for cls in leaves:
        by_module.setdefault(cls.__module__, set()).add(cls)
    return by_module


def _listed(kind: str) -> set[str]:
    return {module for entry in get_provider_info()[kind] for module in entry["python-modules"]}


def test_every_list_of_modules_is_what_the_code_defines():
    """``hooks`` lists hook modules only (it listed ``hooks.auth``, which holds no hook), and none is left out."""
    from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator
    from airflow.triggers.base import BaseTrigger

    info = get_provider_info()
    transfers = {entry["python-module"] for entry in info["transfers"]}
    operators = {m for m in _classes_by_module(BaseOperator) if "sandbox" not in m}
    sensors = set(_classes_by_module(BaseSensorOperator))
    assert _listed("hooks") == set(_classes_by_module(BaseHook))
    assert _listed("sensors") == sensors
    assert _listed("operators") == operators - sensors - transfers
    assert transfers <= operators
    assert _listed("triggers") == set(_classes_by_module(BaseTrigger))


def test_extra_links_are_the_ones_the_operators_carry():
    from airflow.sdk import BaseOperator, BaseOperatorLink

    carried = {
        f"{type(link).__module__}.{type(link).__qualname__}"
        for classes in _classes_by_module(BaseOperator).values()
        for cls in classes
        for link in cls.operator_extra_links
    }
    assert (
        carried
        == set(get_provider_info()["extra-links"])
        == {"airflow_provider_contacts.links.HighLevelContactLink"}
    )
    for path in carried:
        module, _, name = path.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink)


def test_asset_uri_entries_import():
    (entry,) = get_provider_info()["asset-uris"]
    assert entry["schemes"] == ["highlevel"]
    for key in ("handler", "factory", "to_openlineage_converter"):
        module, _, name = entry[key].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_the_version_lives_in_one_place():
    """pyproject reads ``__version__``; the provider info reports it (the package check compares the wheel)."""
    import tomllib

    import airflow_provider_contacts

    pyproject = tomllib.loads(
        (Path(airflow_provider_contacts.__file__).parent.parent / "pyproject.toml").read_text()
    )
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "airflow_provider_contacts.__version__"
    }
    assert get_provider_info()["versions"] == [airflow_provider_contacts.__version__]
