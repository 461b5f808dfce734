"""SyncContactsOperator: many records into contacts, idempotently, at the API's rate budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_contacts.api_versions import SEARCH_PAGE_LIMIT
from airflow_provider_contacts.engines.contact_mapping import Transform
from airflow_provider_contacts.engines.sync import SyncRun, summary_line
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import BaseContactsOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Failed records logged one by one; the report in XCom has them all.
LOGGED_FAILURES = 20


class SyncContactsOperator(BaseContactsOperator):
    """
    Sync many records into contacts: map, validate, upsert concurrently, tag, and add a follow-up task.

    A run reads the records twice: first it maps and validates every record without a request (so a wrong
    mapping or a broken file writes nothing), then it writes in batches. For each batch it fetches the
    contacts that already exist with one search request, skips records whose fields and tags already match
    ("unchanged"), and upserts the others concurrently under the hook's shared rate budget. Tags are sent as
    the union of the contact's tags and the new ones (tags in an upsert replace the list), so they cost no
    extra request. Repeating or retrying a run creates no duplicate contact, tag or task.

    Every record gets one entry in the report, pushed to XCom (also when the run fails):
    ``{"summary": {"total", "created", "updated", "unchanged", "failed", "tasks_created", "api_calls",
    "seconds", "records_per_second", "dry_run", ...}, "records": [{"index", "label", "status",
    "contact_id", "changes", "task", "error"}, ...]}``. A failed record's error names the record (its index
    from 0 and its key field, e-mail or phone) and the field.

    :param records: a list of dicts, an ``XComArg`` giving one, or the path of a ``.json`` (array),
        ``.ndjson`` / ``.jsonl`` or ``.csv`` file (the last three are read line by line). Templated.
    :param field_mapping: source field -> contact field, e.g. ``{"mail": "email", "mobile": "phone",
        "plan": "customFields.plan_key"}``; custom fields by id or key. None: the records already use the
        API's field names. Templated.
    :param transforms: contact field -> transform(s) run after the defaults: ``"strip"``, ``"lower"``,
        ``"upper"``, ``"title"`` or a callable taking and returning the value (raise ValueError to fail the
        record). The defaults strip text, lower-case e-mails and write phones in E.164.
    :param default_country_code: country calling code for phone numbers written without one (``"1"``);
        None fails such numbers.
    :param tags: tags every synced contact gets (kept with its other tags). Templated.
    :param task_template: a follow-up task for each contact this run creates: ``{"title", "body",
        "assigned_to", "due_in_days"}`` or ``"due_date"`` (ISO-8601) instead of ``due_in_days``. ``due_in_days``
        counts from the DAG run's ``run_after``, so retries compute the same date. ``{firstName}``-style
        fields of the mapped contact may appear in title and body. A task with the same title and due date is
        never created twice. Templated.
    :param key_field: the source field that names a record in messages and the report (default: e-mail,
        else phone).
    :param dry_run: validate and report what would change, without writing. Templated.
    :param max_failed_ratio: the run fails when more than this share of the records failed (default 0.05):
        bad rows are reported one by one without failing a scheduled sync, while a wrong mapping, a broken
        file or an API outage, which fail many, fail the run. Templated.
    :param max_workers: concurrent requests (they share the connection's rate budget).
    :param batch_size: records per existence lookup (one search request each).
    :param progress_interval: seconds between two progress lines in the log.
    :param contacts_conn_id: the Contacts connection.
    """

    template_fields: Sequence[str] = (
        "records",
        "field_mapping",
        "tags",
        "task_template",
        "dry_run",
        "max_failed_ratio",
    )
    ui_color = "#c9e7f8"

    def __init__(
        self,
        *,
        records: Any,
        field_mapping: Mapping[str, str] | None = None,
        transforms: Mapping[str, Transform | Sequence[Transform]] | None = None,
        default_country_code: str | None = "1",
        tags: Sequence[str] | None = None,
        task_template: Mapping[str, Any] | None = None,
        key_field: str | None = None,
        dry_run: bool = False,
        max_failed_ratio: float = 0.05,
        max_workers: int = 4,
        batch_size: int = 100,
        progress_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_workers < 1:
            raise ContactsConfigError("max_workers must be at least 1")
        if not 1 <= batch_size <= SEARCH_PAGE_LIMIT:
            raise ContactsConfigError(f"batch_size must be between 1 and {SEARCH_PAGE_LIMIT}")
        self.records = records
        self.field_mapping = field_mapping
        self.transforms = transforms
        self.default_country_code = default_country_code
        self.tags = tags
        self.task_template = task_template
        self.key_field = key_field
        # Shadows BaseOperator.dry_run(), a render-only helper nothing in Airflow 3 calls; the name is the
        # one users expect for "report without writing".
        self.dry_run = dry_run  # type: ignore[assignment,method-assign]
        self.max_failed_ratio = max_failed_ratio
        self.max_workers = max_workers
        self.batch_size = batch_size
        self.progress_interval = progress_interval

    def execute(self, context: Context) -> dict[str, Any]:
        run = SyncRun(self, context)
        max_failed_ratio = run.max_failed_ratio
        try:
            report = run.sync()
        except Exception:
            # A run-stopping error (auth, permission, daily budget) or a failed lookup: the records done so
            # far are still reported.
            self._push(context, run.report())
            raise
        summary = report["summary"]
        self.log.info("%s", summary_line(summary))
        failures = [entry["error"] for entry in report["records"] if entry["status"] == "failed"]
        for error in failures[:LOGGED_FAILURES]:
            self.log.warning("%s", error)
        if len(failures) > LOGGED_FAILURES:
            self.log.warning(
                "... and %d more failed records (see the report in XCom)", len(failures) - LOGGED_FAILURES
            )
        if summary["total"] and summary["failed"] / summary["total"] > max_failed_ratio:
            self._push(context, report)
            exception = AirflowFailException if run.stopped_before_writing else AirflowException
            raise exception(
                f"{summary['failed']} of {summary['total']} records failed "
                f"({summary['failed'] / summary['total']:.1%} > max_failed_ratio {max_failed_ratio:.1%}); "
                + (
                    "none was written (every record is checked before the first write)"
                    if run.stopped_before_writing
                    else "the report lists each record"
                )
            )
        return report

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        # Records given as a literal list are data: their strings are not Jinja templates (and rendering
        # thousands of them would be slow). A path string is rendered; an XComArg is resolved.
        literal = self.records if isinstance(self.records, list | tuple) else None
        if literal is not None:
            self.records = None
        try:
            super().render_template_fields(context, jinja_env)
        finally:
            if literal is not None:
                self.records = literal

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the records' file, when they come from one; outputs: the contacts (and tasks) written."""
        from airflow_provider_contacts.lineage import file_dataset, highlevel_datasets, lineage

        inputs = [file_dataset(self.records)] if isinstance(self.records, str) else []
        entities = ["contacts", "tasks"] if self.task_template else ["contacts"]
        return lineage(inputs, highlevel_datasets(self.hook.location_id, entities))

    @staticmethod
    def _push(context: Context, report: dict[str, Any]) -> None:
        """Put the report where the task's return value goes, before the task fails."""
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key="return_value", value=report)
