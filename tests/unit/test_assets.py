"""The assets' helpers: ``contacts_asset`` and ``held_back_asset_events`` (apache/airflow#56050)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_provider_contacts.assets import contacts_asset, held_back_asset_events

RUN_AFTER = datetime(2026, 11, 30, 5, 26, 13, tzinfo=timezone.utc)
STARTED = RUN_AFTER + timedelta(seconds=4)


class FakeAccessor:
    """``inlet_events[asset]``: the server's inclusive ``after`` / ``before`` filter over some events."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.bounds: dict[str, str] = {}

    def after(self, after: str) -> FakeAccessor:
        self.bounds["after"] = after
        return self

    def before(self, before: str) -> FakeAccessor:
        self.bounds["before"] = before
        return self

    def __iter__(self) -> Any:
        low = datetime.fromisoformat(self.bounds["after"])
        high = datetime.fromisoformat(self.bounds["before"]) if "before" in self.bounds else None
        return iter(e for e in self.events if e.timestamp >= low and (high is None or e.timestamp <= high))


def event(seconds: float, name: str) -> Any:
    return SimpleNamespace(timestamp=RUN_AFTER + timedelta(seconds=seconds), extra={"name": name})


def run(run_type: str = "asset_triggered", start_date: datetime | None = STARTED) -> Any:
    return SimpleNamespace(run_type=run_type, run_after=RUN_AFTER, start_date=start_date)


def test_held_back_events_lie_after_the_run_after_and_before_the_start() -> None:
    webhooks, created = contacts_asset("loc1"), Asset("contacts_created")
    accessors = {
        webhooks: FakeAccessor([event(-1, "triggering"), event(0, "the run's own"), event(2, "held back")]),
        created: FakeAccessor([event(3, "held back too"), event(9, "after the start: its own run")]),
    }
    held = held_back_asset_events(accessors, run(), [webhooks, created])
    assert {asset.name: [e.extra["name"] for e in events] for asset, events in held.items()} == {
        webhooks.name: ["held back"],
        created.name: ["held back too"],
    }
    assert accessors[webhooks].bounds == {"after": RUN_AFTER.isoformat(), "before": STARTED.isoformat()}


def test_a_run_not_started_yet_reads_up_to_now() -> None:
    created = Asset("contacts_created")
    accessor = FakeAccessor([event(3, "held back"), event(30, "later")])
    held = held_back_asset_events({created: accessor}, run(start_date=None), [created])
    assert [e.extra["name"] for e in held[created]] == ["held back", "later"]
    assert "before" not in accessor.bounds


@pytest.mark.parametrize("run_type", ["manual", "scheduled", "backfill"])
def test_runs_no_asset_triggered_hold_nothing_back(run_type: str) -> None:
    created = Asset("contacts_created")
    assert held_back_asset_events({created: FakeAccessor([event(3, "x")])}, run(run_type), [created]) == {}
    assert held_back_asset_events({}, None, [created]) == {}


def test_an_asset_that_is_not_an_inlet_is_named() -> None:
    with pytest.raises(ValueError, match="asset 'contacts_created' must be an inlet"):
        held_back_asset_events({}, run(), [Asset("contacts_created")])


@pytest.mark.parametrize(("location", "kind"), [("", "contacts"), ("a/b", "contacts"), ("loc1", "deals")])
def test_contacts_asset_refuses_bad_input(location: str, kind: str) -> None:
    with pytest.raises(ValueError, match=r"(kind|location_id) must be"):
        contacts_asset(location, kind)


class FailingAccessor(FakeAccessor):
    """``inlet_events[asset]`` whose listing the supervisor passes on as an error of the API server."""

    def __init__(self, error: Any, detail: dict[str, Any] | None) -> None:
        super().__init__([])
        self.error, self.detail = error, detail

    def __iter__(self) -> Any:
        from airflow.sdk.exceptions import AirflowRuntimeError
        from airflow.sdk.execution_time.comms import ErrorResponse

        raise AirflowRuntimeError(ErrorResponse(error=self.error, detail=self.detail))


def test_events_the_server_cannot_list_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Airflow 3.3.2 answers 500 while a run made from one of the events is queued (apache/airflow#71360)."""
    from airflow.sdk.exceptions import ErrorType

    webhooks, created = contacts_asset("loc1"), Asset("contacts_created")
    detail = {"status_code": 500, "message": "Server error", "detail": {"message": "Internal server error"}}
    accessors = {
        webhooks: FailingAccessor(ErrorType.API_SERVER_ERROR, detail),
        created: FakeAccessor([event(3, "held back")]),
    }
    with caplog.at_level("WARNING", logger="airflow_provider_contacts.assets"):
        held = held_back_asset_events(accessors, run(), [webhooks, created])
    assert held[webhooks] == [] and [e.extra["name"] for e in held[created]] == ["held back"]
    [warning] = caplog.records
    assert webhooks.name in warning.getMessage() and "apache/airflow#71360" in warning.getMessage()


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        ("API_SERVER_ERROR", {"status_code": 403, "message": "Forbidden"}),
        ("API_SERVER_ERROR", {"status_code": None, "message": "connection refused"}),  # after the retries
        ("API_SERVER_ERROR", None),
        ("GENERIC_ERROR", {"status_code": 500}),
    ],
)
def test_other_errors_of_the_server_still_fail_the_task(error: str, detail: dict[str, Any] | None) -> None:
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType

    created = Asset("contacts_created")
    with pytest.raises(AirflowRuntimeError):
        held_back_asset_events({created: FailingAccessor(ErrorType[error], detail)}, run(), [created])
