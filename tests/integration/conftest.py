"""Fixtures for tests that run against a real sandbox server over HTTP.

- ``sandbox``: a running sandbox with a small seed and fast limits (a fresh one per test: it starts in a
  fraction of a second, and no test sees another's writes).
- ``sandbox_factory``: start sandboxes with custom options; all stop at the end of the test.
- ``api``: a plain ``requests`` client for the ``sandbox`` fixture, with an OAuth bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from airflow_provider_contacts.sandbox import SandboxHandle, running_sandbox

#: Options of the ``sandbox`` fixture: small data, a burst budget that plain tests never hit.
SANDBOX_DEFAULTS: dict[str, Any] = {"seed": 40, "random_seed": 7, "rate_limit": 1000, "rate_interval": 1.0}


class ApiClient:
    """
    A minimal HTTP client for sandbox tests: base URL, bearer token and ``Version`` header on every call.

    :param handle: the sandbox.
    :param token: the bearer token (default: a fresh OAuth access token with both contacts scopes).
    :param version: the ``Version`` header.
    """

    def __init__(self, handle: SandboxHandle, token: str | None = None, version: str = "2021-07-28") -> None:
        self.handle = handle
        self.session = requests.Session()
        self.token = token or handle.access_token()
        self.session.headers.update({"Authorization": f"Bearer {self.token}", "Version": version})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """
        Send a request to the sandbox.

        :param method: HTTP method.
        :param path: path (with the leading slash).
        :param kwargs: passed to ``requests``.
        """
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.handle.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT ``path``."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)

    def create_contact(self, **fields: Any) -> dict[str, Any]:
        """
        Create a contact in the sandbox's location and return it.

        :param fields: contact fields.
        """
        response = self.post("/contacts/", json={"locationId": self.handle.location_id, **fields})
        assert response.status_code == 201, response.text
        return response.json()["contact"]


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


@pytest.fixture
def api(sandbox: SandboxHandle) -> ApiClient:
    """A ``requests`` client for ``sandbox`` with an OAuth access token holding both contacts scopes."""
    return ApiClient(sandbox)
