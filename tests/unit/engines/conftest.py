"""The engines' tests use the operators' fake of the Contacts API (the sync engine runs under its operator)."""

from tests.unit.operators.conftest import contacts_conn, fake_api  # noqa: F401
