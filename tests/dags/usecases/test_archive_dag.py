"""
contacts_archive against the sandbox (timetonic: archive outdated records): the dry run changes nothing and
reports what it would do; the real run tags, detaches and exports exactly the inactive contacts; ``delete``
removes them after the export.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.dags.usecases.conftest import World, xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def _inactive(world: World, days: int) -> set[str]:
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    return {
        c["id"]
        for c in world.sb.all_contacts()
        if datetime.fromisoformat(c["dateUpdated"].replace("Z", "+00:00")) < cutoff
        and "archived" not in c["tags"]
    }


def test_dry_run_changes_nothing_then_archive_then_delete(world: World) -> None:
    from airflow.utils.state import DagRunState
    from contacts_archive import ARCHIVE_TABLE
    from dag_support.settings import reporting_hook

    from airflow_provider_contacts.hooks.contacts import ContactsHook
    from airflow_provider_contacts.reporting.tables import AUDIT_TABLE, read_rows

    hook = ContactsHook()
    inactive = _inactive(world, 200)
    assert 5 <= len(inactive) < len(world.sb.all_contacts()), "the seed has old and recent contacts"
    member = sorted(inactive)[0]
    info = world.sb.info()
    hook.add_to_campaign(member, info["campaignIds"][0])
    hook.add_to_workflow(member, info["workflowIds"][1])
    assert world.memberships(member)["campaigns"] and world.memberships(member)["workflows"]
    inactive = _inactive(world, 200)  # (the memberships did not touch the contact)
    before = {c["id"]: c for c in world.sb.all_contacts()}

    dry = world.run("contacts_archive", inactive_days=200, dry_run=True, delete=False)
    assert dry.state == DagRunState.SUCCESS
    assert {c["id"]: c for c in world.sb.all_contacts()} == before, "a dry run changes no contact"
    assert world.memberships(member) == {
        "campaigns": [info["campaignIds"][0]],
        "workflows": [info["workflowIds"][1]],
    }
    would = xcom(dry, "archive_inactive_contacts")
    assert would["dry_run"] is True
    assert would["counts"]["exported"] == would["counts"]["tagged"] == len(inactive)
    assert would["counts"]["left_workflow"] == len(inactive) * len(info["workflowIds"])
    assert read_rows(reporting_hook(), ARCHIVE_TABLE) == [], "nor the reporting database"

    real = world.run("contacts_archive", inactive_days=200, dry_run=False, delete=False)
    assert real.state == DagRunState.SUCCESS
    after = {c["id"]: c for c in world.sb.all_contacts()}
    assert {cid for cid, c in after.items() if "archived" in c["tags"]} == inactive
    assert set(after) == set(before), "nothing deleted without the option"
    assert world.memberships(member) == {"campaigns": [], "workflows": []}
    exported = read_rows(reporting_hook(), ARCHIVE_TABLE)
    assert sorted(r["contact_id"] for r in exported) == sorted(inactive)
    assert {r["action"] for r in exported} == {"archived"}
    row = next(r for r in exported if r["contact_id"] == member)
    assert row["email"] == before[member]["email"] and member in row["contact"]
    done = xcom(real, "archive_inactive_contacts")["counts"]
    assert done["tagged"] == done["left_campaigns"] == len(inactive) and "could_not_fix" not in done

    older = _inactive(world, 120)
    assert older and not older & inactive
    gone = world.run("contacts_archive", inactive_days=120, dry_run=False, delete=True)
    assert gone.state == DagRunState.SUCCESS
    left = {c["id"] for c in world.sb.all_contacts()}
    assert not older & left and inactive <= left
    deleted = [r for r in read_rows(reporting_hook(), ARCHIVE_TABLE) if r["action"] == "deleted"]
    assert sorted(r["contact_id"] for r in deleted) == sorted(older), "exported before deletion"
    statuses = [
        r["status"] for r in read_rows(reporting_hook(), AUDIT_TABLE) if r["dag_id"] == "contacts_archive"
    ]
    assert statuses == ["dry_run", "archived", "archived"]
