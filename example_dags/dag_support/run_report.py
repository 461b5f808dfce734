"""
The report of a run that changes records one by one (not a DAG): counts by kind, the first few in words, and
the records that could not be changed, so one bad record is reported and the rest go through. Shared by the
reconcile, archive, task-sync, activity and milestone DAGs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

#: How many changes are kept in words (the counts cover all of them).
DETAILS_KEPT = 50


class Fixes:
    """Counts of fixes by kind, and the first few of them in words."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.details: list[str] = []

    def add(self, kind: str, what: str) -> None:
        """
        Count one fix.

        :param kind: the kind of drift.
        :param what: the fix in words.
        """
        self.counts[kind] += 1
        if len(self.details) < DETAILS_KEPT:
            self.details.append(f"{kind}: {what}")

    def fix(self, kind: str, what: str, action: Callable[[], Any] | None) -> Any:
        """
        Count one drift and, unless ``action`` is None (a dry run), fix it; a fix the API refuses for this
        record alone (validation, not found) is counted as ``could_not_fix`` instead of stopping the run.

        :param kind: the kind of drift.
        :param what: the drift in words.
        :param action: what fixes it.
        :return: what ``action`` returned; None for a dry run or a refused fix.
        """
        from airflow_provider_contacts.exceptions import ContactsNotFoundError, ContactsValidationError

        self.add(kind, what)
        if action is None:
            return
        try:
            return action()
        except (ContactsValidationError, ContactsNotFoundError) as error:
            self.add("could_not_fix", f"{kind} {what}: {error.message}")
            return None

    def as_dict(self) -> dict[str, Any]:
        """The report: counts by kind and the first fixes."""
        return {"counts": dict(self.counts), "details": self.details}
