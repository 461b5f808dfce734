"""
The operations view inside a real ``airflow api-server``: who may see it, and that it shows the figures of the
run the fixture made (a sync, its token refresh, its requests in the shared budget, two webhook outcomes of
which one refused, a watcher's watermark), and never a secret.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests

from airflow_provider_contacts.operations.status import figures
from tests.integration.operations.small_run import watermark_saved

from .conftest import CONN_ID, OpsWorld

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]

PATHS = ("/contacts-ops/api/status", "/contacts-ops/")


@pytest.mark.parametrize("path", PATHS)
def test_an_anonymous_request_is_refused(ops_world: OpsWorld, path: str) -> None:
    assert ops_world.get(path).status_code == 401


@pytest.mark.parametrize("path", PATHS)
def test_a_user_who_may_not_read_connections_is_refused(ops_world: OpsWorld, path: str) -> None:
    answer = ops_world.get(path, "viewer")
    assert answer.status_code == 403
    assert CONN_ID not in answer.text


def test_a_token_with_a_forged_signature_is_refused(ops_world: OpsWorld) -> None:
    header, payload, _ = ops_world.token("operator").split(".")
    answer = requests.get(
        f"{ops_world.api_url}/contacts-ops/api/status",
        headers={"Authorization": f"Bearer {header}.{payload}.AAAA"},
        timeout=60,
    )
    assert answer.status_code == 403
    assert CONN_ID not in answer.text


def section(world: OpsWorld) -> dict:
    answer = world.get("/contacts-ops/api/status", "operator")
    assert answer.status_code == 200, answer.text
    sections = {s["conn_id"]: s for s in answer.json()["connections"]}
    return sections[CONN_ID]


def test_the_token_state_shows_the_runs_refresh_and_no_refusal(ops_world: OpsWorld) -> None:
    auth = section(ops_world)["auth"]
    assert (auth["type"], auth["location_id"]) == ("oauth", ops_world.connection["extra"]["location_id"])
    token = auth["token"]
    assert token["stored"] is True
    assert token["refreshes_today"] >= 1
    assert token["refused_today"] == 0
    assert 0 < token["expires_in_s"] <= 86400
    last = datetime.fromisoformat(token["last_refresh_at"])
    assert (datetime.now(timezone.utc) - last).total_seconds() < 3600


def test_the_sync_is_listed_with_its_records_and_failures(ops_world: OpsWorld) -> None:
    runs = section(ops_world)["runs"]
    (push,) = [r for r in runs if r["dag_id"] == "ops_sync"]
    assert push["location_id"] == ops_world.connection["extra"]["location_id"]
    assert (push["kind"], push["task_id"], push["state"]) == ("sync", "push", "success")
    assert (push["records"], push["failures"]) == (3, 1)


def test_the_shared_budget_counts_the_runs_requests(ops_world: OpsWorld) -> None:
    budget = section(ops_world)["rate_budget"]
    assert budget["source"] == "shared (redis://127.0.0.1:6379/0)"
    (row,) = budget["locations"]
    assert row["location_id"] == ops_world.connection["extra"]["location_id"]
    ((value,),) = ops_world.sql("SELECT value FROM xcom WHERE dag_id = 'ops_sync' AND key = 'return_value'")
    api_calls = json.loads(value)["summary"]["api_calls"]
    assert api_calls > 0
    # Today's count is every process's: the sync's requests, and the watcher's searches in the triggerer
    # (one more or not, as the triggerer happened to poll before it stopped). It is what the server counted.
    served = sum(
        count
        for route, count in ops_world.sandbox.stats()["requests_by_route"].items()
        if not route.startswith("POST /oauth/")
    )
    assert row["today"] == served >= api_calls
    # The window the connection's limiter keeps (the sandbox's, scaled up), and the API's daily budget.
    assert row["window_limit"] == ops_world.connection["extra"]["requests_per_10s"]
    assert row["daily_limit"] == 200_000
    assert 0 <= row["in_window"] <= served


def test_webhook_outcomes_by_outcome_and_reason(ops_world: OpsWorld) -> None:
    hooks = section(ops_world)["webhooks"]
    assert hooks["last_hour"] == {"recorded": 1, "refused:bad_signature": 1}
    assert hooks["last_day"] == hooks["last_hour"]
    assert [(d["webhook_id"], d["outcome"], d["reason"]) for d in hooks["recent"]] == [
        # An unverified body is not read: the refused delivery has no ids.
        (None, "refused", "bad_signature"),
        ("wh-recorded-1", "recorded", None),
    ]
    assert hooks["recent"][1]["event_type"] == "ContactCreate"


def test_the_watcher_shows_its_watermark_and_lag(ops_world: OpsWorld) -> None:
    (watcher,) = section(ops_world)["watchers"]
    assert watcher["name"] == "ops_created_watcher"
    assert watcher["event"] == "created"
    saved = datetime.fromisoformat(watermark_saved(ops_world.db_path).replace("Z", "+00:00"))
    assert datetime.fromisoformat(watcher["watermark"]) == saved.replace(microsecond=0)
    assert watcher["saved_at"] is not None
    assert 0 <= watcher["lag_s"] < 3600


def test_the_page_shows_the_same_facts_and_no_secret(ops_world: OpsWorld) -> None:
    page = ops_world.get("/contacts-ops/", "operator")
    status = ops_world.get("/contacts-ops/api/status", "operator")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for text in (CONN_ID, "wh-recorded-1", "bad_signature", "ops_created_watcher", "Refreshes today"):
        assert text in page.text
    stored = ops_world.stored_tokens()
    secrets = [
        ops_world.connection["password"],
        ops_world.connection["extra"]["refresh_token"],
        stored["access_token"],
        stored["refresh_token"],
    ]
    assert all(len(s) > 8 for s in secrets)
    for body in (page.text, status.text):
        for secret in secrets:
            assert secret not in body
        assert "access_token" not in body


def test_the_view_is_listed_in_the_navigation(ops_world: OpsWorld) -> None:
    answer = ops_world.get("/api/v2/plugins", "operator")
    assert answer.status_code == 200
    (plugin,) = [p for p in answer.json()["plugins"] if p["name"] == "contacts_operations"]
    (view,) = plugin["external_views"]
    assert (view["href"], view["destination"], view["url_route"]) == ("/contacts-ops/", "nav", "contacts-ops")


def test_the_headline_figures_a_deployment_check_reads(ops_world: OpsWorld) -> None:
    status = ops_world.get("/contacts-ops/api/status", "operator").json()
    found = figures(status, CONN_ID)
    location = ops_world.connection["extra"]["location_id"]
    assert found["refused_today"] == 0 and found["refreshes_today"] >= 1
    assert found["syncs"] == {location: {"ops_sync/push": "success"}}
    assert found["webhooks_day"] == {"recorded": 1, "refused:bad_signature": 1}
    assert found["requests_today"][location] > 0
    with pytest.raises(KeyError, match="no section"):
        figures(status, "contacts_missing")
