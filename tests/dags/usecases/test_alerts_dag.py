"""
contacts_alerts against the sandbox and a local SMTP server (timetonic: alert on changes): one e-mail per
change of a rule's state, none while nothing changes, and the end of a problem announced once.
"""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import Message
from typing import Any

import pytest

from tests.dags.usecases.conftest import World, xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def take(self) -> list[str]:
        """The subjects received since the last call."""
        subjects = [str(m["Subject"]) for m in self.messages]
        self.messages.clear()
        return sorted(subjects)


@pytest.fixture
def inbox(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A local SMTP server, the ``smtp_default`` connection to it, and no alert state yet."""
    from aiosmtpd.controller import Controller
    from airflow.models.variable import Variable
    from contacts_alerts import STATE_VARIABLE

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    Variable.delete(STATE_VARIABLE)
    try:
        yield handler
    finally:
        controller.stop()
        Variable.delete(STATE_VARIABLE)


def _dashboard_row(overdue: int) -> None:
    """A row as ``contacts_dashboard`` stores it (only the figures the rules read matter)."""
    from dag_support.settings import reporting_hook

    from airflow_provider_contacts.reporting.tables import METRICS_TABLE, append_row

    append_row(
        reporting_hook(),
        METRICS_TABLE,
        {"dag_id": "contacts_dashboard", "computed_at": datetime.now(timezone.utc), "tasks_overdue": overdue},
    )


def _sync_row(records: int, failed: int) -> None:
    """An audit row as ``contacts_sync`` writes it."""
    from dag_support.settings import reporting_hook

    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, append_row

    now = datetime.now(timezone.utc)
    row = {"dag_id": "contacts_sync", "run_id": f"sync-{now.timestamp()}", "finished_at": now}
    append_row(
        reporting_hook(), AUDIT_TABLE, {**row, "records_in": records, "failed": failed, "status": "success"}
    )


def test_one_message_per_change_of_condition(world: World, inbox: Inbox) -> None:
    from airflow.utils.state import DagRunState
    from dag_support.settings import ALERT_EMAIL

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    _dashboard_row(overdue=40)
    _sync_row(records=20, failed=1)
    first = world.run("contacts_alerts", overdue_threshold=25, max_failed_ratio=0.1, max_drop_ratio=0.05)
    assert first.state == DagRunState.SUCCESS
    assert inbox.take() == ["[contacts] overdue_tasks FIRING"]  # the sync is fine; no drop without a baseline
    assert xcom(first, "notify_changes") == {"sent": ["[contacts] overdue_tasks FIRING"]}

    again = world.run("contacts_alerts", overdue_threshold=25, max_failed_ratio=0.1, max_drop_ratio=0.05)
    assert again.state == DagRunState.SUCCESS
    assert inbox.take() == [], "nothing changed: no message"

    hook = ContactsHook()
    for contact in world.sb.all_contacts()[:9]:  # more than 5% of the contacts go
        hook.delete_contact(contact["id"])
    _dashboard_row(overdue=3)
    _sync_row(records=20, failed=5)
    changed = world.run("contacts_alerts", overdue_threshold=25, max_failed_ratio=0.1, max_drop_ratio=0.05)
    assert changed.state == DagRunState.SUCCESS
    received = list(inbox.messages)
    assert inbox.take() == [
        "[contacts] contacts_drop FIRING",
        "[contacts] overdue_tasks resolved",
        "[contacts] sync_failures FIRING",
    ]
    assert all(m["X-Rcpt-To"] == ALERT_EMAIL for m in received)
    drop = next(m for m in received if "contacts_drop" in str(m["Subject"]))
    text = (
        drop.get_payload(0).get_payload(decode=True).decode() if drop.is_multipart() else drop.get_payload()
    )
    assert "contacts, 80 at the previous check" in text
