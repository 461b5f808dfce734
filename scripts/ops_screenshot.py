"""
A screenshot of the operations view (``GET /contacts-ops/``) into ``docs/operations.png``.

1. starts the sandbox (its own process) and, when Redis answers on 127.0.0.1:6379, gives the connection a
   shared rate budget there (under a key prefix of its own, deleted at the end);
2. makes the small run of ``tests.integration.operations.small_run`` in a fresh Airflow home in
   ``.demo/ops``: a sync with ``airflow dags test`` (an OAuth refresh, the budget spent), and a watcher started
   by a real triggerer until it saved its watermark;
3. adds two webhook deliveries to the receiver's outcome table (one recorded, one refused), as the receiver
   records them;
4. starts ``airflow api-server`` with the plugin (SimpleAuthManager, everyone admin: the page needs no login
   here) and takes the screenshot with headless Chromium (Debian: ``apt-get install chromium``).

Usage: ``python scripts/ops_screenshot.py [--output docs/operations.png] [--width 1280]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The small run is the live tests' (tests/integration/operations/small_run.py).
sys.path.insert(0, str(REPO))
HOME = REPO / ".demo" / "ops"
CONN_ID = "contacts_default"
REDIS = "redis://127.0.0.1:6379/0"


def _redis_prefix() -> str | None:
    """A key prefix of this run's own when Redis answers, else None (the budget is then per process)."""
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_timeout=2).ping()
    except Exception:
        return None
    return f"ops-screenshot-{uuid.uuid4().hex[:10]}"


def _forget(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def screenshot(url: str, output: Path, width: int, height: int) -> None:
    """
    Save a headless Chromium screenshot of ``url``.

    :param url: the page.
    :param output: the PNG.
    :param width: the window's width in pixels.
    :param height: the window's height in pixels (the page is cut there).
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={output}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    """
    Make the run, start the server, take the screenshot; return the exit code.

    :param argv: command-line arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "operations.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=880)
    args = parser.parse_args(argv)

    from airflow_provider_contacts.sandbox import running_sandbox
    from contacts_sandbox.processes import running_api_server
    from tests.integration.operations.small_run import (
        prepare_home,
        send_two_webhooks,
        small_run,
        webhook_key_and_extra,
    )

    if HOME.exists():
        shutil.rmtree(HOME)
    HOME.mkdir(parents=True)
    prefix = _redis_prefix()
    try:
        with running_sandbox(subprocess_mode=True, seed=20, rate_limit=100, rate_interval=10.0) as sandbox:
            connection = sandbox.oauth_connection()
            if prefix:
                connection["extra"] = {
                    **connection["extra"],
                    "rate_limit_backend": REDIS,
                    "rate_limit_key_prefix": prefix,
                }
            key, webhook_extra = webhook_key_and_extra(connection["extra"]["location_id"])
            connection["extra"] = {**connection["extra"], **webhook_extra}
            print(
                f"Small run in {HOME} (sandbox {sandbox.base_url}, budget {'in Redis' if prefix else 'per process'})"
            )
            env = prepare_home(
                HOME, CONN_ID, connection, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True"
            )
            small_run(env, HOME)
            with running_api_server(env, HOME) as url:
                send_two_webhooks(url, CONN_ID, key, connection["extra"]["location_id"])
                args.output.parent.mkdir(parents=True, exist_ok=True)
                screenshot(f"{url}/contacts-ops/", args.output, args.width, args.height)
    finally:
        if prefix:
            _forget(prefix)
    print(f"Screenshot: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
