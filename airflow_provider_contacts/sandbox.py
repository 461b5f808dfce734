"""
The local sandbox of the Contacts API, re-exported from its own distribution.

The server ships as ``airflow-provider-contacts-sandbox`` (import package ``contacts_sandbox``), apart from
the provider, so the provider's wheel that every Airflow image installs carries neither the server nor its
bundled OpenAPI files. ``from airflow_provider_contacts.sandbox import running_sandbox`` keeps working where
it is installed; elsewhere taking a name from this module raises an :class:`ImportError` that says what to
install (importing the module itself always works, like every module of the provider).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contacts_sandbox import FAULT_KINDS, SandboxHandle, SandboxOptions, running_sandbox

DISTRIBUTION = "airflow-provider-contacts-sandbox"

__all__ = ["FAULT_KINDS", "SandboxHandle", "SandboxOptions", "running_sandbox"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        sandbox = importlib.import_module("contacts_sandbox")
    except ModuleNotFoundError as err:
        # Only the sandbox itself missing is explained; a dependency missing inside it surfaces as it is.
        if err.name != "contacts_sandbox":
            raise
        raise ImportError(
            f"airflow_provider_contacts.sandbox needs the {DISTRIBUTION} distribution, which is not installed. "
            f"It lives in the provider repository's sandbox/ folder: run `pip install ./sandbox` from the "
            f"repository's root (`make` installs it too).",
            name=__name__,
        ) from err
    return getattr(sandbox, name)
