"""
Hooks: ``ContactsHook`` (``hooks.contacts``) and the SQL hook lookup (``hooks.sql``).

The token stores live below the hook, in :mod:`airflow_provider_contacts.auth`; they are importable from
here too, where a DAG that passes ``token_store=`` to the hook looks for them.
"""

from __future__ import annotations

from airflow_provider_contacts.auth import (
    FileTokenStore,
    MemoryTokenStore,
    OAuthTokenProvider,
    TokenStore,
    VariableTokenStore,
)

__all__ = ["FileTokenStore", "MemoryTokenStore", "OAuthTokenProvider", "TokenStore", "VariableTokenStore"]
