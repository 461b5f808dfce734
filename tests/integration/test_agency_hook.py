"""An agency connection against the sandbox in its own process: one company chain, a token per location.

Both API versions the hook speaks mint location tokens (v2 ``/oauth/locationToken``, v3 ``/oauth/location-token``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.auth import FileTokenStore, MemoryTokenStore, TokenStore
from airflow_provider_contacts.exceptions import ContactsAuthError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

pytestmark = pytest.mark.integration
HookFactory = Callable[..., ContactsHook]


@pytest.fixture(scope="module")
def agency_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox process whose company has the app on 4 locations, 6 contacts each."""
    with running_sandbox(
        subprocess_mode=True, seed=6, random_seed=5, locations=4, rate_limit=10_000, rate_interval=1.0
    ) as sb:
        yield sb


@pytest.fixture(params=["2021-07-28", "v3"])
def agency_hook(
    request: pytest.FixtureRequest, agency_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HookFactory]:
    """Build hooks on one fresh agency connection (its own Company refresh token) in both API versions."""
    agency_sandbox.suspend_locations()
    agency_sandbox.reset_stats()
    conn = agency_sandbox.agency_connection()
    conn["extra"]["api_version"] = request.param
    conn_id = f"contacts_agency_{request.param.replace('-', '_')}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    store = MemoryTokenStore()

    def make(location_id: str | None = None, token_store: TokenStore | None = None) -> ContactsHook:
        return ContactsHook(conn_id, location_id=location_id, token_store=token_store or store)

    yield make
    agency_sandbox.suspend_locations()


def test_installed_locations_page_lazily(agency_sandbox: SandboxHandle, agency_hook: HookFactory) -> None:
    hook = agency_hook()
    pages = hook.installed_locations(page_size=3)
    first = next(pages)
    assert first["_id"] == agency_sandbox.location_id and hook.requests_sent == 1
    ids = [first["_id"], *(row["_id"] for row in pages)]
    assert ids == list(agency_sandbox.installed_location_ids)
    assert hook.requests_sent == 2  # 4 locations, 3 a page


def test_every_location_reads_its_own_contacts(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory
) -> None:
    hooks = {location: agency_hook(location) for location in agency_sandbox.installed_location_ids}
    for location, hook in hooks.items():
        found = list(hook.search_contacts())
        assert len(found) == len(agency_sandbox.all_contacts(location)) >= 6
        assert {c["locationId"] for c in found} == {location}
        assert hook.get_contact(found[0]["id"])["locationId"] == location
        created = hook.upsert_contact({"email": f"agency-{uuid.uuid4().hex}@example.com", "firstName": "Ag"})
        assert created["new"] and created["contact"]["locationId"] == location
    # The connection's location_id stays the default.
    assert agency_hook().location_id == agency_sandbox.location_id
    assert agency_sandbox.stats()["location_tokens_minted"] == dict.fromkeys(
        agency_sandbox.installed_location_ids, 1
    )


def test_a_location_token_is_never_used_for_another_location(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "agency.json")
    first, second = agency_sandbox.installed_location_ids[:2]
    one, two = agency_hook(first, store), agency_hook(second, store)
    other_contact = agency_sandbox.all_contacts(second)[0]["id"]
    one.get_contact(agency_sandbox.all_contacts(first)[0]["id"])
    two.get_contact(other_contact)
    token_one, token_two = one.auth.access_token(), two.auth.access_token()
    assert token_one != token_two
    # Each location's token lives under a key that names it; the company's chain under the connection's.
    saved = {path.name: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}
    assert saved[f"agency.location-{first}.json"]["access_token"] == token_one
    assert saved[f"agency.location-{second}.json"]["access_token"] == token_two
    assert saved["agency.json"]["user_type"] == "Company"
    assert token_one not in json.dumps(saved["agency.json"]) and token_two not in json.dumps(
        saved["agency.json"]
    )
    # Asking the first location's hook for the second location's contact goes out with the first's token:
    # the API refuses it, and no token of the second location is ever sent for it.
    with pytest.raises(Exception, match="does not have access to this location"):
        one.get_contact(other_contact)
    # A fresh process (no transports) reads each location's token from its own key.
    from airflow_provider_contacts.transport import clear_transports

    clear_transports()
    again = agency_hook(second, FileTokenStore(tmp_path / "agency.json"))
    assert again.auth.access_token() == token_two
    assert agency_sandbox.stats()["location_tokens_minted"] == {first: 1, second: 1}


def test_sixteen_threads_over_four_locations_mint_one_token_each(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory
) -> None:
    locations = agency_sandbox.installed_location_ids

    def work(index: int) -> str:
        location = locations[index % 4]
        hook = agency_hook(location)
        return str(next(iter(hook.search_contacts(page_limit=1)))["locationId"])

    with ThreadPoolExecutor(16) as pool:
        seen = list(pool.map(work, range(16)))
    assert seen == [locations[i % 4] for i in range(16)]
    stats = agency_sandbox.stats()
    assert stats["location_tokens_minted"] == dict.fromkeys(locations, 1)
    assert stats["token_refreshes"] == 1  # the company's chain refreshed once, for all


def test_a_location_whose_token_fails_fails_alone(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory
) -> None:
    locations = agency_sandbox.installed_location_ids
    agency_sandbox.suspend_locations(locations[2])
    run = uuid.uuid4().hex[:8]

    def work(location: str) -> Any:
        return agency_hook(location).upsert_contacts(
            [{"email": f"alone-{location}-{i}-{run}@example.com"} for i in range(5)], max_workers=3
        )

    with ThreadPoolExecutor(4) as pool:
        futures = {location: pool.submit(work, location) for location in locations}
    failed = futures[locations[2]].exception()
    assert isinstance(failed, ContactsAuthError)
    # v2 says "Location is not active"; the sandbox's v3 answers "Invalid parameter: locationId".
    assert failed.status == 400 and f"location {locations[2]!r}" in str(failed)
    assert agency_sandbox.stats()["requests_by_route"].get("POST /oauth/locationToken", 0) <= 4 + 4
    for location in (locations[0], locations[1], locations[3]):
        results = futures[location].result()
        assert [r["ok"] for r in results] == [True] * 5
        emails = {c.get("email") for c in agency_sandbox.all_contacts(location)}
        assert {f"alone-{location}-{i}-{run}@example.com".lower() for i in range(5)} <= emails
    assert not any(
        str(c.get("email")).startswith("alone-") for c in agency_sandbox.all_contacts(locations[2])
    )


def test_secrets_stay_out_of_reprs_and_errors(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory
) -> None:
    hook = agency_hook(agency_sandbox.installed_location_ids[1])
    hook.get_custom_fields()
    token = hook.auth.access_token()
    company = hook.auth.company  # type: ignore[attr-defined]
    texts = [
        repr(hook),
        repr(hook.auth),
        repr(company),
        repr(hook.transport),
        str(hook.refresh_access_token()),
    ]
    for text in texts:
        assert token not in text and company.access_token() not in text
        assert agency_sandbox.client_secret not in text


def test_a_minted_refresh_token_is_neither_kept_nor_logged(
    agency_sandbox: SandboxHandle, agency_hook: HookFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The mint's answer carries a refresh token the provider does not use: it must not reach the store or a
    # log line (it is not registered with the secrets masker, so nothing may print it).
    import logging

    import requests

    caplog.set_level(logging.DEBUG)
    minted: list[str] = []
    post = requests.Session.post

    def recording(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        answer = post(self, url, *args, **kwargs)
        if "ocation" in url and "oken" in url:
            minted.append(answer.json().get("refresh_token") or "")
        return answer

    store = FileTokenStore(tmp_path / "agency.json")
    hook = agency_hook(agency_sandbox.installed_location_ids[2], store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "post", recording)
        hook.get_custom_fields()
    assert len(minted) == 1
    if hook.settings.api_version != "v3":  # v3's answer has none (oauth-v3.json)
        assert minted[0], "v2's mint answers with a refresh token, as the API's does"
    saved = [path.read_text() for path in tmp_path.iterdir() if path.suffix == ".json"]
    assert len(saved) == 2  # the company's tokens and the location's
    for refresh_token in filter(None, minted):
        assert all(refresh_token not in text for text in saved)
        assert refresh_token not in caplog.text
