"""Fixtures for tests that run against a real sandbox server over HTTP.

- ``sandbox``: a running sandbox with a small seed and fast limits (a fresh one per test: it starts in a
  fraction of a second, and no test sees another's writes).
- ``sandbox_factory``: start sandboxes with custom options; all stop at the end of the test.
- ``api``: a plain ``requests`` client for the ``sandbox`` fixture, with an OAuth bearer token.
- ``sandbox_process``: one sandbox in its own process per test module (as users run it), no rate limit in
  the way: for modules that drive many requests through other clients (the official SDK, schemathesis).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox
from contacts_sandbox.client import SandboxClient

#: Options of the ``sandbox`` fixture: small data, a burst budget that plain tests never hit.
SANDBOX_DEFAULTS: dict[str, Any] = {"seed": 40, "random_seed": 7, "rate_limit": 1000, "rate_interval": 1.0}


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with any options (``sandbox_factory(seed=10, fault_rate=0.2)``); stopped after the test."""
    with ExitStack() as stack:

        def start(**options: Any) -> SandboxHandle:
            return stack.enter_context(running_sandbox(**options))

        yield start


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxHandle]) -> SandboxHandle:
    """A running sandbox with 40 seeded contacts and a generous burst budget."""
    return sandbox_factory(**SANDBOX_DEFAULTS)


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[SandboxHandle]:
    """A sandbox process for the module, with 12 seeded contacts (custom fields, notes, tasks)."""
    with running_sandbox(
        subprocess_mode=True, seed=12, random_seed=3, rate_limit=100_000, rate_interval=1.0
    ) as sb:
        yield sb


@pytest.fixture
def api(sandbox: SandboxHandle) -> SandboxClient:
    """A ``requests`` client for ``sandbox`` with an OAuth access token holding both contacts scopes."""
    return sandbox.client()
