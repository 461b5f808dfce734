"""
The ``highlevel`` asset URI scheme registered in the provider info: Airflow validates a hand-written asset with
the provider's normaliser, and OpenLineage names it as the operators name their datasets.
"""

from __future__ import annotations

import pytest
from airflow.providers.openlineage.utils.utils import translate_airflow_asset
from airflow.sdk import Asset

from airflow_provider_contacts.assets import KINDS, contacts_asset, create_asset, sanitize_uri
from airflow_provider_contacts.lineage import highlevel_datasets


def test_airflow_uses_the_providers_normaliser_factory_and_converter() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    assert manager.asset_uri_handlers["highlevel"] is sanitize_uri
    assert manager.asset_factories["highlevel"] is create_asset
    assert (
        manager.asset_to_openlineage_converters["highlevel"].__module__ == "airflow_provider_contacts.assets"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_hand_written_asset_is_the_providers_asset(kind: str) -> None:
    written = Asset(f"HighLevel://ve9EPM428h8vShlRW1KT/{kind}/")
    assert (
        written.uri
        == contacts_asset("ve9EPM428h8vShlRW1KT", kind).uri
        == f"highlevel://ve9EPM428h8vShlRW1KT/{kind}"
    )


@pytest.mark.parametrize(
    ("uri", "wrong"),
    [
        ("highlevel://loc1/deals", "kind"),
        ("highlevel://loc1/Contacts", "kind"),
        ("highlevel://loc1", "kind"),
        ("highlevel://loc1/contacts/extra", "kind"),
        ("highlevel://loc1/contacts?since=1", "highlevel://<location id>/<kind>"),
        ("highlevel:///contacts", "location_id"),
        ("highlevel://loc1:443/contacts", "location_id"),
        ("highlevel://user@loc1/contacts", "highlevel://<location id>/<kind>"),
        ("highlevel://loc%2F1/contacts", "location_id"),
        ("highlevel://lo.c1/contacts", "location_id"),
        ("highlevel://" + "a" * 65 + "/contacts", "location_id"),
    ],
)
def test_a_bad_highlevel_uri_is_refused(uri: str, wrong: str) -> None:
    with pytest.raises(ValueError, match="HighLevel asset") as error:
        Asset(uri)
    assert wrong in str(error.value)


@pytest.mark.parametrize(("location", "kind"), [("loc1", "deals"), ("", "contacts"), ("a/b", "contacts")])
def test_the_helper_refuses_what_the_uri_refuses(location: str, kind: str) -> None:
    with pytest.raises(ValueError, match="HighLevel asset"):
        contacts_asset(location, kind)


def test_the_factory_makes_the_helpers_asset_with_an_extra() -> None:
    made = create_asset(location_id="loc1", kind="notes", extra={"team": "sales"})
    assert (made.name, made.uri, made.group, made.extra) == (
        "highlevel_notes_loc1",
        "highlevel://loc1/notes",
        "notes",
        {"team": "sales"},
    )


@pytest.mark.parametrize("kind", KINDS)
def test_openlineage_names_an_asset_as_the_operators_name_their_dataset(kind: str) -> None:
    """An asset written in a DAG and the dataset a sync or transfer reports are one node in the lineage graph."""
    converted = translate_airflow_asset(contacts_asset("ve9EPM428h8vShlRW1KT", kind), lineage_context=None)
    (reported,) = highlevel_datasets("ve9EPM428h8vShlRW1KT", [kind])
    assert converted is not None
    assert (converted.namespace, converted.name) == (reported.namespace, reported.name)
    assert (converted.namespace, converted.name) == ("highlevel://ve9EPM428h8vShlRW1KT", kind)
