"""The Variable token store's process-level pieces: the Task SDK check and the host-wide refresh lock."""

from __future__ import annotations

import threading

import pytest
from filelock import Timeout

from airflow_provider_contacts.hooks.auth import VariableTokenStore, _in_task_runtime


def test_the_task_runtime_is_seen_only_while_a_comms_channel_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time import task_runner

    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    assert _in_task_runtime() is False
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", None, raising=False)
    assert _in_task_runtime() is False  # set but None: not a task runtime (Airflow's own check)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    assert _in_task_runtime() is True


def test_two_stores_of_one_key_never_refresh_at_once() -> None:
    first, second = (
        VariableTokenStore("contacts_token__lock_test"),
        VariableTokenStore("contacts_token__lock_test"),
    )
    other = VariableTokenStore("contacts_token__another")
    outcome: list[str] = []
    with first.lock():

        def contend() -> None:
            try:
                second._lock.acquire(timeout=0.2)
            except Timeout:
                outcome.append("blocked")
            else:
                second._lock.release()
                outcome.append("acquired")
            with other.lock():
                outcome.append("other key free")

        thread = threading.Thread(target=contend)
        thread.start()
        thread.join(timeout=10)
    assert outcome == ["blocked", "other key free"]
    with second.lock():  # released with the first
        pass
