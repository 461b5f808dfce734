"""
The sync and dashboard DAGs end to end with ``dag.test()`` against a real sandbox server: a day of activity
on both sides, one sync run, one dashboard run; then the server's state, the phone system, the audit row,
the asset event and the metrics row are checked against what happened.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_sync_then_dashboard(world: dict[str, Any], run_sync: Any) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from dag_support import phone_system
    from dag_support.settings import reporting_hook
    from sqlalchemy import select

    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, METRICS_TABLE, read_rows

    sb, bag = world["sb"], world["bag"]
    hook = ContactsHook()
    source = phone_system.source_hook()
    seeded = len(sb.all_contacts())
    sync, before, did = run_sync()
    assert sync.state == DagRunState.SUCCESS

    # --- server state
    contacts = {c["id"]: c for c in sb.all_contacts()}
    by_email = {c.get("email"): c for c in contacts.values() if c.get("email")}
    new_leads = [by_email.get(f"caller{i}.demo@phone.test") for i in range(1, did["new_leads"])]
    assert all(new_leads), "every valid new lead is a contact now"
    assert "not-an-email" not in by_email
    for lead in new_leads:
        assert {"phone-system", "lead"} <= set(lead["tags"])
        titles = [t["title"] for t in hook.get_tasks(lead["id"])]
        assert titles == [f"Call back {lead['firstName']}: new from the phone system"]
    rows = {r["source_id"]: r for r in phone_system.all_contacts(source)}
    customer_since = next(
        f["id"] for f in hook.get_custom_fields() if f["fieldKey"].endswith("customer_since")
    )
    for i in range(3):  # converted leads
        contact = contacts[rows[f"ps-{i:04d}"]["contact_id"]]
        assert "customer" in contact["tags"] and "lead" not in contact["tags"]
        titles = [t["title"] for t in hook.get_tasks(contact["id"])]
        assert titles.count("Welcome call: new customer") == 1
        values = {f["id"]: f.get("value") for f in contact.get("customFields") or []}
        assert str(values.get(customer_since, ""))[:10] == before.date().isoformat()
    for i in range(3, 6):  # edited in the phone system
        assert contacts[rows[f"ps-{i:04d}"]["contact_id"]]["companyName"] == f"Phone Co {i}"
    # business associations: each pushed row's company is a business of the location, its contact associated
    business = {
        b["name"]: b["id"]
        for b in hook.request("GET", "/businesses/", params={"locationId": sb.location_id})["businesses"]
    }
    pushed = [rows[f"ps-{i:04d}"] for i in range(6)]  # (ps-0006/7 changed on the Contacts side only)
    for row in pushed:
        if row["company"]:
            assert contacts[row["contact_id"]]["businessId"] == business[row["company"]], row["source_id"]
    assert {f"Phone Co {i}" for i in range(3, 6)} <= set(business)

    # --- the phone system got the ids and the Contacts-side changes
    assert all(r["contact_id"] for sid, r in rows.items() if sid != "ps-new-0000")
    assert rows["ps-new-0000"]["contact_id"] is None
    assert [rows[f"ps-{i:04d}"]["phone"] for i in (6, 7)] == ["+15559990000", "+15559990001"]
    signups = [r for r in rows.values() if (r["email"] or "").endswith("@signup.test")]
    assert sorted(r["email"] for r in signups) == ["web0@signup.test", "web1@signup.test"]
    assert all(r["source_id"] == f"ghl-{r['contact_id']}" for r in signups)

    # --- the audit row and the asset event
    sql = reporting_hook()
    (audit,) = read_rows(sql, AUDIT_TABLE)
    assert (audit["records_in"], audit["created"], audit["updated"], audit["failed"]) == (18, 11, 6, 1)
    assert (audit["converted"], audit["tasks_created"], audit["pulled_back"]) == (3, 14, 4)
    assert audit["status"] == "success" and audit["run_id"] == sync.run_id
    assert audit["interval_start"] == before - timedelta(seconds=1) and audit["duration_s"] > 0
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "contacts_synced")
        ).all()
        # (the session's database also holds other tests' runs)
        assert [e.source_dag_id for e in events if e.source_run_id == sync.run_id] == ["contacts_sync"]

    # --- the dashboard
    dashboard = bag.dags["contacts_dashboard"].test()
    assert dashboard.state == DagRunState.SUCCESS
    (metrics,) = read_rows(sql, METRICS_TABLE)
    everyone = sb.all_contacts()
    start, end = metrics["interval_start"], metrics["interval_end"]
    assert metrics["contacts_total"] == len(everyone) == seeded + 2 + 11  # the sign-ups, the new leads
    assert metrics["contacts_new"] == sum(1 for c in everyone if start <= _when(c["dateAdded"]) < end)
    assert metrics["contacts_new"] >= 13  # 11 leads from the phone system, 2 sign-ups on the API side
    tags = Counter(tag for c in everyone for tag in set(c.get("tags") or []))
    top = json.loads(metrics["top_tags"])
    assert top and all(tags[tag] == count for tag, count in top.items())
    assert top["phone-system"] == 17
    assert metrics["task_contacts_scanned"] == len(everyone)  # fewer than the 200-contact bound
    assert metrics["tasks_total"] == sum(len(hook.get_tasks(c["id"])) for c in everyone)
    assert metrics["last_sync_at"] == audit["finished_at"]
    page = (world["demo"] / "dashboard" / "index.html").read_text()
    assert f"<th>Contacts</th><td>{len(everyone)}</td>" in page
    assert (world["demo"] / "dashboard" / "dashboard.png").stat().st_size > 20_000
