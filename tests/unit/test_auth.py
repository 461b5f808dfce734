"""Token lifecycle: stores, refresh ahead of expiry and on 401, rotation, single flight, invalid_grant."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.auth import (
    FileTokenStore,
    MemoryTokenStore,
    OAuthTokenProvider,
    StaticTokenProvider,
    VariableTokenStore,
    describe_tokens,
    fingerprint,
)
from airflow_provider_contacts.exceptions import ContactsAuthError

from .conftest import BASE, CLIENT_SECRET, SEED_REFRESH_TOKEN, token_answer

TOKEN_URL = f"{BASE}/oauth/token"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def provider(store, clock=None, seed=SEED_REFRESH_TOKEN, rotation_wait=0.0) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        token_url=TOKEN_URL,
        client_id="client-id",
        client_secret=CLIENT_SECRET,
        seed_refresh_token=seed,
        store=store,
        session=requests.Session(),
        clock=clock or FakeClock(),
        rotation_wait=rotation_wait,
    )


def stored(n: int, clock: FakeClock, expires_in: int = 86399, seed: str | None = SEED_REFRESH_TOKEN) -> dict:
    answer = token_answer(n, expires_in)
    return {
        "access_token": answer["access_token"],
        "refresh_token": answer["refresh_token"],
        "expires_in": expires_in,
        "expires_at": clock() + expires_in,
        "scope": answer["scope"],
        "seed": fingerprint(seed),
    }


def form_of(request) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in request.text.split("&"))


def test_first_use_refreshes_from_the_connection_token_and_saves_the_rotated_pair(requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    requests_mock.post(TOKEN_URL, json=token_answer(1))
    auth = provider(store)
    assert auth.access_token() == token_answer(1)["access_token"]
    form = form_of(requests_mock.request_history[0])
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == SEED_REFRESH_TOKEN
    assert form["client_id"] == "client-id" and form["user_type"] == "Location"
    assert requests_mock.request_history[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert store.load()["refresh_token"] == token_answer(1)["refresh_token"]
    assert auth.granted_scopes == frozenset({"contacts.readonly", "contacts.write"})


def test_a_valid_stored_token_is_used_without_refreshing(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(5, clock))
    assert provider(store, clock).access_token() == token_answer(5)["access_token"]
    assert requests_mock.call_count == 0


def test_refreshes_ahead_of_expiry_with_the_stored_refresh_token(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(5, clock))
    auth = provider(store, clock)
    auth.access_token()
    clock.now += 86399 - 299  # inside the five-minute margin
    requests_mock.post(TOKEN_URL, json=token_answer(6))
    assert auth.access_token() == token_answer(6)["access_token"]
    assert form_of(requests_mock.request_history[0])["refresh_token"] == token_answer(5)["refresh_token"]


def test_short_lived_tokens_refresh_at_a_fraction_of_their_lifetime(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(5, clock, expires_in=10))
    auth = provider(store, clock)
    auth.access_token()
    clock.now += 7.9
    assert requests_mock.call_count == 0
    auth.access_token()
    assert requests_mock.call_count == 0
    clock.now += 0.2  # 8.1 s of 10: past 80 %
    requests_mock.post(TOKEN_URL, json=token_answer(6, expires_in=10))
    auth.access_token()
    assert requests_mock.call_count == 1


def test_the_rotated_pair_is_saved_before_the_new_token_is_used(make_hook, requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    hook = make_hook(auth_type="oauth", token_store=store)
    requests_mock.post(TOKEN_URL, json=token_answer(1))
    seen_in_store: list[str | None] = []

    def answer(request, context):
        seen_in_store.append((store.load() or {}).get("access_token"))
        return {"contact": {"id": "c1"}}

    requests_mock.get(f"{BASE}/contacts/c1", json=answer)
    hook.get_contact("c1")
    sent = requests_mock.request_history[-1].headers["Authorization"]
    assert seen_in_store == [token_answer(1)["access_token"]]
    assert sent == f"Bearer {token_answer(1)['access_token']}"


def test_401_refreshes_once_and_retries(make_hook, requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    hook = make_hook(auth_type="oauth", token_store=store)
    requests_mock.post(TOKEN_URL, [{"json": token_answer(1)}, {"json": token_answer(2)}])
    requests_mock.get(
        f"{BASE}/contacts/c1",
        [
            {"status_code": 401, "json": {"message": "Invalid token: access token is invalid"}},
            {"json": {"contact": {"id": "c1"}}},
        ],
    )
    assert hook.get_contact("c1") == {"id": "c1"}
    assert (
        requests_mock.request_history[-1].headers["Authorization"]
        == f"Bearer {token_answer(2)['access_token']}"
    )
    assert store.load()["refresh_token"] == token_answer(2)["refresh_token"]


def test_concurrent_threads_share_a_single_refresh(make_hook, requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    hook = make_hook(auth_type="oauth", token_store=store)
    requests_mock.post(TOKEN_URL, json=token_answer(1))
    requests_mock.get(f"{BASE}/contacts/c1", json={"contact": {"id": "c1"}})
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def work() -> None:
        start.wait()
        try:
            hook.get_contact("c1")
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(1 for r in requests_mock.request_history if r.path == "/oauth/token") == 1
    assert store.saves == 1


def test_invalid_grant_uses_a_rotation_another_worker_saved(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(1, clock, expires_in=100))
    auth = provider(store, clock)
    auth.access_token()
    clock.now += 95  # expired for us

    def rotate_elsewhere(request, context):
        # Another worker refreshed with the same token a moment before us and saved its result.
        store.save(stored(2, clock))
        context.status_code = 400
        return {"error": "invalid_grant", "error_description": "refresh token already used"}

    requests_mock.post(TOKEN_URL, json=rotate_elsewhere)
    assert auth.access_token() == token_answer(2)["access_token"]
    assert requests_mock.call_count == 1


def test_invalid_grant_refreshes_once_from_a_newer_but_expired_stored_token(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(1, clock, expires_in=100))
    auth = provider(store, clock)
    auth.access_token()
    clock.now += 95

    def first(request, context):
        store.save(stored(2, FakeClock(clock.now - 100), expires_in=100))  # saved long ago, expired
        context.status_code = 400
        return {"error": "invalid_grant"}

    requests_mock.post(TOKEN_URL, [{"json": first}, {"json": token_answer(3)}])
    assert auth.access_token() == token_answer(3)["access_token"]
    assert form_of(requests_mock.request_history[1])["refresh_token"] == token_answer(2)["refresh_token"]
    assert store.load()["refresh_token"] == token_answer(3)["refresh_token"]


def test_invalid_grant_with_nothing_newer_says_how_to_reauthorise(requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    requests_mock.post(
        TOKEN_URL, status_code=400, json={"error": "invalid_grant", "error_description": "Invalid grant"}
    )
    with pytest.raises(ContactsAuthError) as caught:
        provider(store).access_token()
    text = str(caught.value)
    assert "invalid_grant" in text and "Re-authorise the app" in text and "extra 'refresh_token'" in text
    assert SEED_REFRESH_TOKEN not in text


def test_a_new_refresh_token_in_the_connection_wins_over_an_older_store(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore(stored(1, clock, seed="an-older-seed-token"))
    requests_mock.post(TOKEN_URL, json=token_answer(2))
    auth = provider(store, clock)
    assert auth.access_token() == token_answer(2)["access_token"]
    assert form_of(requests_mock.request_history[0])["refresh_token"] == SEED_REFRESH_TOKEN
    assert store.load()["seed"] == fingerprint(SEED_REFRESH_TOKEN)


def test_a_refresh_whose_answer_was_lost_is_not_retried(requests_mock: rm.Mocker):
    requests_mock.post(TOKEN_URL, exc=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ContactsAuthError, match="may have rotated"):
        provider(MemoryTokenStore()).access_token()
    assert requests_mock.call_count == 1


def test_a_refresh_that_could_not_connect_or_got_503_is_retried(requests_mock: rm.Mocker, monkeypatch):
    monkeypatch.setattr("airflow_provider_contacts.auth.time.sleep", lambda seconds: None)
    requests_mock.post(
        TOKEN_URL,
        [
            {"exc": requests.exceptions.ConnectTimeout("no route")},
            {"status_code": 503, "json": {}},
            {"json": token_answer(1)},
        ],
    )
    assert provider(MemoryTokenStore()).access_token() == token_answer(1)["access_token"]
    assert requests_mock.call_count == 3


def test_other_token_errors_are_auth_errors_with_the_api_message(requests_mock: rm.Mocker):
    requests_mock.post(
        TOKEN_URL, status_code=400, json={"message": "Location is not active", "traceId": "tr-1"}
    )
    with pytest.raises(ContactsAuthError, match="Location is not active") as caught:
        provider(MemoryTokenStore()).access_token()
    assert caught.value.trace_id == "tr-1"


def test_a_store_that_cannot_save_fails_loudly(requests_mock: rm.Mocker, monkeypatch):
    monkeypatch.setattr("airflow_provider_contacts.auth.time.sleep", lambda seconds: None)

    class BrokenStore(MemoryTokenStore):
        def save(self, tokens):
            raise OSError("disk full")

    requests_mock.post(TOKEN_URL, json=token_answer(1))
    with pytest.raises(ContactsAuthError, match=r"saving it to .* failed \(OSError: disk full\)"):
        provider(BrokenStore()).access_token()


def test_private_token_is_static_and_a_401_says_how_to_rotate():
    auth = StaticTokenProvider("pit-abcdef-123456")
    assert auth.access_token() == "pit-abcdef-123456"
    with pytest.raises(ContactsAuthError, match="Private Integrations"):
        auth.refresh()
    assert "pit-abcdef" not in repr(auth)


def test_file_store_round_trip_is_private_and_atomic(tmp_path: Path):
    store = FileTokenStore(tmp_path / "nested" / "tokens.json")
    assert store.load() is None
    store.save({"access_token": "a", "refresh_token": "r"})
    assert store.load() == {"access_token": "a", "refresh_token": "r"}
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []
    with store.lock():
        assert json.loads(store.path.read_text())["refresh_token"] == "r"


def test_a_company_token_is_synced_to_disk_and_a_location_token_only_replaced(tmp_path: Path, monkeypatch):
    # A rotated refresh token must outlive a crash of the machine; a location's token rotates nothing and is
    # minted again when lost, and ten locations' first saves waited on each other's syncs.
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    company = FileTokenStore(tmp_path / "tokens.json")
    company.save({"access_token": "a", "refresh_token": "r"})
    assert len(synced) == 1
    location = company.for_location("loc1")
    location.save({"access_token": "b", "location_id": "loc1"})
    assert len(synced) == 1 and not location.durable
    assert location.load() == {"access_token": "b", "location_id": "loc1"}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [], "still written atomically"


def test_file_store_lock_excludes_other_holders(tmp_path: Path):
    path = tmp_path / "tokens.json"
    first, second = FileTokenStore(path), FileTokenStore(path)
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.lock():
            order.append("first in")
            inside.set()
            release.wait(5)
            order.append("first out")

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    waiter = threading.Thread(target=lambda: (second.lock().__enter__(), order.append("second in")))
    waiter.start()
    waiter.join(0.2)
    assert order == ["first in"], "the second holder must wait for the first"
    release.set()
    holder.join()
    waiter.join(5)
    assert order == ["first in", "first out", "second in"]


@pytest.mark.parametrize("kind", ["file", "variable"])
def test_a_lock_held_too_long_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
):
    import tempfile

    from airflow_provider_contacts import auth

    monkeypatch.setattr(auth, "TOKEN_LOCK_TIMEOUT", 0.05)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    make = (
        (lambda: FileTokenStore(tmp_path / "tokens.json"))
        if kind == "file"
        else (lambda: VariableTokenStore("contacts_token__locked"))
    )
    holder, waiter = make(), make()
    with (
        holder.lock(),
        pytest.raises(
            ContactsAuthError, match=r"waited 0.05 s for the token lock of (file|variable):"
        ) as caught,
        waiter.lock(),
    ):
        pass
    assert str(tmp_path) in str(caught.value)
    with waiter.lock():  # released by its holder: taken at once
        pass


@pytest.mark.usefixtures("airflow_db")
def test_variable_store_round_trip_outside_a_task():
    store = VariableTokenStore("contacts_token__unit_test")
    assert store.load() is None
    store.save({"access_token": "a1", "refresh_token": "r1"})
    assert store.load() == {"access_token": "a1", "refresh_token": "r1"}
    store.save({"access_token": "a2", "refresh_token": "r2"})
    assert store.load()["refresh_token"] == "r2"


def test_describe_tokens_holds_no_token():
    clock = FakeClock()
    tokens = stored(1, clock)
    summary = describe_tokens(tokens)
    text = json.dumps(summary)
    assert tokens["access_token"] not in text and tokens["refresh_token"] not in text
    assert summary["refresh_token_fingerprint"] == fingerprint(tokens["refresh_token"])


def test_a_lock_out_fails_fast_until_a_newer_token_is_saved(requests_mock: rm.Mocker):
    clock = FakeClock()
    store = MemoryTokenStore()
    requests_mock.post(TOKEN_URL, status_code=400, json={"error": "invalid_grant"})
    auth = provider(store, clock)
    with pytest.raises(ContactsAuthError, match="Re-authorise"):
        auth.access_token()
    with pytest.raises(ContactsAuthError, match="Re-authorise"):
        auth.access_token()
    assert requests_mock.call_count == 1, "the refused token is not sent again"
    store.save(stored(7, clock))  # another worker (or a person) saved a working pair
    assert auth.access_token() == token_answer(7)["access_token"]


def test_a_provider_whose_store_failed_to_save_keeps_refusing(requests_mock: rm.Mocker, monkeypatch):
    """Tokens that were not saved are never used: the next call refuses again instead of using them."""
    monkeypatch.setattr("airflow_provider_contacts.auth.time.sleep", lambda seconds: None)

    class BrokenStore(MemoryTokenStore):
        def save(self, tokens):
            raise OSError("disk full")

    requests_mock.post(
        TOKEN_URL, [{"json": token_answer(1)}, {"json": token_answer(2)}, {"json": token_answer(3)}]
    )
    auth = provider(BrokenStore())
    for _ in range(3):
        with pytest.raises(ContactsAuthError, match="failed"):
            auth.access_token()
        assert auth.ready_token() is None
        assert auth.expires_at is None


def test_the_token_endpoint_retries_on_the_shared_policy(requests_mock: rm.Mocker, monkeypatch, caplog):
    """Retry-After when the answer gives one, the policy's backoff otherwise; the last answer is the error."""
    waits: list[float] = []
    monkeypatch.setattr("airflow_provider_contacts.auth.time.sleep", waits.append)
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 429, "json": {}, "headers": {"Retry-After": "3"}},
            {"status_code": 503, "json": {"message": "down"}},
            {"status_code": 503, "json": {"message": "down"}},
            {"status_code": 503, "json": {"message": "still down"}},
        ],
    )
    with caplog.at_level("WARNING"), pytest.raises(ContactsAuthError, match="still down"):
        provider(MemoryTokenStore()).access_token()
    assert requests_mock.call_count == 4  # the policy's tries, then the last answer's error
    assert waits[0] == 3.0 and all(0 <= wait <= 4.0 for wait in waits[1:]) and len(waits) == 3
    assert "Retrying the token request of connection" in caplog.text
