"""Compiles a ``POST /contacts/search`` body into one SQL query (filters, full text, sort, cursors).

Every filter, the sort and the ``searchAfter`` cursor become SQL over indexed columns, so a search page over
100,000 contacts never scans rows in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import parse_time
from .errors import ApiError, unprocessable

#: Search field -> (SQL expression over the contact row, kind). ``str`` values compare as given, except
#: ``email`` which is stored lower case; ``date`` values are epoch milliseconds in SQL.
FIELDS: dict[str, tuple[str, str]] = {
    "id": ("c.id", "str"),
    "email": ("c.email", "email"),
    "phone": ("c.phone", "str"),
    "firstNameLowerCase": ("c.first_name_lower", "str"),
    "lastNameLowerCase": ("c.last_name_lower", "str"),
    "fullNameLowerCase": ("c.full_name_lower", "str"),
    "dateAdded": ("c.date_added", "date"),
    "dateUpdated": ("c.date_updated", "date"),
    "businessId": ("c.business_id", "str"),
    "source": ("c.source", "str"),
    "assignedTo": ("c.assigned_to", "str"),
    "tags": ("c.tags", "array"),
    "followers": ("json_extract(c.doc, '$.followers')", "array"),
    "companyName": ("json_extract(c.doc, '$.companyName')", "str"),
    "country": ("json_extract(c.doc, '$.country')", "str"),
    "city": ("json_extract(c.doc, '$.city')", "str"),
    "state": ("json_extract(c.doc, '$.state')", "str"),
    "postalCode": ("json_extract(c.doc, '$.postalCode')", "str"),
    "type": ("json_extract(c.doc, '$.type')", "str"),
    "timezone": ("json_extract(c.doc, '$.timezone')", "str"),
    "dnd": ("json_extract(c.doc, '$.dnd')", "bool"),
}
for _channel in ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB"):
    FIELDS[f"dndSettings.{_channel}.status"] = (
        f"json_extract(c.doc, '$.dndSettings.{_channel}.status')",
        "str",
    )
FIELDS["inboundDndSettings.all.status"] = ("json_extract(c.doc, '$.inboundDndSettings.all.status')", "str")

OPERATORS = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range")
RANGE_KEYS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
SEARCH_BODY_KEYS = ("locationId", "pageLimit", "page", "searchAfter", "filters", "sort", "query")
MAX_PAGE_LIMIT = 500
DEFAULT_SORT = [{"field": "dateAdded", "direction": "desc"}]


@dataclass
class CompiledSearch:
    """
    The SQL of one search.

    :param where: the WHERE clause without the cursor (also used for ``total``).
    :param params: its parameters.
    :param order: the ORDER BY clause.
    :param sort_exprs: the SQL of each sort key, id last (selected to build each row's ``searchAfter``).
    :param cursor: the cursor condition (``searchAfter``) and its parameters, or None.
    :param offset: rows to skip (``page`` paging).
    :param limit: page size.
    """

    where: str
    params: list[Any]
    order: str
    sort_exprs: list[str]
    cursor: tuple[str, list[Any]] | None
    offset: int
    limit: int


class SearchCompiler:
    """
    Turns a search body into :class:`CompiledSearch`.

    :param resolve_custom_field: maps a custom field id or key to its id, or None when unknown.
    :param window: rows reachable with ``page`` paging (10,000 on the real API).
    """

    def __init__(self, resolve_custom_field: Callable[[str], str | None], window: int) -> None:
        self._resolve_custom_field = resolve_custom_field
        self._window = window

    def field(self, name: object) -> tuple[str, str]:
        """
        Return the SQL expression and kind of a search field.

        :param name: a field name such as ``email`` or ``customFields.<id>``.
        :raises ApiError: 400 ``Invalid field X`` like the real API (issue #170).
        """
        if isinstance(name, str):
            if name in FIELDS:
                return FIELDS[name]
            if name.startswith("customFields."):
                field_id = self._resolve_custom_field(name.split(".", 1)[1])
                if field_id is not None:
                    return f"json_extract(c.cf, '$.\"{field_id}\"')", "custom"
        raise ApiError(400, f"Invalid field {name}")

    def _value(self, kind: str, value: Any) -> Any:
        if kind == "date":
            try:
                return parse_time(value)
            except (ValueError, TypeError) as exc:
                raise unprocessable(f"invalid date value {value!r}: use ISO-8601 or epoch ms") from exc
        if kind == "email" and isinstance(value, str):
            return value.lower()
        if kind == "bool" and isinstance(value, bool):
            return int(value)
        if isinstance(value, dict | list):
            raise unprocessable(f"value must be a string, number or boolean, got {json.dumps(value)}")
        return value

    def _filter(self, item: Any, params: list[Any]) -> str:
        if not isinstance(item, dict):
            raise unprocessable("each filter must be an object")
        if "group" in item:
            group = item.get("group")
            if group not in ("AND", "OR"):
                raise unprocessable("group must be one of the following values: AND, OR")
            parts = [self._filter(f, params) for f in self._list(item.get("filters"), "filters")]
            return "(" + f" {group} ".join(parts or ["1"]) + ")"
        operator = item.get("operator")
        if operator not in OPERATORS:
            raise unprocessable(f"operator must be one of the following values: {', '.join(OPERATORS)}")
        expr, kind = self.field(item.get("field"))
        value = item.get("value")
        if kind == "array":
            return self._array_filter(expr, operator, value, params)
        if operator in ("exists", "not_exists"):
            test = f"({expr} IS NOT NULL AND {expr} != '')"
            return test if operator == "exists" else f"NOT {test}"
        if operator == "range":
            if not isinstance(value, dict) or not value or set(value) - set(RANGE_KEYS):
                raise unprocessable("range value must be an object with gte, gt, lte or lt")
            parts = []
            for key, sql_op in RANGE_KEYS.items():
                if key in value:
                    parts.append(f"{expr} {sql_op} ?")
                    params.append(self._value(kind, value[key]))
            return "(" + " AND ".join(parts) + ")"
        if value is None:
            raise unprocessable(f"value is required for operator {operator}")
        if operator in ("contains", "not_contains"):
            params.append(str(value).lower())
            test = f"instr(lower(COALESCE({expr}, '')), ?) > 0"
        elif isinstance(value, list):
            values = [self._value(kind, v) for v in value]
            params.extend(values)
            test = f"{expr} IN ({','.join('?' * len(values))})"
        else:
            params.append(self._value(kind, value))
            test = f"{expr} = ?"
        if operator.startswith("not_"):
            return f"({expr} IS NULL OR NOT ({test}))"
        return test

    def _array_filter(self, expr: str, operator: str, value: Any, params: list[Any]) -> str:
        if operator in ("exists", "not_exists"):
            test = f"json_array_length(COALESCE({expr}, '[]')) > 0"
            return test if operator == "exists" else f"NOT ({test})"
        if operator == "range":
            raise unprocessable("range is not supported on array fields")
        values = value if isinstance(value, list) else [value]
        if not values or any(not isinstance(v, str) for v in values):
            raise unprocessable("value must be a string or a list of strings for array fields")
        if operator in ("contains", "not_contains"):
            cond = " OR ".join("instr(lower(j.value), ?) > 0" for _ in values)
            params.extend(v.lower() for v in values)
        else:
            cond = f"j.value IN ({','.join('?' * len(values))})"
            params.extend(values)
        test = f"EXISTS (SELECT 1 FROM json_each(COALESCE({expr}, '[]')) AS j WHERE {cond})"
        return f"NOT {test}" if operator.startswith("not_") else test

    @staticmethod
    def _list(value: Any, name: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise unprocessable(f"{name} must be an array")
        return value

    def compile(self, body: dict[str, Any], location_id: str) -> CompiledSearch:
        """
        Compile a search body (already checked for unknown keys and ``locationId``).

        :param body: the request body.
        :param location_id: the location every result must belong to.
        """
        limit = body.get("pageLimit")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
            raise unprocessable(f"pageLimit must be an integer between 1 and {MAX_PAGE_LIMIT}")
        params: list[Any] = [location_id]
        clauses = ["c.location_id = ?"]
        for item in self._list(body.get("filters"), "filters"):
            clauses.append(self._filter(item, params))
        query = body.get("query")
        if query not in (None, ""):
            if not isinstance(query, str) or len(query) > 75:
                raise unprocessable("query must be a string of at most 75 characters")
            clauses.append("instr(c.search_text, ?) > 0")
            params.append(query.lower())

        sort = self._list(body.get("sort"), "sort") or DEFAULT_SORT
        exprs: list[str] = []
        directions: list[str] = []
        for item in sort:
            if not isinstance(item, dict) or item.get("direction", "asc") not in ("asc", "desc"):
                raise unprocessable("sort items must be {field, direction: asc|desc}")
            expr, kind = self.field(item.get("field"))
            if kind == "array":
                raise ApiError(400, f"Cannot sort on field {item.get('field')}")
            exprs.append(expr if kind == "date" or expr == "c.id" else f"COALESCE({expr}, '')")
            directions.append(item.get("direction", "asc"))
        if "c.id" not in exprs:
            exprs.append("c.id")
            directions.append(directions[-1])
        order = ", ".join(f"{e} {d.upper()}" for e, d in zip(exprs, directions, strict=True))

        page = body.get("page")
        after = body.get("searchAfter")
        cursor = None
        offset = 0
        if after is not None:
            if page is not None:
                raise unprocessable("page and searchAfter cannot be used together")
            if not isinstance(after, list) or len(after) != len(exprs):
                raise unprocessable(
                    f"searchAfter must be the array of {len(exprs)} values of a result's searchAfter"
                )
            cursor = self._cursor(exprs, directions, after)
        elif page is not None:
            if isinstance(page, bool) or not isinstance(page, int) or page < 1:
                raise unprocessable("page must be an integer >= 1")
            if page * limit > self._window:
                raise ApiError(
                    400,
                    f"Result window is too large: page * pageLimit must not exceed {self._window}; "
                    "use searchAfter to page beyond",
                )
            offset = (page - 1) * limit
        return CompiledSearch(" AND ".join(clauses), params, order, exprs, cursor, offset, limit)

    @staticmethod
    def _cursor(exprs: list[str], directions: list[str], values: list[Any]) -> tuple[str, list[Any]]:
        """Build ``(k1, k2, ...) after (v1, v2, ...)`` for any mix of sort directions."""
        ors: list[str] = []
        params: list[Any] = []
        for i, (expr, direction) in enumerate(zip(exprs, directions, strict=True)):
            ands = [f"{exprs[j]} = ?" for j in range(i)]
            params.extend(values[:i])
            ands.append(f"{expr} {'>' if direction == 'asc' else '<'} ?")
            params.append(values[i])
            ors.append("(" + " AND ".join(ands) + ")")
        return "(" + " OR ".join(ors) + ")", params
