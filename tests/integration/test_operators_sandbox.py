"""Every operator in a real ``dag.test()`` run against the sandbox, and SyncContactsOperator at scale."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, chain, task

from airflow_provider_contacts.links import contact_url
from airflow_provider_contacts.operators import (
    AddContactFollowersOperator,
    AddContactTagsOperator,
    AddContactToCampaignOperator,
    AddContactToWorkflowOperator,
    BulkUpdateContactTagsOperator,
    CompleteContactTaskOperator,
    ContactOperator,
    CreateContactNoteOperator,
    CreateContactOperator,
    CreateContactTaskOperator,
    DeleteContactNoteOperator,
    DeleteContactOperator,
    DeleteContactTaskOperator,
    RemoveContactFollowersOperator,
    RemoveContactFromAllCampaignsOperator,
    RemoveContactFromCampaignOperator,
    RemoveContactFromWorkflowOperator,
    RemoveContactTagsOperator,
    SyncContactsOperator,
    UpdateContactNoteOperator,
    UpdateContactOperator,
    UpdateContactsBusinessOperator,
    UpdateContactTaskOperator,
    UpsertContactOperator,
)
from airflow_provider_contacts.sandbox import SandboxHandle
from tests.integration.test_extra_links import extra_links
from tests.unit.operators.dags import use_dag_bundle

pytestmark = [pytest.mark.integration, pytest.mark.airflow_db]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYNC_MAPPING = {
    "mail": "email",
    "mobile": "phone",
    "first": "firstName",
    "last": "lastName",
    "colour": "customFields.favourite_colour",
    "ltv": "customFields.contact.lifetime_value",
}
FOLLOW_UP = {"title": "Welcome call: {firstName}", "body": "New from the sync", "due_in_days": 3}


# -------------------------------------------------------------------------------------------- DAGs


@task
def id_of(answer: dict[str, Any]) -> str:
    """The ``id`` of an API object returned by an operator."""
    return answer["id"]


@task
def ids_of_upserted(answer: dict[str, Any]) -> list[str]:
    return [answer["contact"]["id"]]


def every_operator_dag() -> DAG:
    """One contact through every write operator, each taking the ids of the ones before from XCom."""
    with DAG("contacts_every_operator", schedule=None, start_date=START, params={"email": "x@y.z"}) as dag:
        created = CreateContactOperator(
            task_id="create", fields={"email": "{{ params.email }}", "firstName": "Ada"}
        )
        contact_id = id_of.override(task_id="contact_id")(created.output)
        upserted = UpsertContactOperator(
            task_id="upsert", fields={"email": "{{ params.email }}", "city": "London"}
        )
        contact_ids = ids_of_upserted(upserted.output)
        new_task = CreateContactTaskOperator(
            task_id="create_task",
            contact_id=contact_id,
            title="Call {{ params.email }}",
            due_date="2026-12-01T09:00:00.000Z",
            assigned_to="{{ params.user_id }}",
        )
        task_id = id_of.override(task_id="task_id")(new_task.output)
        note = CreateContactNoteOperator(
            task_id="create_note",
            contact_id=contact_id,
            body="Met {{ params.email }}",
            fields={"title": "Fair"},
        )
        note_id = id_of.override(task_id="note_id")(note.output)
        steps = [
            created,
            contact_id,
            UpdateContactOperator(task_id="update", contact_id=contact_id, fields={"lastName": "Lovelace"}),
            upserted,
            contact_ids,
            AddContactTagsOperator(task_id="add_tags", contact_id=contact_id, tags=["vip", "2026"]),
            RemoveContactTagsOperator(task_id="remove_tags", contact_id=contact_id, tags=["2026"]),
            BulkUpdateContactTagsOperator(task_id="bulk_tags", contact_ids=contact_ids, tags=["bulk"]),
            AddContactFollowersOperator(
                task_id="add_followers", contact_id=contact_id, followers=["{{ params.user_id }}"]
            ),
            RemoveContactFollowersOperator(
                task_id="remove_followers", contact_id=contact_id, followers=["{{ params.user_id }}"]
            ),
            UpdateContactsBusinessOperator(
                task_id="business", contact_ids=contact_ids, business_id="{{ params.business_id }}"
            ),
            new_task,
            task_id,
            UpdateContactTaskOperator(
                task_id="update_task", contact_id=contact_id, contact_task_id=task_id, title="Call back"
            ),
            CompleteContactTaskOperator(
                task_id="complete_task", contact_id=contact_id, contact_task_id=task_id
            ),
            note,
            note_id,
            UpdateContactNoteOperator(
                task_id="update_note", contact_id=contact_id, note_id=note_id, body="Met twice"
            ),
            AddContactToCampaignOperator(
                task_id="add_campaign", contact_id=contact_id, campaign_id="{{ params.campaign_id }}"
            ),
            RemoveContactFromCampaignOperator(
                task_id="remove_campaign", contact_id=contact_id, campaign_id="{{ params.campaign_id }}"
            ),
            RemoveContactFromAllCampaignsOperator(task_id="remove_all_campaigns", contact_id=contact_id),
            AddContactToWorkflowOperator(
                task_id="add_workflow",
                contact_id=contact_id,
                workflow_id="{{ params.workflow_id }}",
                event_start_time="2026-12-01T09:00:00+01:00",
            ),
            RemoveContactFromWorkflowOperator(
                task_id="remove_workflow", contact_id=contact_id, workflow_id="{{ params.workflow_id }}"
            ),
            checkpoint(contact_id),
            DeleteContactTaskOperator(task_id="delete_task", contact_id=contact_id, contact_task_id=task_id),
            DeleteContactNoteOperator(task_id="delete_note", contact_id=contact_id, note_id=note_id),
            DeleteContactOperator(task_id="delete", contact_id=contact_id),
        ]
        chain(*steps)
    return dag


@task
def checkpoint(contact_id: str, params: dict[str, Any] | None = None) -> None:
    """Save the contact as the API holds it before the deletes, for the test to check."""
    from airflow_provider_contacts.hooks.contacts import ContactsHook

    assert params is not None
    hook = ContactsHook()
    state = {"contact": hook.get_contact(contact_id), "tasks": hook.get_tasks(contact_id)}
    Path(params["out"]).write_text(json.dumps(state))


@task(trigger_rule="all_done")
def save_report(report: dict[str, Any], params: dict[str, Any] | None = None) -> None:
    """Write the sync's report where the test reads it (it is there even when the sync failed)."""
    assert params is not None
    Path(params["out"]).write_text(json.dumps(report))


def sync_dag() -> DAG:
    """SyncContactsOperator on a file named by the run's conf; its report saved by a downstream task."""
    with DAG(
        "contacts_sync_sandbox",
        schedule=None,
        start_date=START,
        params={"records": "", "out": "", "dry_run": False},
    ) as dag:
        sync = SyncContactsOperator(
            task_id="sync",
            records="{{ params.records }}",
            field_mapping=SYNC_MAPPING,
            tags=["synced", "{{ dag.dag_id }}"],
            task_template=FOLLOW_UP,
            dry_run="{{ params.dry_run }}",
            max_failed_ratio=0.05,
            max_workers=4,
            batch_size=100,
        )
        save_report(sync.output)
    return dag


# ----------------------------------------------------------------------------------------- helpers


@pytest.fixture
def run_dag(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run a DAG built by a function of this module in a real ``dag.test()``; return the DAG run."""
    folder = tmp_path / "dags"
    folder.mkdir()
    use_dag_bundle(monkeypatch, folder, name="contacts-sandbox-tests")

    def run(builder: Callable[[], DAG], **conf: Any) -> Any:
        # An airflow DAG file for the bundle: the DAG is the one this test runs.
        (folder / f"{builder.__name__}.py").write_text(
            f"# airflow dag\nfrom {__name__} import {builder.__name__}\n\ndag = {builder.__name__}()\n"
        )
        return builder().test(run_conf=conf)

    return run


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[SandboxHandle], SandboxHandle]:
    """Point ``contacts_default`` at a sandbox (its OAuth connection; rotated tokens in a file of this test)."""

    def use(handle: SandboxHandle) -> SandboxHandle:
        connection = json.loads(handle.conn_env())
        connection["extra"]["token_file"] = str(tmp_path / "tokens.json")
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        return handle

    return use


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def write_records(path: Path, count: int, bad_every: int = 20, seed: int = 11) -> tuple[list[dict], set[int]]:
    """``count`` records as NDJSON, every ``bad_every``-th one invalid in one of several ways."""
    rng = random.Random(seed)
    breakers: list[Callable[[dict[str, Any]], None]] = [
        lambda r: r.update(mail=r["mail"].replace("@", " at ")),
        lambda r: r.update(mobile="12", mail=""),
        lambda r: r.update(colour="purple"),
        lambda r: r.update(ltv="lots"),
        lambda r: r.update(first="x" * 300),
    ]
    records, bad = [], set()
    for i in range(count):
        record = {
            "mail": f"Person.{i}@Sync-Test.example",
            "mobile": f"(415) 6{i:06d}" if i % 3 else "",
            "first": f"First{i}",
            "last": rng.choice(["Lovelace", "Hopper", "Turing", "Liskov"]),
            "colour": rng.choice(["red", "green", "blue", "yellow"]),
            "ltv": f"{rng.randint(0, 5000)}.5",
        }
        if i % bad_every == bad_every // 2:
            breakers[len(bad) % len(breakers)](record)
            bad.add(i)
        records.append(record)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records, bad


def writes(stats: dict[str, Any]) -> dict[str, int]:
    return {
        route: n
        for route, n in stats["requests_by_route"].items()
        if not route.startswith(("GET ", "POST /oauth", "POST /contacts/search"))
    }


# ------------------------------------------------------------------------------------------- tests


def test_every_operator_in_a_dag_run(
    sandbox_factory: Callable[..., SandboxHandle], connect: Any, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    sb = connect(sandbox_factory(seed=5, rate_limit=1000, rate_interval=1.0))
    info = sb.info()
    out = tmp_path / "state.json"
    conf = {
        "email": "ada.every@operators.example",
        "user_id": info["userIds"][0],
        "business_id": info["businessIds"][0],
        "campaign_id": info["campaignIds"][0],
        "workflow_id": info["workflowIds"][0],
        "out": str(out),
    }

    run = run_dag(every_operator_dag, **conf)

    assert run.state == "success", task_states(run)
    assert set(task_states(run).values()) == {"success"}
    before_deletes = json.loads(out.read_text())
    contact, tasks = before_deletes["contact"], before_deletes["tasks"]
    assert (contact["email"], contact["firstName"], contact["lastName"]) == (conf["email"], "Ada", "Lovelace")
    assert contact["city"] == "London"
    assert sorted(contact["tags"]) == ["bulk", "vip"]
    assert contact["businessId"] == conf["business_id"]
    assert contact["followers"] == []
    assert [(t["title"], t["completed"], t["assignedTo"]) for t in tasks] == [
        ("Call back", True, conf["user_id"])
    ]
    assert all(c["email"] != conf["email"] for c in sb.all_contacts())  # deleted at the end
    # Every operator that acts on the one contact links to its page (the UI's "HighLevel contact" button).
    links = {task.task_id: extra_links(run, task.task_id) for task in every_operator_dag().tasks}
    linking = {task.task_id for task in every_operator_dag().tasks if isinstance(task, ContactOperator)}
    assert len(linking) == 19 and {task_id for task_id, link in links.items() if link} == linking
    assert {task_id: links[task_id] for task_id in linking} == {
        task_id: {"HighLevel contact": contact_url(sb.location_id, contact["id"])} for task_id in linking
    }
    routes = sb.stats()["requests_by_route"]
    for route in (
        "POST /contacts/",
        "PUT /contacts/{contactId}",
        "POST /contacts/upsert",
        "POST /contacts/{contactId}/tags",
        "DELETE /contacts/{contactId}/tags",
        "POST /contacts/bulk/tags/update/{type}",
        "POST /contacts/{contactId}/followers",
        "DELETE /contacts/{contactId}/followers",
        "POST /contacts/bulk/business",
        "POST /contacts/{contactId}/tasks",
        "PUT /contacts/{contactId}/tasks/{taskId}",
        "PUT /contacts/{contactId}/tasks/{taskId}/completed",
        "DELETE /contacts/{contactId}/tasks/{taskId}",
        "POST /contacts/{contactId}/notes",
        "PUT /contacts/{contactId}/notes/{id}",
        "DELETE /contacts/{contactId}/notes/{id}",
        "POST /contacts/{contactId}/campaigns/{campaignId}",
        "DELETE /contacts/{contactId}/campaigns/{campaignId}",
        "DELETE /contacts/{contactId}/campaigns/removeAll",
        "POST /contacts/{contactId}/workflow/{workflowId}",
        "DELETE /contacts/{contactId}/workflow/{workflowId}",
        "DELETE /contacts/{contactId}",
    ):
        assert routes.get(route, 0) >= 1, (route, routes)


def test_sync_2000_records_twice_then_dry_run(
    sandbox_factory: Callable[..., SandboxHandle], connect: Any, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    sb = connect(sandbox_factory(seed=0, rate_limit=100, rate_interval=0.25))
    records_file = tmp_path / "people.ndjson"
    records, bad = write_records(records_file, 2000)
    assert len(bad) == 100  # 5 %
    report_file = tmp_path / "report.json"

    # First run: every good record created once, every bad one reported, one follow-up task each.
    first = run_dag(sync_dag, records=str(records_file), out=str(report_file))
    report = json.loads(report_file.read_text())
    assert first.state == "success", task_states(first)
    summary = report["summary"]
    assert (summary["total"], summary["created"], summary["failed"]) == (2000, 1900, 100)
    assert summary["tasks_created"] == 1900
    failed = {e["index"]: e["error"] for e in report["records"] if e["status"] == "failed"}
    assert set(failed) == bad
    for index, error in failed.items():
        assert error.startswith((f"record {index} (mail ", f"record {index} (mobile ")), error
        assert "field '" in error or "neither email nor phone" in error, error
    emails = Counter(c["email"] for c in sb.all_contacts())
    good = {f"person.{i}@sync-test.example" for i in range(2000) if i not in bad}
    assert {e: emails[e] for e in good} == dict.fromkeys(good, 1)
    assert sum(emails.values()) == 1900
    stats = sb.stats()
    assert stats["rate_limited_429"] == 0
    assert writes(stats) == {"POST /contacts/upsert": 1900, "POST /contacts/{contactId}/tasks": 1900}

    # Second run over the same input: nothing created, nothing written.
    sb.reset_stats()
    second = run_dag(sync_dag, records=str(records_file), out=str(report_file))
    report = json.loads(report_file.read_text())
    assert second.state == "success", task_states(second)
    assert report["summary"]["created"] == 0
    assert report["summary"]["unchanged"] == 1900
    assert report["summary"]["tasks_created"] == 0
    assert writes(sb.stats()) == {}
    assert sb.stats()["requests_by_route"]["POST /contacts/search"] == 19  # one per 100 valid records

    # Dry run over changed input: reports the changes, the server stays as it is.
    changed = [dict(r, first=f"Renamed{i}") if i < 50 else r for i, r in enumerate(records)]
    changed.append({"mail": "brand.new@sync-test.example", "first": "New"})
    records_file.write_text("".join(json.dumps(r) + "\n" for r in changed))
    before = sorted(sb.all_contacts(), key=lambda c: c["id"])
    sb.reset_stats()
    dry = run_dag(sync_dag, records=str(records_file), out=str(report_file), dry_run=True)
    report = json.loads(report_file.read_text())
    assert dry.state == "success", task_states(dry)
    assert report["summary"]["dry_run"] is True
    assert report["summary"]["created"] == 1
    assert report["summary"]["updated"] == len([i for i in range(50) if i not in bad])
    assert {tuple(e["changes"]) for e in report["records"] if e["status"] == "updated"} == {("firstName",)}
    assert writes(sb.stats()) == {}
    assert sorted(sb.all_contacts(), key=lambda c: c["id"]) == before


def test_sync_failing_over_the_ratio_still_reports(
    sandbox_factory: Callable[..., SandboxHandle], connect: Any, run_dag: Callable[..., Any], tmp_path: Path
) -> None:
    sb = connect(sandbox_factory(seed=0, rate_limit=1000, rate_interval=1.0))
    records_file = tmp_path / "people.ndjson"
    _, bad = write_records(records_file, 40, bad_every=4)
    report_file = tmp_path / "report.json"

    run = run_dag(sync_dag, records=str(records_file), out=str(report_file))

    # The run's state follows its leaf (the all_done report task); the sync task itself failed.
    assert task_states(run) == {"sync": "failed", "save_report": "success"}
    report = json.loads(report_file.read_text())
    assert {e["index"] for e in report["records"] if e["status"] == "failed"} == bad
    assert sb.all_contacts() == []  # every record is checked before the first write
