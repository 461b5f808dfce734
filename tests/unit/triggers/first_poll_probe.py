"""
Run by ``test_loop_imports.py`` in a new interpreter, as a triggerer starts: a watcher's shared stream and a
deferred sensor's trigger each make their first request (to a closed port) while every module that is
imported is recorded with its thread. Prints one JSON line: the modules loaded on the loop's thread, those
loaded in other threads, and how each of the two ended.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import os
import socket
import sys
import threading
import time
from typing import Any


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


os.environ["AIRFLOW_CONN_CONTACTS_PROBE"] = json.dumps(
    {
        "conn_type": "contacts",
        "host": f"http://127.0.0.1:{closed_port()}",
        "password": "pit-secret-0001",
        "extra": {"auth_type": "private_token", "location_id": "loc1", "retry_backoff": 0, "max_retries": 0},
    }
)

# What the triggerer has loaded before it runs a trigger: the trigger classes.
from airflow_provider_contacts.triggers import ContactChangedEventTrigger, DuplicateContactTrigger  # noqa: E402

loaded: list[tuple[str, int]] = []


class Recorder(importlib.abc.MetaPathFinder):
    """Consulted only for a module not loaded yet: each call is a real import."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        loaded.append((fullname, threading.get_ident()))
        return None


async def first_request(run: Any) -> str:
    try:
        event = await asyncio.wait_for(anext(run), 60)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return f"event: {getattr(event, 'payload', event)}"


async def main() -> dict[str, Any]:
    loop_thread = threading.get_ident()
    sys.meta_path.insert(0, Recorder())
    stream = ContactChangedEventTrigger.open_shared_stream(
        {"contacts_conn_id": "contacts_probe", "poll_interval": 0.2, "max_consecutive_failures": 1}
    )
    watcher = await first_request(stream)
    sensor = DuplicateContactTrigger(
        contacts_conn_id="contacts_probe", email="a@x.test", poll_interval=0.2, end_time=time.time() + 1
    )
    deferred = await first_request(sensor.run())
    return {
        "on_the_loop": sorted({name for name, thread in loaded if thread == loop_thread}),
        "elsewhere": sorted({name for name, thread in loaded if thread != loop_thread}),
        "watcher": watcher,
        "deferred": deferred,
    }


print(json.dumps(asyncio.run(main())))
