from __future__ import annotations

# The hook fixtures (a connection per test, token answers) are the hooks package's.
from tests.unit.hooks.conftest import make_hook  # noqa: F401
