"""The Variable token store's process-level pieces: the Task SDK check and the host-wide refresh lock."""

from __future__ import annotations

import contextlib
import threading

import pytest
from filelock import Timeout

from airflow_provider_contacts.auth import VariableTokenStore, _in_task_runtime


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


class InProcessLikeChannel:
    """
    A supervisor channel that does what ``dag.test()``'s in-process one does on each request: remove
    ``task_runner.SUPERVISOR_COMMS`` while it handles the request, then put back what was there. The two
    requests are made to overlap when the caller lets them (a barrier), and the first to enter leaves first.
    """

    def __init__(self) -> None:
        self.entered: list[int] = []
        self.both_inside = threading.Barrier(2)
        self.first_left = threading.Event()

    def send(self, msg: object) -> None:
        from airflow.sdk.execution_time.supervisor import set_supervisor_comms

        with set_supervisor_comms(None):
            order = len(self.entered)
            self.entered.append(order)
            # Broken barrier: the other request could not come in, this package serialised them.
            with contextlib.suppress(threading.BrokenBarrierError):
                self.both_inside.wait(timeout=1)
            if order == 1:
                self.first_left.wait(timeout=5)
        if order == 0:
            self.first_left.set()


def test_two_threads_masking_tokens_at_once_leave_the_dag_test_channel_in_place() -> None:
    """Overlapping requests used to leave SUPERVISOR_COMMS removed: the NameError of issue 10, finding 3."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import set_supervisor_comms

    from airflow_provider_contacts.auth import mask

    channel = InProcessLikeChannel()
    with set_supervisor_comms(channel):
        threads = [
            threading.Thread(target=mask, args=(f"sbx-at-secret-{n}-0123456789", "access_token"))
            for n in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert channel.entered == [0, 1]
        assert getattr(task_runner, "SUPERVISOR_COMMS", None) is channel


def test_two_deployments_on_one_host_do_not_share_the_refresh_lock(monkeypatch):
    """Two deployments with the same connection id used to wait on one lock file (seen with a leftover one)."""
    from airflow_provider_contacts.auth import VariableTokenStore

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://blue:8080/execution/")
    blue, blue_again = VariableTokenStore("contacts_token__crm"), VariableTokenStore("contacts_token__crm")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://green:8080/execution/")
    green = VariableTokenStore("contacts_token__crm")
    assert blue._lock.lock_file == blue_again._lock.lock_file
    assert blue._lock.lock_file != green._lock.lock_file
