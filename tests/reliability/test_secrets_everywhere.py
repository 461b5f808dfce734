"""Secrets: after syncs with OAuth rotation, faults and failures, no token or client secret is anywhere.

The access tokens live half a second, so a sync refreshes (and rotates the refresh token) many times while 10 %
of its requests fail; then come the failures: a read-only connection, a locked-out refresh token, refused
records, a run over its failure ratio. Every token the token endpoint issued is collected from the store's
saves; none of them, nor the client secret, may appear in the captured logs (caplog and the process's
stdout/stderr), in any report or operator return value (XCom), or in any exception's text or repr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_contacts.auth import FileTokenStore, MemoryTokenStore
from airflow_provider_contacts.exceptions import ContactsAuthError, ContactsPermissionError
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.operators import UpsertContactOperator
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.reliability._worker import FOLLOW_UP
from tests.reliability.conftest import CONN_ENV, person, run_sync

pytestmark = pytest.mark.integration

DOMAIN = "secrets.example"


def test_no_secret_in_logs_xcom_or_errors(
    sandbox_factory: Callable[..., SandboxHandle],
    connect: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    sb = sandbox_factory(
        seed=0,
        rate_limit=1000,
        rate_interval=1.0,
        access_token_ttl=0.5,
        latency_ms=20,
        fault_rate=0.1,
        fault_kinds=["500", "502", "503", "drop"],
        random_seed=5,
    )
    connection = connect(sb, max_retries=10)
    secrets: set[str] = {sb.client_secret, connection["extra"]["refresh_token"]}
    saved = FileTokenStore.save

    def spy(store: FileTokenStore, tokens: dict[str, Any]) -> None:
        secrets.update(str(tokens[k]) for k in ("access_token", "refresh_token") if tokens.get(k))
        saved(store, tokens)

    monkeypatch.setattr(FileTokenStore, "save", spy)
    outputs: list[Any] = []  # reports and return values: what would go to XCom
    errors: list[BaseException] = []

    # 1. A sync under faults with rotation, bad records among good ones, follow-up tasks.
    records: list[Any] = [person(i, DOMAIN) for i in range(150)]
    records[10]["email"] = "broken"
    records[20] = {"firstName": "no key"}
    # (A follow-up task whose create got a 5xx is not re-sent, so some records fail besides the two bad ones.)
    report, error = run_sync(records, task_template=FOLLOW_UP, max_failed_ratio=1.0)
    assert error is None, error
    assert report["summary"]["failed"] >= 2
    outputs.append(report)
    # 2. The same sync over its failure ratio: fails, and still reports.
    report, error = run_sync(records[:30], max_failed_ratio=0.0)
    assert error is not None
    outputs.append(report)
    errors.append(error)
    # 3. A single-record operator's return value.
    outputs.append(UpsertContactOperator(task_id="upsert", fields=person(500, DOMAIN)).execute(context={}))
    # 4. An API refusal.
    with pytest.raises(Exception) as refused:
        ContactsHook().create_contact({"email": "not-an-email"})
    errors.append(refused.value)
    # 5. A read-only connection asked to write.
    secrets.add(connect(sb, scopes="contacts.readonly")["extra"]["refresh_token"])
    with pytest.raises(ContactsPermissionError) as read_only:
        ContactsHook().upsert_contact(person(501, DOMAIN))
    errors.append(read_only.value)
    # 6. Locked out: the connection's refresh token was used up elsewhere and the store holds nothing newer.
    sb.set_faults(rate=0.0)
    locked_out = sb.oauth_connection()
    spent = locked_out["extra"]["refresh_token"]
    form = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": spent,
        "user_type": "Location",
    }
    rotated = requests.post(sb.base_url + "/oauth/token", data=form, timeout=30).json()
    secrets.update({spent, rotated["access_token"], rotated["refresh_token"]})
    monkeypatch.setenv(CONN_ENV, json.dumps(locked_out))
    hook = ContactsHook(token_store=MemoryTokenStore())
    with pytest.raises(ContactsAuthError) as locked:
        hook.get_contact("anything")
    errors.append(locked.value)
    assert "Re-authorise" in str(locked.value)
    assert sb.stats()["token_refreshes"] >= 4  # rotation really happened, many times

    out, err = capfd.readouterr()
    texts = {
        "caplog": caplog.text,
        "stdout": out,
        "stderr": err,
        "xcom": json.dumps(outputs),
        "errors": "\n".join(f"{e}\n{e!r}\n{e.args!r}\n{e.__dict__!r}" for e in errors),
        "reprs": repr(hook) + repr(hook.auth) + repr(hook.auth.store),
    }
    assert len(secrets) >= 10
    leaks = {
        (where, secret[:6] + "...") for where, text in texts.items() for secret in secrets if secret in text
    }
    assert leaks == set()
