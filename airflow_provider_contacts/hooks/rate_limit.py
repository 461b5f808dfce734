"""Where the rate limiter used to live; it is now part of the transport (kept so imports keep working)."""

from __future__ import annotations

from airflow_provider_contacts.transport.limiter import RollingWindowLimiter

__all__ = ["RollingWindowLimiter"]
