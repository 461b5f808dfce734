"""
Write extracted rows as files on any ``ObjectStoragePath`` (local, ``s3://``, ``gs://`` ...): NDJSON, or
Parquet where ``pyarrow`` is installed.

A run with changes writes one file per entity and window, ``<base>/<entity>/<start>_<end>.<ext>`` (UTC, basic ISO), so a
rerun of a window replaces its own files with the same content and a reader sees each window once. Rows are
written batch by batch through one open file each: memory holds one batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow_provider_contacts.engines.records import (
    BOOL,
    DELETED,
    DELETED_AT,
    JSON,
    LOADED_AT,
    NUMBER,
    TIMESTAMP,
    Column,
    TableSpec,
)
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.extras import require
from airflow_provider_contacts.windows import Window

FORMATS = ("ndjson", "parquet")
#: Target-side bookkeeping that files leave out, so a rerun writes the same bytes.
_NOT_IN_FILES = frozenset({LOADED_AT, DELETED, DELETED_AT})


def file_columns(spec: TableSpec) -> list[Column]:
    """
    The columns a file holds: the content and ``_hash``.

    :param spec: the table.
    """
    return [c for c in spec.all_columns() if c.name not in _NOT_IN_FILES]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"


def window_file(base: Any, entity: str, window: Window, file_format: str) -> Any:
    """
    The file of one entity and window.

    :param base: an ``ObjectStoragePath`` (the directory).
    :param entity: ``contacts``, ``tasks`` ...
    :param window: the run's window.
    :param file_format: ``ndjson`` or ``parquet``.
    """
    if window.end is None:
        raise ContactsConfigError("files are named after a closed window: the run needs an end")
    return base / entity / f"{_stamp(window.start)}_{_stamp(window.end)}.{file_format}"


def _json_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return json.loads(value) if column.kind == JSON else value


class _NdjsonFile:
    def __init__(self, path: Any, spec: TableSpec) -> None:
        self.columns = file_columns(spec)
        self.handle = path.open("w", encoding="utf-8")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.handle.write(
            "".join(
                json.dumps(
                    {c.name: _json_value(c, row.get(c.name)) for c in self.columns}, ensure_ascii=False
                )
                + "\n"
                for row in rows
            )
        )

    def close(self) -> None:
        self.handle.close()


class _ParquetFile:
    def __init__(self, path: Any, spec: TableSpec) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {TIMESTAMP: pa.timestamp("ms", tz="UTC"), BOOL: pa.bool_(), NUMBER: pa.float64()}
        self.pa = pa
        self.schema = pa.schema([(c.name, types.get(c.kind, pa.string())) for c in file_columns(spec)])
        self.handle = path.open("wb")
        self.writer = pq.ParquetWriter(self.handle, self.schema)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            names = self.schema.names
            table = self.pa.Table.from_pylist(
                [{n: row.get(n) for n in names} for row in rows], schema=self.schema
            )
            self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        self.handle.close()


class FileSink:
    """
    The files of one run: one per entity, opened on the first batch, closed by :meth:`close`.

    :param base: the directory, an ``ObjectStoragePath``.
    :param window: the run's window (names the files).
    :param file_format: ``ndjson`` or ``parquet``.
    """

    def __init__(self, base: Any, window: Window, file_format: str) -> None:
        if file_format not in FORMATS:
            raise ContactsConfigError(f"file_format must be one of {list(FORMATS)}, got {file_format!r}")
        if file_format == "parquet":
            require("pyarrow", extra="parquet", feature="file_format 'parquet'")
        self.base = base
        self.window = window
        self.file_format = file_format
        #: entity -> table spec; set before the first write.
        self.specs: dict[str, TableSpec] = {}
        self.files: dict[str, Any] = {}
        self.paths: dict[str, Any] = {}
        self.rows: dict[str, int] = {}

    def write(self, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to the entity's file."""
        if entity not in self.files:
            path = window_file(self.base, entity, self.window, self.file_format)
            path.parent.mkdir(parents=True, exist_ok=True)
            spec = self.specs[entity]
            kind = _ParquetFile if self.file_format == "parquet" else _NdjsonFile
            self.files[entity] = kind(path, spec)
            self.paths[entity] = path
        self.files[entity].write(rows)
        self.rows[entity] = self.rows.get(entity, 0) + len(rows)

    def close(self) -> None:
        """Close every file. A window with no change writes no file."""
        for handle in self.files.values():
            handle.close()
