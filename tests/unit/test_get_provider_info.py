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
