"""A secrets backend for tests that writes down every connection id it is asked for, and knows none."""

from __future__ import annotations

from pathlib import Path

from airflow.secrets.base_secrets import BaseSecretsBackend


class CountingSecretsBackend(BaseSecretsBackend):
    """
    Appends each looked-up connection id to a file, one a line (escaped), and returns nothing.

    :param path: the file.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path)

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        with self.path.open("a") as out:
            out.write(conn_id.encode("unicode_escape").decode("ascii") + "\n")
        return None


def lookups(path: Path, conn_id: str) -> int:
    """How often ``conn_id`` was looked up."""
    if not path.exists():
        return 0
    return path.read_text().splitlines().count(conn_id)
