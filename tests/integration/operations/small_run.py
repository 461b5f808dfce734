"""
A small run for the operations view, shared by its live test and ``scripts/ops_screenshot.py``: an Airflow home
of its own with a sync DAG and an asset watcher on one ``contacts`` connection, the sync run with
``airflow dags test`` (it refreshes the OAuth token and spends the rate budget), and the watcher started by a
real triggerer until it has saved its watermark.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contacts_sandbox.processes import airflow_env, airflow_process, run_airflow, wait_until

SYNC_DAG_ID = "ops_sync"
WATCH_DAG_ID = "ops_watch"
WATCHER = "ops_created_watcher"
#: The sync's records: two contacts and one that fails (its e-mail is not an address).
RECORDS = [
    {"email": "ops.one@example.com", "firstName": "One"},
    {"email": "ops.two@example.com", "firstName": "Two"},
    {"email": "not an address", "firstName": "Bad"},
]

_DAG_FILE = """
from datetime import datetime

from airflow.sdk import DAG, Asset, AssetWatcher

from airflow_provider_contacts.assets import contacts_asset
from airflow_provider_contacts.operators import SyncContactsOperator
from airflow_provider_contacts.triggers import ContactChangedEventTrigger

with DAG({sync!r}, schedule=None, start_date=datetime(2026, 1, 1)):
    SyncContactsOperator(task_id="push", contacts_conn_id={conn_id!r}, records={records!r}, max_failed_ratio=0.5)

with DAG(
    {watch!r},
    schedule=[
        Asset(
            name="ops_contacts_created",
            watchers=[
                AssetWatcher(
                    name={watcher!r},
                    trigger=ContactChangedEventTrigger(contacts_conn_id={conn_id!r}, event="created", poll_interval=60),
                )
            ],
        )
    ],
    start_date=datetime(2026, 1, 1),
):
    pass

with DAG("ops_on_webhooks", schedule=[contacts_asset({location!r})], start_date=datetime(2026, 1, 1)):
    pass
"""


def prepare_home(home: Path, conn_id: str, connection: dict[str, Any], **settings: str) -> dict[str, str]:
    """
    Write the DAGs into ``home``, create its metadata database; return the environment of its processes.

    :param home: a new, empty ``AIRFLOW_HOME``.
    :param conn_id: the ``contacts`` connection's id.
    :param connection: the connection (as ``running_sandbox`` gives it), passed in ``AIRFLOW_CONN_<ID>``.
    :param settings: more environment (auth manager settings).
    """
    (home / "dags").mkdir(parents=True, exist_ok=True)
    (home / "dags" / "ops_dags.py").write_text(
        _DAG_FILE.format(
            sync=SYNC_DAG_ID,
            watch=WATCH_DAG_ID,
            watcher=WATCHER,
            conn_id=conn_id,
            records=RECORDS,
            location=connection["extra"]["location_id"],
        )
    )
    env = airflow_env(
        home,
        **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection)},
        # Airflow registers the watchers of an asset only when a DAG that is not paused uses it.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        **settings,
    )
    run_airflow(env, "db", "migrate")
    return env


def watermark_saved(db_path: Path) -> str | None:
    """The watcher's saved watermark (its ``since``), or None before the triggerer saved one."""
    with sqlite3.connect(db_path, timeout=30) as db:
        row = db.execute(
            "SELECT s.value FROM asset_state_store s JOIN asset a ON a.id = s.asset_id "
            "WHERE a.name = 'ops_contacts_created' AND s.key LIKE 'contacts_changed_watermark%'"
        ).fetchone()
    return json.loads(row[0])["since"] if row else None


def small_run(env: dict[str, str], home: Path, timeout: float = 180) -> None:
    """
    Register the DAGs, run the sync, and run a triggerer until the watcher has saved its watermark.

    :param env: what :func:`prepare_home` returned.
    :param home: the ``AIRFLOW_HOME``.
    :param timeout: seconds the triggerer may take to save the watermark.
    """
    run_airflow(env, "dags", "reserialize")
    run_airflow(env, "dags", "test", SYNC_DAG_ID)
    with airflow_process(env, home, "triggerer") as triggerer:

        def saved() -> str | None:
            if triggerer.poll() is not None:
                raise RuntimeError(
                    f"airflow triggerer exited ({triggerer.returncode}); see {home}/triggerer.log"
                )
            return watermark_saved(home / "airflow.db")

        wait_until(saved, timeout, "the watcher's first watermark")


def webhook_key_and_extra(location_id: str) -> tuple[Ed25519PrivateKey, dict[str, str]]:
    """
    A signing key for the run's webhooks and the connection extra that opts the connection in.

    :param location_id: the connection's location.
    """
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, {"webhook_public_key": base64.b64encode(public).decode(), "location_id": location_id}


def send_two_webhooks(api_url: str, conn_id: str, key: Ed25519PrivateKey, location_id: str) -> list[int]:
    """
    Deliver two ContactCreate webhooks to the receiver of ``api_url`` as HighLevel would: one signed with the
    connection's key (recorded: a DAG uses the location's contacts asset), one whose signature does not
    verify (refused). Return the two answers' status codes.

    :param api_url: the API server's base URL.
    :param conn_id: the opted-in connection.
    :param key: the key whose public half the connection holds.
    :param location_id: the connection's location.
    """
    statuses = []
    for webhook_id, signer in (("wh-recorded-1", key), ("wh-refused-1", Ed25519PrivateKey.generate())):
        body = json.dumps(
            {
                "type": "ContactCreate",
                "locationId": location_id,
                "id": f"c-{webhook_id}",
                "timestamp": datetime.now(timezone.utc)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "webhookId": webhook_id,
            }
        ).encode()
        answer = requests.post(
            f"{api_url}/contacts-webhooks/{conn_id}",
            data=body,
            headers={
                "content-type": "application/json",
                "x-ghl-signature": base64.b64encode(signer.sign(body)).decode(),
            },
            timeout=60,
        )
        statuses.append(answer.status_code)
    return statuses
