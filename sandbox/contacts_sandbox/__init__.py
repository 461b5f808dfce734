"""A local HTTP server that behaves like the HighLevel Contacts API v2 (FastAPI + uvicorn + SQLite).

``with running_sandbox(seed=100) as sb:`` starts one on a free port; ``contacts-sandbox`` runs one from a
shell. See :class:`~contacts_sandbox.options.SandboxOptions` for every option.
"""

from __future__ import annotations

from .options import FAULT_KINDS, SandboxOptions
from .server import SandboxHandle, running_sandbox

__all__ = ["FAULT_KINDS", "SandboxHandle", "SandboxOptions", "running_sandbox"]
