"""Apache Airflow provider for the HighLevel (LeadConnector) Contacts API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
