"""Values from a request are logged escaped: a newline in the path or the payload writes no second line."""

from __future__ import annotations

import uuid

import pytest
import requests

from airflow_provider_contacts.webhooks.verify import printable
from contacts_sandbox.processes import wait_until

from .conftest import SecurityWorld, event_payload, post

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def log_with(sec: SecurityWorld, needle: str) -> str:
    """The API server's log, once it holds ``needle``."""

    def read() -> str | None:
        text = sec.world.log_path.read_text()
        return text if needle in text else None

    return wait_until(read, 30, f"{needle!r} in the API server's log")


@pytest.mark.parametrize(("encoded", "escaped"), [("%0D", "\\r"), ("%E2%80%A8", "\\u2028"), ("%0B", "\\x0b")])
def test_a_line_break_in_the_path_writes_one_log_line(security_world, encoded, escaped):
    sec = security_world
    marker = f"FAKE{uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{sec.world.api_url}/contacts-webhooks/x{encoded}{marker}", json={}, timeout=60)
    assert answer.status_code == 401
    log = log_with(sec, f"webhook for x{escaped}{marker}")
    # Airflow's own access log (``http.access``, not this provider's) writes \x0b and \u2028 raw: its
    # pieces end with ``status_code=``.
    ours = [line for line in log.splitlines() if "status_code=" not in line]
    assert [line for line in ours if line.lstrip().startswith(marker)] == []


def test_a_newline_in_the_path_does_not_reach_the_receiver_and_is_logged_escaped(security_world):
    """Airflow's mount does not match a path with a newline (404); its access log escapes the path."""
    sec = security_world
    marker = f"FAKE{uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{sec.world.api_url}/contacts-webhooks/x%0A{marker}", json={}, timeout=60)
    assert answer.status_code == 404
    log = log_with(sec, f"x\\n{marker}")
    assert [line for line in log.splitlines() if line.lstrip().startswith(marker)] == []


def test_a_newline_in_a_signed_payload_writes_one_log_line(security_world):
    sec = security_world
    marker = f"FAKE{uuid.uuid4().hex[:8]}"
    payload = event_payload(
        type=f"AppNews\n{marker} forged line"
    )  # a type nothing records: logged as ignored
    assert post(sec, "sec_ed", payload, key=sec.world.test_key).json() == {"status": "ignored"}
    log = log_with(sec, printable(payload["type"]))
    assert [line for line in log.splitlines() if line.lstrip().startswith(marker)] == []
