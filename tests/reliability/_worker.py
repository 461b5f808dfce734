"""Worker processes of the reliability tests, run as ``python -m tests.reliability._worker <mode> ...``.

- ``token``: ``--threads`` threads, each with its own ``ContactsHook`` on a shared token store, wait for a
  start signal (a file), then make ``--calls`` API calls each; the outcome goes to ``--out`` as JSON.
- ``sync``: ``SyncContactsOperator`` over a records file, executed directly with :func:`sync_context`; the
  report goes to ``--out`` as JSON (the crash test kills this one halfway).

The connection comes from ``AIRFLOW_CONN_CONTACTS_DEFAULT`` in the environment, like in a task.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

#: The follow-up task the sync tests use (created once per new contact, never twice).
FOLLOW_UP = {"title": "Welcome call: {firstName}", "due_in_days": 3}


class FakeTaskInstance:
    """The parts of a task instance ``SyncContactsOperator.execute`` uses: ``try_number`` and ``xcom_push``."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep a pushed value; XCom takes JSON only, so it must serialise."""
        json.dumps(value)
        self.xcom[key] = value


def sync_context(run_after: datetime, try_number: int = 1) -> dict[str, Any]:
    """
    A minimal task context for executing an operator directly.

    :param run_after: the DAG run's ``run_after`` (a retried run keeps it).
    :param try_number: the task's try (a retry is 2).
    """
    return {
        "ti": FakeTaskInstance(try_number),
        "dag_run": SimpleNamespace(run_after=run_after, clear_number=0),
    }


def wait_for(condition: Any, timeout: float, what: str, poll: float = 0.005) -> None:
    """
    Poll ``condition()`` until it is true.

    :param condition: a callable returning a truthy value when done.
    :param timeout: seconds before giving up with TimeoutError.
    :param what: what is awaited, for the error.
    :param poll: seconds between two polls.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def _store(spec: str) -> Any:
    from airflow_provider_contacts.auth import FileTokenStore, VariableTokenStore

    kind, _, where = spec.partition(":")
    return FileTokenStore(where) if kind == "file" else VariableTokenStore(where)


def token_worker(args: argparse.Namespace) -> None:
    """Many threads, one hook each, all on the same store, released together."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hooks = [ContactsHook(token_store=_store(args.store)) for _ in range(args.threads)]
    for hook in hooks:
        hook.settings  # noqa: B018 - read the connection before the start signal
    ok = 0
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.threads)

    def run(hook: ContactsHook) -> None:
        nonlocal ok
        barrier.wait()
        for _ in range(args.calls):
            try:
                hook.request(
                    "POST", "/contacts/search", json={"locationId": hook.location_id, "pageLimit": 1}
                )
            except Exception as error:
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
            else:
                with lock:
                    ok += 1

    Path(args.ready).touch()
    wait_for(Path(args.go).exists, 120, "the start signal")
    threads = [threading.Thread(target=run, args=(hook,)) for hook in hooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refreshes = sum(getattr(hook.auth, "refreshes", 0) for hook in hooks)
    Path(args.out).write_text(json.dumps({"ok": ok, "failures": failures, "refreshes": refreshes}))


def sync_worker(args: argparse.Namespace) -> None:
    """SyncContactsOperator over a records file, with the follow-up task; the report to ``--out``."""
    from airflow_provider_contacts.operators import SyncContactsOperator

    operator = SyncContactsOperator(
        task_id="crash_sync",
        records=args.records,
        task_template=FOLLOW_UP,
        max_workers=args.workers,
        batch_size=50,
        max_failed_ratio=0.0,
    )
    context = sync_context(datetime.fromisoformat(args.run_after), args.try_number)
    report = operator.execute(context)
    Path(args.out).write_text(json.dumps(report))


def main(argv: list[str] | None = None) -> None:
    """Parse the mode and its options, and run it."""
    parser = argparse.ArgumentParser(prog="tests.reliability._worker")
    modes = parser.add_subparsers(dest="mode", required=True)
    token = modes.add_parser("token")
    token.add_argument("--store", required=True, help="file:PATH or variable:KEY")
    token.add_argument("--threads", type=int, default=16)
    token.add_argument("--calls", type=int, default=3)
    token.add_argument("--ready", required=True, help="file to create once ready")
    token.add_argument("--go", required=True, help="file whose existence starts the calls")
    token.add_argument("--out", required=True)
    sync = modes.add_parser("sync")
    sync.add_argument("--records", required=True)
    sync.add_argument("--run-after", required=True, help="ISO-8601 run_after of the DAG run")
    sync.add_argument("--try-number", type=int, default=1)
    sync.add_argument("--workers", type=int, default=4)
    sync.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    token_worker(args) if args.mode == "token" else sync_worker(args)


if __name__ == "__main__":
    main()
