"""
contacts_token_refresh: refresh the OAuth access token on a schedule, one run at a time.

Shows: the one place where the HighLevel OAuth token is refreshed on purpose. HighLevel access tokens live
about 24 hours and every refresh rotates the refresh token (the old one stops working), so two workers
refreshing at once could lock the integration out. This DAG refreshes every 6 hours, well before expiry,
with ``max_active_runs=1`` and ``max_active_tasks=1``, so no two refreshes ever race; every other task's
hook then finds a fresh token in the token store (an Airflow Variable, ``contacts_token__<conn_id>`` by
default) and never needs to refresh itself. ``ContactsHook.refresh_access_token()`` saves the rotated pair
before it is used and returns a summary with no token in it (expiry, scopes, a fingerprint), which is
what goes to XCom and the log. A failed refresh retries a few times, then fails loudly: the message says
how to re-authorise. Connections with a private integration token have nothing to refresh: the task skips.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import dag, task
from dag_support.settings import CONTACTS_CONN_ID


@dag(
    dag_id="contacts_token_refresh",
    schedule=timedelta(hours=6),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    tags=["contacts", "oauth"],
    doc_md=__doc__,
)
def contacts_token_refresh() -> None:
    @task(retries=3, retry_delay=timedelta(minutes=2), retry_exponential_backoff=True)
    def refresh_token() -> dict[str, Any]:
        """Refresh now and save the rotated tokens; return the token-free summary."""
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_contacts.auth import OAuthTokenProvider
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        hook = ContactsHook(contacts_conn_id=CONTACTS_CONN_ID)
        if not isinstance(hook.auth, OAuthTokenProvider):
            raise AirflowSkipException("private integration token: nothing to refresh")
        return hook.refresh_access_token()

    refresh_token()


contacts_token_refresh()
