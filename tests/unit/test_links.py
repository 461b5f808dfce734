"""The "HighLevel contact" link's address: ids are path segments, never path or query syntax."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_contacts.links import HighLevelContactLink, contact_url, link_contact


def test_the_contact_page() -> None:
    assert contact_url("ve9EPM428h8vShlRW1KT", "ocQHyuzHvysMo5N5VsXc") == (
        "https://app.gohighlevel.com/v2/location/ve9EPM428h8vShlRW1KT/contacts/detail/ocQHyuzHvysMo5N5VsXc"
    )


def test_hostile_ids_stay_inside_their_segment() -> None:
    url = contact_url("loc/../x", "a/b?c=1#d")
    assert url == "https://app.gohighlevel.com/v2/location/loc%2F..%2Fx/contacts/detail/a%2Fb%3Fc%3D1%23d"


@pytest.mark.parametrize(("location", "contact"), [("loc1", None), ("loc1", ""), (None, "c1"), ("loc1", 42)])
def test_no_link_without_a_contact_and_its_location(location: object, contact: object) -> None:
    operator = SimpleNamespace()
    link_contact(operator, location, contact)  # type: ignore[arg-type]
    assert HighLevelContactLink().get_link(operator, ti_key=None) == ""  # type: ignore[arg-type]


def test_the_link_of_a_remembered_contact() -> None:
    operator = SimpleNamespace()
    link_contact(operator, "loc1", "c1")
    assert HighLevelContactLink().get_link(operator, ti_key=None) == contact_url("loc1", "c1")  # type: ignore[arg-type]
    assert HighLevelContactLink().name == "HighLevel contact"
