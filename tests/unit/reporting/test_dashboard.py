"""The chart (a real PNG), the page (escaped, with the latest figures and deltas) and the gauges."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from matplotlib.image import imread

from airflow_provider_contacts.reporting import gauges
from airflow_provider_contacts.reporting.dashboard import build_dashboard
from airflow_provider_contacts.reporting.metrics import compute_metrics

from .conftest import T0, FakeContactsHook


def _rows(fake_hook: FakeContactsHook) -> list[dict[str, object]]:
    rows = []
    for i in range(3):
        metrics = compute_metrics(
            fake_hook, T0 - timedelta(hours=1 - i), T0 + timedelta(hours=i), now=T0 + timedelta(hours=i)
        )
        rows.append(metrics.as_row("dash", f"run{i}"))
    rows[-1]["top_tags"] = json.dumps({"<b>vip</b>": 2, "customer": 3})
    rows[-1]["contacts_total"] = 9
    return rows


def test_dashboard_files(fake_hook: FakeContactsHook, tmp_path: Path) -> None:
    paths = build_dashboard(_rows(fake_hook), tmp_path / "out", title="Test & co")
    image = imread(paths["chart"])
    assert image.shape[0] >= 600 and image.shape[1] >= 1000
    assert image.std() > 0.05  # something was drawn
    html = Path(paths["page"]).read_text()
    assert '<img src="dashboard.png"' in html
    assert "&lt;b&gt;vip&lt;/b&gt;" in html and "<b>vip" not in html
    assert "Test &amp; co" in html
    assert "<th>Contacts</th><td>9</td><td class='delta'>+3</td>" in html
    assert "<td>3</td>" in html  # runs recorded


def test_nothing_to_draw(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="No metrics rows"):
        build_dashboard([], tmp_path)


def test_gauges_are_sent_through_airflow_stats(
    fake_hook: FakeContactsHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, float, object]] = []
    monkeypatch.setattr(
        gauges.stats, "gauge", lambda name, value, tags=None: sent.append((name, value, tags))
    )
    metrics = compute_metrics(
        fake_hook, T0, T0 + timedelta(hours=1), last_sync_at=T0, now=T0 + timedelta(hours=2)
    )
    values = gauges.emit_gauges(metrics, prefix="ghl", tags={"location": "loc-1"})
    assert values["ghl.contacts_total"] == 6.0
    assert values["ghl.tasks_overdue"] == float(metrics.tasks_overdue)
    assert values["ghl.tag.customer"] == 3.0
    assert values["ghl.last_sync_age_seconds"] == 7200.0
    assert sent == [(name, value, {"location": "loc-1"}) for name, value in values.items()]


def test_gauge_names_are_statsd_safe(fake_hook: FakeContactsHook) -> None:
    fake_hook.contacts[0]["tags"] = ["hot lead!", "vip"]
    metrics = compute_metrics(fake_hook, T0, T0 + timedelta(hours=1))
    names = gauges.gauge_values(metrics)
    assert "contacts.tag.hot_lead_" in names
    assert all(name.replace(".", "").replace("_", "").replace("-", "").isalnum() for name in names)
