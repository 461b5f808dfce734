"""Record sources, field mapping, transforms, validation messages and diffs of SyncContactsOperator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.engines.contact_mapping import (
    ContactMapper,
    InvalidSourceRecord,
    RecordError,
    RecordSource,
    normalize_email,
    normalize_phone,
)
from airflow_provider_contacts.exceptions import ContactsConfigError
from tests.unit.operators.conftest import FakeContactsApi

DEFINITIONS = FakeContactsApi.CUSTOM_FIELDS


def mapper(**kwargs: Any) -> ContactMapper:
    return ContactMapper(custom_fields=lambda: DEFINITIONS, **kwargs)


# ------------------------------------------------------------------------------------------- sources


def test_csv_and_ndjson_are_read_lazily_and_again_on_each_pass(tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("\ufeffmail,name\na@x.io,Ada\nb@x.io,Bob\n", encoding="utf-8")
    source = RecordSource(str(csv_file))
    rows = iter(source)
    assert next(rows) == {"mail": "a@x.io", "name": "Ada"}  # BOM stripped, first row only so far
    assert list(source) == [{"mail": "a@x.io", "name": "Ada"}, {"mail": "b@x.io", "name": "Bob"}]

    ndjson = tmp_path / "people.ndjson"
    ndjson.write_text('{"email": "a@x.io"}\n\nnot json\n[1]\n{"email": "b@x.io"}\n')
    items = list(RecordSource(ndjson))
    assert items[0] == {"email": "a@x.io"}
    assert isinstance(items[1], InvalidSourceRecord) and "line 3 is not valid JSON" in items[1].reason
    assert isinstance(items[2], InvalidSourceRecord) and "is a list, not an object" in items[2].reason
    assert items[3] == {"email": "b@x.io"}


def test_json_file_array_or_records_key(tmp_path: Path) -> None:
    plain = tmp_path / "a.json"
    plain.write_text(json.dumps([{"email": "a@x.io"}]))
    wrapped = tmp_path / "b.json"
    wrapped.write_text(json.dumps({"records": [{"email": "b@x.io"}]}))
    assert list(RecordSource(plain)) == [{"email": "a@x.io"}]
    assert list(RecordSource(wrapped)) == [{"email": "b@x.io"}]


def test_one_shot_iterators_are_kept_for_the_second_pass() -> None:
    source = RecordSource(r for r in [{"email": "a@x.io"}])
    assert list(source) == list(source) == [{"email": "a@x.io"}]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"email": "a@x.io"}, "not one dict"),
        (42, "list of dicts or a file path"),
        ("people.xlsx", "use a .json, .ndjson, .jsonl or .csv file"),
        ("missing.csv", "records file .*missing.csv does not exist"),
    ],
)
def test_unusable_sources_are_config_errors(
    records: Any, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "people.xlsx").write_bytes(b"PK")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContactsConfigError, match=message):
        RecordSource(records)


# ------------------------------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(415) 555-0100", "1", "+14155550100"),
        ("1-415-555-0100", "1", "+14155550100"),
        ("+44 20 7946 0958", "1", "+442079460958"),
        ("0044 20 7946 0958", "1", "+442079460958"),
        ("020 7946 0958", "44", "+442079460958"),
        ("030 1234567", "+49", "+49301234567"),
        (4155550100, "1", "+14155550100"),
    ],
)
def test_phones_become_e164(raw: Any, country: str, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("555-0100", "1", "North American"),
        ("call me", "1", "is not a phone number"),
        ("+1 415 555 0100 ext 7", "1", "is not a phone number"),
        ("1234", "44", "8 to 15 digits"),
        ("020 7946 0958", None, "no country code"),
    ],
)
def test_bad_phones_fail(raw: str, country: str | None, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        normalize_phone(raw, country)


def test_emails_are_stripped_lowered_and_checked() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("ada@", "ada.example.com", "a b@x.io", "ada@x"):
        with pytest.raises(RecordError, match="not a valid e-mail"):
            normalize_email(bad)
    with pytest.raises(RecordError, match="longer than 254"):
        normalize_email("a" * 250 + "@x.io")


# ---------------------------------------------------------------------------------------------- map


def test_mapping_with_custom_fields_by_key_and_id_tags_and_nested_sources() -> None:
    m = mapper(
        field_mapping={
            "mail": "email",
            "mobile": "phone",
            "plan": "customFields.plan_key",
            "seats": "customFields.cf_seats",
            "langs": "customFields.contact.langs",
            "labels": "tags",
            "address.city": "city",
            "ignored_when_missing": "lastName",
        },
        tags=["synced", "Synced"],
    )
    record = {
        "mail": " Ada@Example.com ",
        "mobile": "415 555 0100",
        "plan": "gold",
        "seats": "1,200",
        "langs": "en, fr",
        "labels": "vip,synced",
        "address": {"city": "  Paris "},
        "unmapped": "dropped",
    }
    contact = m.map(3, record)
    assert contact.fields == {"email": "ada@example.com", "phone": "+14155550100", "city": "Paris"}
    assert contact.custom == {"cf_plan": "Gold", "cf_seats": 1200, "cf_langs": ["en", "fr"]}
    assert contact.tags == ["synced", "vip"]
    assert contact.label == "mail Ada@Example.com"


@pytest.mark.parametrize("value_key", ["field_value", "fieldValue", "value"])
def test_records_in_the_apis_shape_need_no_mapping(value_key: str) -> None:
    contact = mapper().map(
        0, {"email": "a@x.io", "dnd": "false", "customFields": [{"key": "plan_key", value_key: "gold"}]}
    )
    assert contact.fields == {"email": "a@x.io", "dnd": False}
    assert contact.custom == {"cf_plan": "Gold"}


def test_transforms_by_name_and_callable_after_the_defaults() -> None:
    m = mapper(transforms={"firstName": ["lower", "title"], "email": lambda v: v.replace("+spam", "")})
    contact = m.map(0, {"firstName": "  aDA lovelace ", "email": "Ada+spam@X.io"})
    assert contact.fields == {"firstName": "Ada Lovelace", "email": "ada@x.io"}


def test_empty_values_are_left_out_so_a_sync_never_blanks_a_field() -> None:
    contact = mapper().map(0, {"email": "a@x.io", "firstName": "  ", "lastName": None, "tags": []})
    assert contact.fields == {"email": "a@x.io"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"firstName": "Ada"}, "^record 7: has neither email nor phone"),
        ({"email": "ada@"}, r"record 7 \(email ada@\): field 'email': 'ada@' is not a valid e-mail"),
        (
            {"email": "a@x.io", "phone": "12"},
            r"record 7 \(email a@x.io\): field 'phone': '12' is not a phone",
        ),
        ({"email": "a@x.io", "nickname": "A"}, "field 'nickname' is not a contact field"),
        ({"email": "a@x.io", "dnd": "maybe"}, "field 'dnd': expected true or false, got 'maybe'"),
        ({"email": "a@x.io", "firstName": ["A"]}, "field 'firstName': expected text, got list"),
        ({"email": "a@x.io", "city": "x" * 256}, "field 'city': is 256 characters long, longer than 255"),
        ({"email": "a@x.io", "country": "France"}, "field 'country': 'France' is not an ISO 3166"),
        ({"email": "a@x.io", "dateOfBirth": "31.12.1990"}, "field 'dateOfBirth': '31.12.1990' is not a date"),
        (
            {"email": "a@x.io", "customFields.nope": "x"},
            "field 'customFields.nope': unknown custom field 'nope'",
        ),
        (
            {"email": "a@x.io", "customFields.seats": "many"},
            r"'contact.seats' \(NUMERICAL\) expects a number",
        ),
        ({"email": "a@x.io", "customFields.plan_key": "bronze"}, "'bronze' is not one of Gold, Silver"),
        ({"email": "a@x.io", "customFields.cf_langs": {"en": 1}}, r"\(CHECKBOX\) expects a list of values"),
    ],
)
def test_invalid_records_fail_alone_naming_record_and_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        mapper().map(7, record)


def test_messages_name_the_source_field_and_the_key_field() -> None:
    m = mapper(field_mapping={"id": "source", "mail": "email"}, key_field="id")
    with pytest.raises(RecordError) as caught:
        m.map(2, {"id": "crm-17", "mail": "nope"})
    assert (
        str(caught.value)
        == "record 2 (id crm-17): field 'email' (from 'mail'): 'nope' is not a valid e-mail address"
    )
    assert caught.value.field_name == "email"


def test_a_failing_transform_fails_the_record() -> None:
    def reject(value: str) -> str:
        raise ValueError("blocked domain")

    with pytest.raises(RecordError, match="field 'email': transform failed: blocked domain"):
        mapper(transforms={"email": reject}).map(0, {"email": "a@x.io"})


def test_mapping_problems_are_config_errors_before_any_record() -> None:
    with pytest.raises(ContactsConfigError, match="'nickname' is not a contact field"):
        mapper(field_mapping={"nick": "nickname"})
    with pytest.raises(ContactsConfigError, match="unknown transform 'shout'"):
        mapper(transforms={"email": "shout"})
    with pytest.raises(
        ContactsConfigError, match=r"custom fields this location does not have: customFields\.tier"
    ):
        mapper(field_mapping={"t": "customFields.tier"}).check_mapping()


def test_custom_field_definitions_are_loaded_once_and_only_when_used() -> None:
    loads: list[int] = []

    def load() -> list[dict[str, Any]]:
        loads.append(1)
        return DEFINITIONS

    m = ContactMapper(field_mapping={"e": "email", "p": "customFields.plan_key"}, custom_fields=load)
    plain = ContactMapper(custom_fields=load)
    plain.map(0, {"email": "a@x.io"})
    assert loads == []
    m.check_mapping()
    for i in range(3):
        m.map(i, {"e": f"{i}@x.io", "p": "gold"})
    assert loads == [1]


# --------------------------------------------------------------------------------------------- diff


def test_changes_and_body_against_an_existing_contact() -> None:
    m = mapper(tags=["synced"])
    contact = m.map(
        0,
        {"email": "a@x.io", "phone": "+1 415 555 0100", "firstName": "Ada", "customFields.plan_key": "gold"},
    )
    same = {
        "id": "c1",
        "email": "A@x.io",
        "phone": "+14155550100",
        "firstName": "Ada",
        "tags": ["Synced", "vip"],
        "customFields": [{"id": "cf_plan", "value": "Gold"}],
    }
    assert m.changes(contact, same) == []
    differs = {**same, "firstName": "Ann", "tags": ["vip"], "customFields": []}
    assert m.changes(contact, differs) == ["firstName", "customFields.cf_plan", "tags"]
    body = m.body(contact, differs)
    assert body["tags"] == [
        "vip",
        "synced",
    ]  # the contact's tags are kept: tags in an upsert replace the list
    assert body["customFields"] == [{"id": "cf_plan", "field_value": "Gold"}]
    assert m.body(contact, None)["tags"] == ["synced"]
    assert "tags" not in mapper().body(mapper().map(0, {"email": "a@x.io"}), same)
