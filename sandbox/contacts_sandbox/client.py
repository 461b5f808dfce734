"""A plain ``requests`` client for a running sandbox, for tests and demos that speak raw HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from .server import SandboxHandle


class SandboxClient:
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
