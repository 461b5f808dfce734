"""A triggerer's loop imports nothing at a trigger's first request: each import there stops every trigger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("first_poll_probe.py")


def test_a_watcher_and_a_sensor_trigger_import_nothing_on_the_loop():
    done = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Both got as far as their first request, which the closed port refused.
    assert "no answer" in report["watcher"], report["watcher"]
    assert "no answer" in report["deferred"], report["deferred"]
    # The transport was loaded in the hook lookup's thread (the recorder sees real imports) ...
    assert "airflow_provider_contacts.transport.sync" in report["elsewhere"]
    # ... and nothing on the loop: the transport alone took 0.1 s there, anyio's lazy backend 50 ms.
    assert report["on_the_loop"] == []
