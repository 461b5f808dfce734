"""Conformance of the sandbox to the official Contacts specs (2021-07-28 and v3), checked by schemathesis.

Every operation of both specs gets generated, spec-valid requests (path ids replaced by real ones so that the
success paths run too), and every answer is checked: no server error, a documented status code, a documented
content type, a body that matches its schema. A finding passes only when an entry of
:mod:`contacts_sandbox.deviations` explains it.

``CONFORMANCE_EXAMPLES`` sets the examples per operation and version: 3 in the suite (about 200 requests);
``make conformance`` runs 40.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle
from contacts_sandbox.client import SandboxClient
from contacts_sandbox.deviations import explanation
from contacts_sandbox.spec import V2, V3, load_resolved_spec

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
hypothesis = pytest.importorskip("hypothesis")
Failure, FailureGroup = schemathesis.core.failures.Failure, schemathesis.core.failures.FailureGroup

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "3"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


class _Ids:
    """Real ids for the path parameters: a seeded contact for reads, a fresh one (and its children) for writes."""

    def __init__(self, sb: SandboxHandle) -> None:
        self.sb = sb
        self.api = SandboxClient(sb, sb.private_token)
        self.info = sb.info()
        self.seeded = [c["id"] for c in sb.all_contacts()]
        self.turn = 0

    def fill(self, case: Any) -> None:
        params = case.path_parameters or {}
        self.turn += 1
        if case.method.upper() == "GET" and "contactId" in params and not {"id", "taskId"} & set(params):
            contact = self.seeded[self.turn % len(self.seeded)]
        else:
            contact = self.api.create_contact(firstName="Conformance")["id"]
        fixed = {
            "contactId": contact,
            "campaignId": self.info["campaignIds"][0],
            "workflowId": self.info["workflowIds"][0],
            "businessId": self.info["businessIds"][0],
            "type": ("add", "remove")[self.turn % 2],
        }
        for name in params:
            if name in fixed:
                params[name] = fixed[name]
            elif name == "taskId":
                task = {"title": "t", "dueDate": "2031-01-01T00:00:00Z", "completed": False}
                params[name] = self.api.post(f"/contacts/{contact}/tasks", json=task).json()["task"]["id"]
            elif name == "id":
                params[name] = self.api.post(f"/contacts/{contact}/notes", json={"body": "n"}).json()["note"][
                    "id"
                ]
        if isinstance(case.query, dict) and "locationId" in case.query:
            case.query["locationId"] = self.sb.location_id
        if isinstance(case.body, dict) and "locationId" in case.body:
            case.body["locationId"] = self.sb.location_id


def _run_operation(operation: Any, ids: _Ids, sb: SandboxHandle, record: Any) -> None:
    settings = hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate],
    )

    @settings
    @hypothesis.given(case=operation.as_strategy())
    def run(case: Any) -> None:
        ids.fill(case)
        response = case.call(base_url=sb.base_url, headers={"Authorization": f"Bearer {sb.private_token}"})
        try:
            case.validate_response(response, checks=CHECKS)
            failures: list[Any] = []
        except FailureGroup as found:
            failures = list(found.exceptions)
        except Failure as found:
            failures = [found]
        record(operation.label, response.status_code, failures)

    run()


def test_sandbox_conforms_to_both_contacts_specs(sandbox_process: SandboxHandle) -> None:
    sb = sandbox_process
    ids = _Ids(sb)
    requests: Counter[str] = Counter()
    successes: Counter[str] = Counter()
    explained: Counter[str] = Counter()
    unexplained: list[str] = []
    server_errors: list[str] = []

    for version in (V2, V3):
        schema = schemathesis.openapi.from_dict(load_resolved_spec(version))

        def record(label: str, status: int, failures: list[Any], version: str = version) -> None:
            key = f"{version} {label}"
            requests[key] += 1
            successes[key] += 200 <= status < 300
            if status >= 500:
                server_errors.append(f"{key} -> {status}")
            for failure in failures:
                message = str(getattr(failure, "message", failure))
                deviation = explanation(type(failure).__name__, status, message)
                if deviation is None:
                    unexplained.append(f"{key} -> {status} {type(failure).__name__}: {message[:400]}")
                else:
                    explained[deviation.key] += 1

        for result in schema.get_all_operations():
            _run_operation(result.ok(), ids, sb, record)

    total = sum(requests.values())
    print(
        f"\nconformance: {total} requests over {len(requests)} operations (2021-07-28 + v3), "
        f"{sum(successes.values())} answered 2xx, {len(server_errors)} server errors, "
        f"{sum(explained.values())} findings explained by deviations {dict(explained)}, "
        f"{len(unexplained)} unexplained"
    )
    assert len(requests) == 32 + 31, sorted(requests)
    assert not server_errors, server_errors
    assert not unexplained, "\n".join(unexplained)
    # The checks saw the success paths too, not only refusals of generated data.
    assert sum(1 for key in requests if successes[key]) >= 0.6 * len(requests), dict(successes)
