"""
The request path of the Contacts provider, apart from the endpoint methods.

- :mod:`.settings`: the connection's settings, parsed once.
- :mod:`.core`: pure: the call, its headers, what an answer means (return / retry after N s / raise).
- :mod:`.limiter`: the rolling-window rate budget of a process; :mod:`.shared`: the same in Redis.
- :mod:`.sync`: :class:`Transport`, the parts one connection needs once per process, and its face over
  ``requests``; :mod:`.aio`: its face over ``httpx`` for triggers.
- :mod:`.registry`: :func:`get_transport`, one transport per connection per process.
"""

from __future__ import annotations

from airflow_provider_contacts.transport.core import Call
from airflow_provider_contacts.transport.limiter import RollingWindowLimiter, ahead_of_the_queue
from airflow_provider_contacts.transport.registry import clear_transports, get_transport
from airflow_provider_contacts.transport.settings import ContactsSettings
from airflow_provider_contacts.transport.sync import Transport

__all__ = [
    "Call",
    "ContactsSettings",
    "RollingWindowLimiter",
    "Transport",
    "ahead_of_the_queue",
    "clear_transports",
    "get_transport",
]
