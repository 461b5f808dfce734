"""
The metrics as Airflow ``Stats`` gauges (StatsD, Datadog or OpenTelemetry, whichever ``[metrics]`` enables).

Airflow 3.3 gives task code ``airflow.sdk.observability.stats`` (``airflow.stats`` is a deprecated shim); the
task runner initialises its backend from the ``[metrics]`` section, and without a backend the calls do
nothing. Names are ``<prefix>.<figure>``, tags ``<prefix>.tag.<tag>``; a tag's name is normalised to the
characters StatsD accepts.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.observability import stats

from airflow_provider_contacts.reporting.metrics import ContactMetrics

GAUGE_FIELDS = (
    "contacts_total",
    "contacts_new",
    "contacts_updated",
    "tasks_total",
    "tasks_open",
    "tasks_overdue",
    "tasks_completed",
)


def gauge_values(metrics: ContactMetrics, prefix: str = "contacts") -> dict[str, float]:
    """
    Return the gauges of a run, by name.

    :param metrics: the run's figures.
    :param prefix: the first part of every gauge name.
    """
    values: dict[str, float] = {f"{prefix}.{name}": float(getattr(metrics, name)) for name in GAUGE_FIELDS}
    for tag, count in metrics.top_tags.items():
        name = stats.normalize_name_for_stats(f"{prefix}.tag.{tag.replace(' ', '_')}", log_warning=False)
        values[name] = float(count)
    if metrics.last_sync_at is not None:
        age = (metrics.computed_at - metrics.last_sync_at).total_seconds()
        values[f"{prefix}.last_sync_age_seconds"] = max(0.0, age)
    return values


def emit_gauges(
    metrics: ContactMetrics, prefix: str = "contacts", tags: dict[str, Any] | None = None
) -> dict[str, float]:
    """
    Send each gauge through Airflow's stats backend; return what was sent.

    :param metrics: the run's figures.
    :param prefix: the first part of every gauge name.
    :param tags: tags for backends that take them (e.g. ``{"location": ...}``).
    """
    values = gauge_values(metrics, prefix)
    for name, value in values.items():
        stats.gauge(name, value, tags=tags)
    return values
