"""The forwarder's client of Airflow's REST API sends its own bearer token, whatever ``~/.netrc`` says."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests_mock as rm

from airflow_provider_contacts.webhooks.forwarder import AirflowAssetsClient


def test_a_netrc_entry_never_replaces_the_forwarders_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password not-for-airflow\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get(
        "http://airflow.test:8080/api/v2/assets",
        json={"assets": [{"uri": "highlevel://locA/contacts", "id": 7}]},
    )
    client = AirflowAssetsClient("http://airflow.test:8080", token="forwarder-token")
    assert client.asset_id("highlevel://locA/contacts") == 7
    assert requests_mock.last_request.headers["Authorization"] == "Bearer forwarder-token"
