"""Bad input: malformed records, operator arguments and connection settings.

Each gives a clear error that names the field (and the record), and nothing else is lost: the good records of
the same batch all land, exactly once, and a refused connection sends no request at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_contacts.auth import MemoryTokenStore
from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError, ContactsPermissionError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.reliability.conftest import CONN_ENV, emails_on_server, person, run_sync

pytestmark = pytest.mark.integration

DOMAIN = "bad-input.example"


def good(i: int, **changes: Any) -> dict[str, Any]:
    """
    A valid record of this test (numbered from 1000, apart from the good filler records), with changes.

    :param i: its number.
    :param changes: fields to set (None removes the field).
    """
    record = {**person(1000 + i, DOMAIN), **changes}
    return {key: value for key, value in record.items() if value is not None}


# (case, record, text the error must contain besides the record's index: the field's name).
BAD_RECORDS: list[tuple[str, Any, str]] = [
    ("email without @", good(1, email="ada.example.com"), "'email'"),
    ("email with a space", good(2, email="ada @example.com"), "'email'"),
    ("email without a domain suffix", good(3, email="ada@example"), "'email'"),
    ("email with a comma", good(4, email="ada,b@example.com"), "'email'"),
    ("email too long", good(5, email="a" * 250 + "@example.com"), "'email'"),
    ("email as a number", good(6, email=12345), "'email'"),
    ("email as a list", good(7, email=["ada@example.com"]), "'email'"),
    ("phone too short", good(8, phone="12"), "'phone'"),
    ("phone in words", good(9, phone="call me maybe"), "'phone'"),
    ("NANP phone with 9 digits", good(10, phone="+1 415 555 012"), "'phone'"),
    ("phone as a float", good(11, phone=4.155), "'phone'"),
    ("phone as an object", good(12, phone={"number": "4155550100"}), "'phone'"),
    ("no email and no phone", {"firstName": "Nobody"}, "neither email nor phone"),
    ("empty email and phone", {"email": "", "phone": "  ", "firstName": "Blank"}, "neither email nor phone"),
    ("null email and phone", {"email": None, "phone": None, "lastName": "Null"}, "neither email nor phone"),
    ("firstName too long", good(13, firstName="x" * 300), "'firstName'"),
    ("firstName as an object", good(14, firstName={"given": "Ada"}), "'firstName'"),
    ("lastName as a list", good(15, lastName=["Love", "lace"]), "'lastName'"),
    ("city too long", good(16, city="c" * 256), "'city'"),
    ("website too long", good(17, website="https://x.example/" + "p" * 3000), "'website'"),
    ("gender as a boolean", good(18, gender=True), "'gender'"),
    ("tags as a number", good(19, tags=5), "'tags'"),
    ("tag too long", good(20, tags=["t" * 101]), "'tags'"),
    ("tag that is not text", good(21, tags=["ok", 7]), "'tags'"),
    ("date of birth in words", good(22, dateOfBirth="someday"), "'dateOfBirth'"),
    ("date of birth impossible", good(23, dateOfBirth="2020-02-31"), "'dateOfBirth'"),
    ("country not ISO 3166", good(24, country="USA"), "'country'"),
    ("dnd not a boolean", good(25, dnd="maybe"), "'dnd'"),
    ("dndSettings not an object", good(26, dndSettings="{broken"), "'dndSettings'"),
    ("unknown contact field", good(27, favouriteFood="pizza"), "'favouriteFood'"),
    ("unknown custom field", good(28, **{"customFields.shoe_size": 42}), "shoe_size"),
    ("money custom field in words", good(29, **{"customFields.lifetime_value": "lots"}), "lifetime_value"),
    (
        "picklist value not an option",
        good(30, **{"customFields.favourite_colour": "purple"}),
        "favourite_colour",
    ),
    ("checkbox value not an option", good(31, **{"customFields.interests": ["knitting"]}), "interests"),
    ("checkbox value as an object", good(32, **{"customFields.interests": {"a": 1}}), "interests"),
    ("custom field item without id", good(33, customFields=[{"value": "x"}]), "'customFields'"),
    ("custom text field too long", good(34, **{"customFields.referral_code": "r" * 5001}), "referral_code"),
    ("record that is a string", "just a string", "record"),
    ("record that is null", None, "record"),
    ("record that is a list", [["email", "x@y.z"]], "record"),
]


def test_bad_records_name_record_and_field_and_good_ones_all_land(
    sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any]
) -> None:
    sb = sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0)
    connect(sb)
    records: list[Any] = []
    expected: dict[int, tuple[str, str]] = {}
    for n, (case, record, field) in enumerate(BAD_RECORDS):
        records.append(person(n, DOMAIN))  # a good record before each bad one
        expected[len(records)] = (case, field)
        records.append(record)
    good_indexes = [i for i in range(len(records)) if i not in expected]

    report, error = run_sync(records, max_failed_ratio=1.0, batch_size=25)

    assert error is None, error
    entries = {e["index"]: e for e in report["records"]}
    assert sorted(entries) == list(range(len(records)))
    problems = []
    for index, (case, field) in expected.items():
        entry = entries[index]
        message = str(entry.get("error") or "")
        if entry["status"] != "failed" or f"record {index}" not in message or field not in message:
            problems.append((case, entry["status"], message))
    assert problems == []
    assert all(entries[i]["status"] == "created" for i in good_indexes)
    assert emails_on_server(sb, DOMAIN) == {records[i]["email"]: 1 for i in good_indexes}


# Records that pass through the hook unchecked (upsert_contacts does no client-side validation): the API's
# 422 names the field, the result names the record, and the good records around them land.
SERVER_REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("email the API refuses", {"email": "not-an-email", "firstName": "A"}, "email"),
    ("firstName of the wrong type", {"email": "type@bad-input.example", "firstName": 42}, "firstName"),
    ("unknown property", {"email": "prop@bad-input.example", "shoeSize": 42}, "shoeSize"),
    ("tags not a list", {"email": "tags@bad-input.example", "tags": "vip"}, "tags"),
    ("dnd not a boolean", {"email": "dnd@bad-input.example", "dnd": "maybe"}, "dnd"),
]


def test_server_side_refusals_name_record_and_field(
    sandbox_factory: Callable[..., SandboxHandle], connect: Callable[..., Any]
) -> None:
    sb = sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0)
    connect(sb)
    records: list[dict[str, Any]] = []
    bad: dict[int, tuple[str, str]] = {}
    for n, (case, record, field) in enumerate(SERVER_REFUSED):
        records.append(person(100 + n, DOMAIN))
        bad[len(records)] = (case, field)
        records.append(record)

    results = ContactsHook().upsert_contacts(records, max_workers=4)

    problems = []
    for index, (case, field) in bad.items():
        result = results[index]
        if (
            result["ok"]
            or result["status"] not in (400, 422)
            or not str(result["error"]).startswith(f"record {index}: ")
            or field not in str(result["error"])
        ):
            problems.append((case, result))
    assert problems == []
    good_indexes = [i for i in range(len(records)) if i not in bad]
    assert all(results[i]["ok"] for i in good_indexes)
    assert emails_on_server(sb, DOMAIN) == {records[i]["email"]: 1 for i in good_indexes}


# Operator arguments refused before any request: (case, arguments, text the error must contain).
BAD_SYNC_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("mapping to a non-field", {"field_mapping": {"mail": "emailAddress"}}, "field_mapping['mail']"),
    (
        "mapping to an unknown custom field",
        {"field_mapping": {"x": "customFields.nope"}},
        "customFields.nope",
    ),
    ("task template without title", {"task_template": {"due_in_days": 1}}, "title"),
    (
        "task template with an unknown key",
        {"task_template": {"title": "t", "due_in_days": 1, "when": 1}},
        "when",
    ),
    ("max_failed_ratio above 1", {"max_failed_ratio": 2}, "max_failed_ratio"),
    ("unknown transform", {"transforms": {"email": "shout"}}, "transforms['email']"),
    ("records file missing", {"records": "/nonexistent/records.ndjson"}, "records file"),
    ("records of an unknown format", {"records": __file__}, ".json, .ndjson"),
]


@pytest.mark.parametrize(
    ("case", "arguments", "needle"), BAD_SYNC_ARGUMENTS, ids=[c[0] for c in BAD_SYNC_ARGUMENTS]
)
def test_bad_sync_arguments_are_refused_before_any_write(
    sandbox_factory: Callable[..., SandboxHandle],
    connect: Callable[..., Any],
    case: str,
    arguments: dict[str, Any],
    needle: str,
) -> None:
    sb = sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0)
    connect(sb)
    arguments = {"records": [person(1, DOMAIN)], **arguments}

    _, error = run_sync(**arguments)

    assert isinstance(error, ContactsConfigError), (case, error)
    assert needle in str(error), (case, str(error))
    assert sb.all_contacts() == []
    writes = {r for r in sb.stats()["requests_by_route"] if not r.startswith(("GET ", "POST /oauth"))}
    assert writes == set()


def _with(connection: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a connection with top-level changes; ``extra`` in ``changes`` is merged (None removes)."""
    result = json.loads(json.dumps(connection))
    extra_changes = changes.pop("extra", {})
    result.update(changes)
    for key, value in extra_changes.items():
        if value is None:
            result["extra"].pop(key, None)
        else:
            result["extra"][key] = value
    return result


# Connection settings refused before any request: (case, changes, error class, text the error must name).
BAD_CONNECTIONS: list[tuple[str, dict[str, Any], type[ContactsError], str]] = [
    ("bad base URL scheme", {"host": "ftp://services.example"}, ContactsConfigError, "host"),
    ("base URL without a host", {"host": "https://"}, ContactsConfigError, "host"),
    (
        "http:// to a non-loopback host",
        {"host": "http://services.leadconnectorhq.com"},
        ContactsConfigError,
        "http://",
    ),
    ("unknown auth_type", {"extra": {"auth_type": "basic"}}, ContactsConfigError, "extra.auth_type"),
    ("empty client secret", {"password": ""}, ContactsConfigError, "password"),
    ("empty client id", {"login": ""}, ContactsConfigError, "login"),
    ("missing location id", {"extra": {"location_id": None}}, ContactsConfigError, "extra.location_id"),
    ("location id not a string", {"extra": {"location_id": 123}}, ContactsConfigError, "extra.location_id"),
    ("scopes of the wrong type", {"extra": {"scopes": 7}}, ContactsConfigError, "extra.scopes"),
    (
        "max_retries not a number",
        {"extra": {"max_retries": "many"}},
        ContactsConfigError,
        "extra.max_retries",
    ),
    ("negative max_retries", {"extra": {"max_retries": -1}}, ContactsConfigError, "extra.max_retries"),
    (
        "zero requests_per_10s",
        {"extra": {"requests_per_10s": 0}},
        ContactsConfigError,
        "extra.requests_per_10s",
    ),
    ("timeout not a number", {"extra": {"timeout": "soon"}}, ContactsConfigError, "extra.timeout"),
    ("zero timeout", {"extra": {"timeout": 0}}, ContactsConfigError, "extra.timeout"),
    (
        "rate window not a number",
        {"extra": {"rate_limit_window": "x"}},
        ContactsConfigError,
        "extra.rate_limit_window",
    ),
    ("negative retry backoff", {"extra": {"retry_backoff": -1}}, ContactsConfigError, "extra.retry_backoff"),
    (
        "read-only scope on a write",
        {"extra": {"scopes": "contacts.readonly"}},
        ContactsPermissionError,
        "contacts.write",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "error_class", "needle"),
    [pytest.param(*case, id=case[0]) for case in BAD_CONNECTIONS],
)
def test_bad_connection_settings_are_refused_before_any_request(
    sandbox_factory: Callable[..., SandboxHandle],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    changes: dict[str, Any],
    error_class: type[ContactsError],
    needle: str,
) -> None:
    sb = sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0)
    monkeypatch.setenv(CONN_ENV, json.dumps(_with(sb.oauth_connection(), **changes)))
    sb.reset_stats()

    with pytest.raises(error_class) as caught:
        ContactsHook(token_store=MemoryTokenStore()).upsert_contact(person(1, DOMAIN))

    assert needle in str(caught.value), (case, str(caught.value))
    assert sb.stats()["total_requests"] == 0
    assert sb.all_contacts() == []


def test_token_granted_read_only_refuses_the_write_and_names_the_scope(
    sandbox_factory: Callable[..., SandboxHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection claims contacts.write, but the app was authorised with contacts.readonly only.
    sb = sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0)
    connection = sb.oauth_connection(scopes="contacts.readonly")
    connection["extra"]["scopes"] = "contacts.readonly contacts.write"
    monkeypatch.setenv(CONN_ENV, json.dumps(connection))

    with pytest.raises(ContactsPermissionError) as caught:
        ContactsHook(token_store=MemoryTokenStore()).upsert_contact(person(2, DOMAIN))

    assert "contacts.write" in str(caught.value)
    assert sb.all_contacts() == []
    assert sb.stats()["requests_by_route"].get("POST /contacts/upsert", 0) == 0
