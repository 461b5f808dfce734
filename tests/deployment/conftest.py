"""
The deployment tier's fixture: a whole Airflow deployment, started once for the module and always stopped.

PostgreSQL metadata database (fresh, dropped at the end), ``airflow db migrate``, then the API server,
scheduler, DAG processor, triggerer and two Celery workers (Redis broker, result backend on PostgreSQL), the
example DAGs as a DAG bundle, and the sandbox in its own process with 30 s access tokens, serving HTTPS as the
API does: a certificate of the tier's own CA, which every process trusts through ``REQUESTS_CA_BUNDLE`` beside
``certifi``'s authorities (a corporate bundle's shape), so the workers' requests, the triggerer's ``httpx``
client and the API server's connection test each load it and check the certificate. Every process gets the
OAuth connection ``contacts_default`` on the default token store (the Variable
``contacts_token__contacts_default``). The tier skips, saying why, when PostgreSQL or Redis is unreachable.

Its figures (wall time, runs and states, the sandbox's counts) are printed in pytest's terminal summary.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from tests.tls import Authority, corporate_bundle

from .harness import REDIS, Api, Deployment, unreachable_reason, wait_until

#: Lines for the terminal summary (filled by the fixture's teardown).
SUMMARY: list[str] = []
#: The tier may run in a pytest-xdist worker, whose terminal nobody sees: it leaves its summary in this file
#: and the top-level conftest, loaded by the controlling process too, prints it.
SUMMARY_FILE = Path(__file__).resolve().parents[2] / ".deployment-tier-summary.txt"
#: The DAGs the tier runs (all unpaused at start).
DAG_IDS = (
    "contacts_sync",
    "contacts_dashboard",
    "contacts_events",
    "contacts_token_refresh",
    "contacts_deferred_sensor",
    "contacts_agency_sync",
)
#: The agency's installed locations in the sandbox (the first is the default connection's location).
AGENCY_LOCATIONS = 3
ACCESS_TOKEN_TTL = 30


@dataclass
class Tier:
    """What the scenarios use: the deployment, its REST client, the sandbox and a writer hook."""

    deployment: Deployment
    api: Api
    sandbox: SandboxHandle
    started: float
    notes: dict[str, Any] = field(default_factory=dict)

    def writer(self) -> Any:
        """A hook of this test process on the sandbox's private token (so it never touches the OAuth chain)."""
        from airflow_provider_contacts.auth import MemoryTokenStore
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        return ContactsHook("contacts_tier_writer", token_store=MemoryTokenStore())


@pytest.fixture(scope="module")
def tier() -> Iterator[Tier]:
    reason = unreachable_reason()
    if reason:
        pytest.skip(f"deployment tier skipped: {reason}")
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="contacts-deploy-"))
    try:
        authority, bundle = _tier_authority(home / "tls")
        with _sigterm_raises(), pytest.MonkeyPatch.context() as patch:
            # This process (the writer hook, the sandbox handle) trusts the CA as the deployment's processes do.
            patch.delenv("CURL_CA_BUNDLE", raising=False)
            patch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
            with running_sandbox(
                subprocess_mode=True,
                seed=30,
                random_seed=11,
                access_token_ttl=ACCESS_TOKEN_TTL,
                rate_limit=100,
                rate_interval=10,
                locations=AGENCY_LOCATIONS,
                tls_cert=str(authority.chain),
                tls_key=str(authority.key),
            ) as sandbox:
                yield from _deployed(home, sandbox, bundle, started)
    finally:
        if not os.environ.get("CONTACTS_DEPLOY_KEEP"):  # set it to keep the processes' logs
            shutil.rmtree(home, ignore_errors=True)


def _tier_authority(folder: Path) -> tuple[Authority, Path]:
    """The tier's CA and the bundle its processes trust: ``certifi``'s authorities and that CA."""
    folder.mkdir(parents=True)
    authority = Authority(folder, "Contacts Deployment Tier CA", hosts=("127.0.0.1",))
    return authority, corporate_bundle(authority.bundle)


def _deployed(home: Path, sandbox: SandboxHandle, bundle: Path, started: float) -> Iterator[Tier]:
    """Start the deployment on the running sandbox (HTTPS), yield the tier, and always stop the deployment."""
    assert sandbox.base_url.startswith("https://"), sandbox.base_url
    os.environ["AIRFLOW_CONN_CONTACTS_TIER_WRITER"] = sandbox.conn_env(sandbox.private_connection())
    connection = json.loads(sandbox.conn_env())
    deployment = Deployment(home=home, connection=connection, ca_bundle=bundle)
    # An agency connection too (its company chain on the default Variable store), for contacts_agency_sync;
    # one rate budget for every process, in Redis under this deployment's own key prefix.
    agency = deployment.more_connections["contacts_agency"] = sandbox.agency_connection()
    for conn in (connection, agency):
        conn["extra"]["rate_limit_backend"] = f"redis://{REDIS[0]}:{REDIS[1]}/{deployment.redis_db}"
        conn["extra"]["rate_limit_key_prefix"] = deployment.name
    api = Api(deployment)
    tier = Tier(deployment, api, sandbox, started)
    try:
        deployment.create()
        deployment.start_all()
        wait_until(api.ready, 120, "the API server")
        api.login()
        for dag_id in DAG_IDS:
            wait_until(lambda dag_id=dag_id: api.dag_parsed(dag_id), 120, f"DAG {dag_id} to be parsed")
        for dag_id in DAG_IDS:
            api.unpause(dag_id)
        tier.notes["ready_after_s"] = round(time.monotonic() - started, 1)
        yield tier
    finally:
        try:
            _summarise(tier)
        finally:
            deployment.stop()
            os.environ.pop("AIRFLOW_CONN_CONTACTS_TIER_WRITER", None)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """
    Turn SIGTERM (CI cancelling the job, a kill) into an exception while the tier runs, so that its teardown
    still stops every process of the deployment instead of leaving them running.
    """

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}: stopping the deployment")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summarise(tier: Tier) -> None:
    SUMMARY.append(
        f"deployment up (migrated, 6 processes, DAGs parsed) after {tier.notes.get('ready_after_s')} s"
    )
    try:
        for dag_id in DAG_IDS:
            for run in tier.api.runs(dag_id):
                SUMMARY.append(f"  {dag_id:26} {run['run_type']:14} {run['state']:8} {run['dag_run_id']}")
        stats = tier.sandbox.stats()
        SUMMARY.append(
            f"sandbox (over {tier.sandbox.base_url.split(':', 1)[0].upper()}): token refreshes "
            f"{stats['token_refreshes']}, rejected refresh tokens "
            f"{stats['rejected_refresh_tokens']}, 429s {stats['rate_limit_rejections']}, "
            f"requests {sum(stats['requests_by_route'].values())}"
        )
    except Exception as error:  # the summary must never hide the tests' own outcome
        SUMMARY.append(f"(summary incomplete: {type(error).__name__}: {error})")
    errors = tier.deployment.server_errors()
    SUMMARY.append(f"API server answers of 500: {len(errors)}")
    SUMMARY.extend(f"  {error[:300]}" for error in errors[:10])
    SUMMARY.append(f"tier wall time {time.monotonic() - tier.started:.1f} s")
    SUMMARY_FILE.write_text("\n".join(SUMMARY) + "\n")
