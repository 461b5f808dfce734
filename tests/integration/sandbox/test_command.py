"""The ``contacts-sandbox`` command: prints the connection, serves, keeps state in ``--db`` across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from airflow_provider_contacts.sandbox import running_sandbox

pytestmark = pytest.mark.integration


def test_command_serves_and_a_db_file_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    with running_sandbox(subprocess_mode=True, seed=5, db=db) as sb:
        connection = sb.connection
        assert connection["conn_type"] == "contacts"
        assert connection["extra"]["scopes"] == "contacts.readonly contacts.write"
        assert connection["extra"]["requests_per_10s"] == 100
        client = sb.client()
        created = client.create_contact(email="kept@example.com")
        spare_refresh_token = sb.mint_refresh_token()
        assert len(sb.all_contacts()) == 6
    with running_sandbox(subprocess_mode=True, seed=5, db=db) as sb:
        emails = [c["email"] for c in sb.all_contacts()]
        assert len(emails) == 6 and "kept@example.com" in emails  # not seeded twice
        form = {
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": spare_refresh_token,
        }
        answer = requests.post(f"{sb.base_url}/oauth/token", data=form, timeout=10)
        assert answer.status_code == 200  # tokens persist with the data
        assert sb.client().get(f"/contacts/{created['id']}").status_code == 200
