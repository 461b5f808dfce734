"""ContactsToObjectStorageOperator: contacts changed in a window, as NDJSON or Parquet files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.engines.records import MAPPING_ENTITY
from airflow_provider_contacts.engines.storage import FileSink
from airflow_provider_contacts.transfers.base import BaseContactsTransferOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class ContactsToObjectStorageOperator(BaseContactsTransferOperator):
    """
    Write the contacts changed in the run's window, and their tasks, notes and appointments, as files on
    any ``ObjectStoragePath``: ``<path>/<entity>/<window start>_<window end>.ndjson`` (or ``.parquet``).

    The rows are the SQL transfer's (same columns, ``_hash`` included), one file per entity and window; a
    rerun of a window rewrites its own files with the same content. ``<path>/custom_fields/`` holds the
    custom fields' mapping (field id, key, name -> column and JSON key) of each window with changes.

    Returns (to XCom) ``{"window", "extracted", "files": {entity: url}, "bad_record_count", "bad_records",
    "api_calls", "seconds", "rows_per_second"}``.

    :param path: the directory: an ``ObjectStoragePath`` or a URL (``s3://bucket/crm``, ``file:///data``).
        Templated.
    :param file_format: ``ndjson``, or ``parquet`` (needs ``pyarrow``).
    :param storage_conn_id: the connection of the object store (as ``ObjectStoragePath`` takes it).
    """

    template_fields: Sequence[str] = (*BaseContactsTransferOperator.template_fields, "path")

    def __init__(
        self,
        *,
        path: Any,
        file_format: str = "ndjson",
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.file_format = file_format
        self.storage_conn_id = storage_conn_id

    def base_path(self) -> Any:
        """The target directory as an ``ObjectStoragePath``."""
        from airflow.sdk import ObjectStoragePath

        if isinstance(self.path, ObjectStoragePath):
            return self.path
        return ObjectStoragePath(str(self.path), conn_id=self.storage_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        extractor = self.extractor(context)
        sink = FileSink(self.base_path(), extractor.window, self.file_format)
        try:
            for batch in extractor.batches():
                sink.specs = extractor.specs
                for entity, rows in batch.rows.items():
                    sink.write(entity, rows)
        finally:
            sink.close()
        self.files = {entity: str(path) for entity, path in sink.paths.items()}
        self.rows_written = dict(sink.rows)
        self.log.info("wrote %s", ", ".join(f"{sink.rows[e]} {e} to {p}" for e, p in self.files.items()))
        return self.finish(extractor, started, files=self.files)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the HighLevel datasets read; outputs: the files written, with schema and row counts."""
        from airflow_provider_contacts.lineage import lineage, output, storage_naming

        base = self.base_path()
        outputs = []
        for entity in ("contacts", *self.include, MAPPING_ENTITY):
            namespace, name = storage_naming(base / entity)
            rows = getattr(self, "rows_written", {}).get(entity)
            outputs.append(output(namespace, name, self.table_specs.get(entity), rows))
        return lineage(self.source_datasets(), outputs)
