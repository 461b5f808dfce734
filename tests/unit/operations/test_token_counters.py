"""The refresh counters the token providers keep in their store, and what the view shows of a token set."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import requests_mock as rm

from airflow_provider_contacts.auth import STATS_KEY, MemoryTokenStore, count_refresh
from airflow_provider_contacts.exceptions import ContactsAuthError
from airflow_provider_contacts.operations.tokens import token_state

from ..conftest import SEED_REFRESH_TOKEN, token_answer
from ..test_auth import TOKEN_URL, FakeClock, provider


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def test_refreshes_are_counted_per_utc_day_and_a_new_year_starts_from_zero():
    late = epoch("2026-12-31T23:59:50")
    stats = count_refresh(None, late)
    stats = count_refresh({STATS_KEY: stats}, late + 5, refused=True)
    assert (stats["day"], stats["refreshes"], stats["refused"]) == ("2026-12-31", 1, 1)
    next_year = count_refresh({STATS_KEY: stats}, late + 20)
    assert (next_year["day"], next_year["refreshes"], next_year["refused"]) == ("2027-01-01", 1, 0)
    # The last refusal's time is kept across the day; its count is not.
    assert next_year["last_refused_at"] == late + 5
    assert token_state({"access_token": "x", STATS_KEY: next_year}, late + 30)["refused_today"] == 0


def test_a_refresh_saves_its_count_and_time_beside_the_tokens(requests_mock: rm.Mocker):
    clock = FakeClock(epoch("2026-06-01T00:00:30"))
    store = MemoryTokenStore()
    requests_mock.post(TOKEN_URL, [{"json": token_answer(1)}, {"json": token_answer(2)}])
    auth = provider(store, clock)
    auth.access_token()
    clock.now += 86_100  # 23:55:30, inside the refresh margin: the next use refreshes
    auth.access_token()
    saved = store.load()
    assert saved[STATS_KEY] == {
        "day": "2026-06-01",
        "refreshes": 2,
        "refused": 0,
        "last_refresh_at": clock.now,
    }
    state = token_state(saved, clock.now)
    assert (state["refreshes_today"], state["refused_today"], state["expires_in_s"]) == (2, 0, 86399)
    assert state["last_refresh_at"] == "2026-06-01T23:55:30+00:00"


def test_a_refused_refresh_is_counted_and_the_stored_tokens_stay(requests_mock: rm.Mocker):
    clock = FakeClock(epoch("2026-06-01T08:00:00"))
    store = MemoryTokenStore()
    requests_mock.post(
        TOKEN_URL,
        [{"json": token_answer(1)}, {"status_code": 400, "json": {"error": "invalid_grant"}}],
    )
    auth = provider(store, clock)
    auth.access_token()
    before = store.load()
    clock.now += 86_400
    with pytest.raises(ContactsAuthError, match="invalid_grant"):
        auth.access_token()
    after = store.load()
    assert {k: v for k, v in after.items() if k != STATS_KEY} == {
        k: v for k, v in before.items() if k != STATS_KEY
    }
    assert (after[STATS_KEY]["refreshes"], after[STATS_KEY]["refused"]) == (0, 1)  # a new day
    assert token_state(after, clock.now)["refused_today"] == 1


def test_a_refresh_with_no_answer_is_not_a_refusal(requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    requests_mock.post(TOKEN_URL, exc=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ContactsAuthError, match="may have rotated"):
        provider(store, FakeClock(epoch("2026-06-01T08:00:00"))).access_token()
    assert store.load() is None


def test_an_empty_store_whose_seed_is_refused_keeps_only_the_counters(requests_mock: rm.Mocker):
    store = MemoryTokenStore()
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    auth = provider(store, FakeClock(epoch("2026-06-01T08:00:00")))
    with pytest.raises(ContactsAuthError):
        auth.access_token()
    kept = store.load()
    assert set(kept) == {"seed", STATS_KEY}
    assert SEED_REFRESH_TOKEN not in json.dumps(kept)
    assert token_state(kept, epoch("2026-06-01T09:00:00"))["stored"] is False
    # Read back, it is a store without tokens: the seed is tried again.
    requests_mock.post(TOKEN_URL, json=token_answer(1))
    assert auth.access_token() == token_answer(1)["access_token"]


def test_the_state_holds_no_token_whatever_the_store_holds():
    tokens = {**token_answer(7), "expires_at": 5000.0, "obtained_at": 1000.0, "seed": "abc"}
    text = json.dumps(token_state(tokens, 1000.0))
    for secret in (tokens["access_token"], tokens["refresh_token"], "abc"):
        assert secret not in text
    assert token_state(tokens, 1000.0)["expires_in_s"] == 4000
