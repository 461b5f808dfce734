"""
contacts_alerts: rules on the dashboard's metrics and the sync's report; a message only when one changes.

Shows the timetonic integration's use case "push summarized metrics to dashboards, alert on changes". Each
time ``contacts_dashboard`` stores a metrics row (the ``contacts_metrics`` asset), ``evaluate_rules`` checks:

- ``overdue_tasks``: the newest metrics row counts more overdue tasks than ``overdue_threshold``;
- ``sync_failures``: the newest ``contacts_sync`` audit row failed more than ``max_failed_ratio`` of its
  records;
- ``contacts_drop``: the location holds ``max_drop_ratio`` fewer contacts than at the previous evaluation
  (one search request: its ``total``).

``notify_changes`` compares each rule with its state at the previous run, kept in the Airflow Variable
``contacts_alerts_state``, and sends one message per rule whose state changed (firing, or resolved) through
a notifier (``SmtpNotifier`` of the SMTP provider: any ``BaseNotifier``, e.g. Slack's, fits in
``alert_notifier``). A rule that stays as it was sends nothing, so a lasting problem is announced once and
its end once (a drop is measured against the previous check, so it ends at the next check unless contacts
keep going). The state is saved after each message: a retried run sends again only what it had not sent.
A rule with nothing to judge (no metrics row, no sync yet) keeps its previous state. Recipient, sender and
SMTP connection come from the environment (``dag_support/settings.py``); nothing is looked up at parse time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from dag_support.settings import (
    ALERT_EMAIL,
    ALERT_FROM,
    CONTACTS_CONN_ID,
    CONTACTS_METRICS,
    REPORTING_CONN_ID,
    SMTP_CONN_ID,
)

STATE_VARIABLE = "contacts_alerts_state"


def alert_notifier(subject: str, body: str) -> Any:
    """
    The notifier that carries one alert: an e-mail through the SMTP provider's notifier.

    :param subject: the message's subject.
    :param body: the message's HTML body.
    """
    from airflow_provider_contacts.extras import require

    smtp = require("airflow.providers.smtp.notifications.smtp", extra="alerts", feature="contacts_alerts")
    return smtp.SmtpNotifier(
        to=ALERT_EMAIL, from_email=ALERT_FROM, smtp_conn_id=SMTP_CONN_ID, subject=subject, html_content=body
    )


def load_state() -> dict[str, Any]:
    """The rules' states at the previous run (``{}`` before the first)."""
    import json

    from airflow.sdk import Variable

    return json.loads(Variable.get(STATE_VARIABLE, default="{}"))


@dag(
    dag_id="contacts_alerts",
    schedule=[CONTACTS_METRICS],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "reporting"],
    params={
        "overdue_threshold": Param(25, type="integer", minimum=0, description="alert above this many"),
        "max_failed_ratio": Param(0.1, type="number", minimum=0, maximum=1),
        "max_drop_ratio": Param(0.05, type="number", minimum=0, maximum=1),
    },
    doc_md=__doc__,
)
def contacts_alerts() -> None:
    @task
    def evaluate_rules(params: dict[str, Any]) -> dict[str, Any]:
        """Each rule's verdict: ``{"firing": bool or None (nothing to judge), "text": ...}``."""
        from dag_support.settings import reporting_hook

        from airflow_provider_contacts.hooks.contacts import ContactsHook
        from airflow_provider_contacts.hooks.search import count_contacts
        from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, METRICS_TABLE, read_rows

        sql = reporting_hook(REPORTING_CONN_ID)
        verdicts: dict[str, dict[str, Any]] = {}
        metrics = read_rows(sql, METRICS_TABLE, limit=1)
        overdue = metrics[0]["tasks_overdue"] if metrics else None
        limit = params["overdue_threshold"]
        verdicts["overdue_tasks"] = {
            "firing": None if overdue is None else overdue > limit,
            "text": f"{overdue} overdue tasks (threshold {limit})",
        }
        syncs = [r for r in read_rows(sql, AUDIT_TABLE, limit=50) if r["dag_id"] == "contacts_sync"]
        last = syncs[-1] if syncs else None
        ratio = (last["failed"] or 0) / last["records_in"] if last and last["records_in"] else None
        verdicts["sync_failures"] = {
            "firing": None if ratio is None else ratio > params["max_failed_ratio"],
            "text": f"sync {last['run_id'] if last else '-'}: {ratio or 0:.0%} of the records failed "
            f"(limit {params['max_failed_ratio']:.0%})",
        }
        total = count_contacts(ContactsHook(contacts_conn_id=CONTACTS_CONN_ID))
        before = load_state().get("contacts_total")
        drop = (before - total) / before if before else None
        verdicts["contacts_drop"] = {
            "firing": None if drop is None else drop > params["max_drop_ratio"],
            "text": f"{total} contacts, {before if before else 'no count'} at the previous check "
            f"(limit {params['max_drop_ratio']:.0%} fewer)",
        }
        return {"rules": verdicts, "contacts_total": total}

    @task
    def notify_changes(evaluation: dict[str, Any]) -> dict[str, list[str]]:
        """One message per rule whose state changed; then remember the states."""
        import json
        import logging

        from airflow.sdk import Variable

        log = logging.getLogger(__name__)
        firing: dict[str, bool] = dict(load_state().get("firing", {}))
        total = evaluation["contacts_total"]

        def save() -> None:
            state = json.dumps({"firing": firing, "contacts_total": total})
            Variable.set(STATE_VARIABLE, state, description="contacts_alerts: each rule's state")

        sent: list[str] = []
        for rule, verdict in evaluation["rules"].items():
            now_firing = verdict["firing"]
            if now_firing is None or now_firing == firing.get(rule, False):
                log.info("%s: unchanged (%s)", rule, verdict["text"])
                continue
            word = "FIRING" if now_firing else "resolved"
            subject = f"[contacts] {rule} {word}"
            alert_notifier(subject, f"<p>{rule} is {word}: {verdict['text']}.</p>")(get_current_context())
            log.info("%s: %s, message sent (%s)", rule, word, verdict["text"])
            firing[rule] = now_firing
            save()  # after each message: a retry never sends one twice
            sent.append(subject)
        save()
        return {"sent": sent}

    notify_changes(evaluate_rules())


contacts_alerts()
