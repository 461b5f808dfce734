"""
OpenLineage datasets of the provider's operators. The OpenLineage provider is optional (the ``openlineage``
extra): this module imports without it, and a function that builds a dataset says which extra to install.
Airflow calls the operators' ``get_openlineage_facets_on_complete`` methods only where it is installed.

Naming (see the README):

- HighLevel data: namespace ``highlevel://<location id>``, names ``contacts``, ``tasks``, ``notes``,
  ``appointments``;
- SQL tables: OpenLineage's own scheme, ``postgres://host:port`` with ``database.schema.table``,
  ``mysql://host:port`` with ``database.table``, ``sqlite://<file>`` with ``table``;
- files: ``file`` (or ``s3://bucket``, ``gs://bucket`` ...) with the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_contacts.engines.records import TableSpec
from airflow_provider_contacts.extras import missing_extra

#: The URI scheme of HighLevel's datasets and of the provider's assets (``assets`` registers it).
SCHEME = "highlevel"

_MISSING: ImportError | None = None
try:
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
except ImportError as error:
    _MISSING = error

HIGHLEVEL_SCHEME = SCHEME


def _require_openlineage() -> None:
    if _MISSING is not None:
        raise missing_extra("Lineage", "openlineage", _MISSING)


def highlevel_namespace(location_id: str) -> str:
    """
    The namespace of a location's data.

    :param location_id: the HighLevel location (sub-account) id.
    """
    return f"{HIGHLEVEL_SCHEME}://{location_id}"


def _schema(spec: TableSpec | None, types: Mapping[str, str] | None) -> dict[str, Any]:
    if spec is None:
        return {}
    fields = [
        SchemaDatasetFacetFields(name=c.name, type=(types or {}).get(c.kind, c.kind))
        for c in spec.all_columns()
    ]
    return {"schema": SchemaDatasetFacet(fields=fields)}


def highlevel_datasets(location_id: str, entities: Sequence[str]) -> list[Dataset]:
    """
    The HighLevel datasets of some entities.

    :param location_id: the location.
    :param entities: ``contacts``, ``tasks``, ``notes``, ``appointments``.
    """
    _require_openlineage()
    return [Dataset(namespace=highlevel_namespace(location_id), name=entity) for entity in entities]


def sql_dataset_naming(hook: Any, table: str) -> tuple[str, str]:
    """
    The namespace and name of a SQL table, following OpenLineage's naming of its database.

    :param hook: the table's ``DbApiHook``.
    :param table: the table (``schema.table`` allowed).
    """
    from airflow_provider_contacts.engines.sql import dialect_of

    dialect = dialect_of(hook).name
    conn = hook.get_connection(getattr(hook, hook.conn_name_attr))
    if dialect == "sqlite":
        return f"sqlite://{os.path.abspath(conn.host or '')}", table
    scheme, port = ("postgres", 5432) if dialect == "postgresql" else ("mysql", 3306)
    namespace = f"{scheme}://{conn.host or 'localhost'}:{conn.port or port}"
    database = conn.schema or ""
    if dialect == "postgresql":
        qualified = table if "." in table else f"public.{table}"
        return namespace, f"{database}.{qualified}"
    return namespace, table if "." in table else f"{database}.{table}"


def output(
    namespace: str,
    name: str,
    spec: TableSpec | None = None,
    rows: int | None = None,
    types: Mapping[str, str] | None = None,
) -> OutputDataset:
    """
    An output dataset with its schema and row count, when known.

    :param namespace: the dataset's namespace.
    :param name: its name.
    :param spec: its table (gives the schema facet).
    :param rows: rows written by the run.
    :param types: column kind -> the target's type name (default: the kind).
    """
    _require_openlineage()
    output_facets: dict[str, Any] = {}
    if rows is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows)
    return OutputDataset(
        namespace=namespace, name=name, facets=_schema(spec, types), outputFacets=output_facets
    )


def storage_naming(path: Any) -> tuple[str, str]:
    """
    The namespace and name of an ``ObjectStoragePath``.

    :param path: the file or directory.
    """
    protocol = getattr(path, "protocol", "file") or "file"
    if protocol in ("file", "local"):
        return "file", str(path.path if hasattr(path, "path") else path)
    bucket = getattr(path, "bucket", "") or ""
    key = getattr(path, "key", "") or ""
    return f"{protocol}://{bucket}", key


def file_dataset(path: str) -> Dataset:
    """
    A local file or an object store URL as a dataset.

    :param path: a path or a URL.
    """
    _require_openlineage()
    if "://" in path and not path.startswith("file://"):
        scheme, rest = path.split("://", 1)
        bucket, _, key = rest.partition("/")
        return Dataset(namespace=f"{scheme}://{bucket}", name=key)
    return Dataset(namespace="file", name=os.path.abspath(path.removeprefix("file://")))


def lineage(
    inputs: Sequence[Dataset], outputs: Sequence[Dataset], run_facets: Mapping[str, Any] | None = None
) -> OperatorLineage:
    """
    An operator's lineage.

    :param inputs: datasets read.
    :param outputs: datasets written.
    :param run_facets: facets of the run.
    """
    _require_openlineage()
    return OperatorLineage(inputs=list(inputs), outputs=list(outputs), run_facets=dict(run_facets or {}))
