"""
contacts_milestones against the sandbox (ToneDen: campaign milestones update the contact's status and last
event, and log a note per event): bad events are reported by number and field, the others go through.
"""

from __future__ import annotations

import pytest

from tests.dags.usecases.conftest import World, task_states, xcom

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]


def test_milestones_set_status_and_last_event_and_log_notes(world: World) -> None:
    from airflow.utils.state import DagRunState

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    hook = ContactsHook()
    first, second = world.sb.all_contacts()[10:12]
    events = [
        {
            "contact_id": first["id"],
            "campaign": "webinar-2026",
            "milestone": "attended",
            "occurred_at": "2026-03-02T10:00:00Z",
        },
        {
            "contact_id": first["id"],
            "campaign": "webinar-2026",
            "milestone": "registered",
            "occurred_at": "2026-03-01T09:00:00Z",
        },
        {
            "email": second["email"].upper(),
            "campaign": "spring-sale",
            "milestone": "purchased",
            "occurred_at": "2026-03-05T16:30:00+00:00",
        },
        {"contact_id": first["id"], "campaign": "webinar-2026", "occurred_at": "2026-03-03T10:00:00Z"},
        {
            "email": "nobody@nowhere.test",
            "campaign": "spring-sale",
            "milestone": "clicked",
            "occurred_at": "2026-03-05T10:00:00Z",
        },
        {
            "contact_id": "Zz0000000000000000Zz",
            "campaign": "spring-sale",
            "milestone": "clicked",
            "occurred_at": "2026-03-05T10:00:00Z",
        },
        {
            "contact_id": second["id"],
            "campaign": "spring-sale",
            "milestone": "clicked",
            "occurred_at": "last tuesday",
        },
    ]
    run = world.run("contacts_milestones", events=events)
    assert run.state == DagRunState.SUCCESS
    assert task_states(run) == {
        "check_events": "success",
        "status_updates": "success",
        "note_per_event": "success",
        "update_status[0]": "success",
        "update_status[1]": "success",
        "log_milestone_note[0]": "success",
        "log_milestone_note[1]": "success",
        "log_milestone_note[2]": "success",
    }
    field = {f["fieldKey"]: f["id"] for f in hook.get_custom_fields()}

    def values(contact_id: str) -> tuple[str, str]:
        custom = {f["id"]: f["value"] for f in hook.get_contact(contact_id)["customFields"]}
        return custom[field["contact.status"]], custom[field["contact.last_event"]]

    assert values(first["id"]) == ("attended", "webinar-2026: attended (2026-03-02T10:00:00Z)"), "the newest"
    assert values(second["id"]) == ("purchased", "spring-sale: purchased (2026-03-05T16:30:00Z)")
    bodies = [n["body"] for n in hook.get_notes(first["id"])]
    assert "Campaign milestone: webinar-2026: registered (2026-03-01T09:00:00Z)" in bodies
    assert "Campaign milestone: webinar-2026: attended (2026-03-02T10:00:00Z)" in bodies
    assert "Campaign milestone: spring-sale: purchased (2026-03-05T16:30:00Z)" in [
        n["body"] for n in hook.get_notes(second["id"])
    ]
    report = xcom(run, "check_events", key="report")
    assert report["counts"] == {"accepted": 3, "invalid": 4}
    invalid = sorted(d for d in report["details"] if d.startswith("invalid"))
    assert invalid[0] == "invalid: event #4: milestone missing"
    assert invalid[1] == "invalid: event #5: email 'nobody@nowhere.test': no such contact"
    assert invalid[2].startswith("invalid: event #6: contact_id 'Zz0000000000000000Zz': ")
    assert invalid[3] == "invalid: event #7: occurred_at is not an ISO-8601 time: 'last tuesday'"
