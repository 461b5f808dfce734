"""
The connection's Test (the UI's button and ``POST /api/v2/connections/test``): what it may check, truthfully.

Airflow runs the Test under a random connection id, with the connection's fields copied. So the Test must
not use the OAuth token chain: a refresh would consume the connection's single-use refresh token (the
deployment's next refresh would get ``invalid_grant``) and would save a live token chain under
``contacts_token__<random id>``. Here nothing is refreshed, nothing is written, and the message names the
fields it checked, never the random id:

- the settings (host, credentials, location, scopes, limits) are parsed as a run would parse them;
- private integration token: one real read (a one-row search of the location);
- OAuth: the token endpoint is asked to redeem a made-up authorization code, which consumes nothing and
  tells a known client (``invalid_grant``) from an unknown one (``invalid_client``); and when the extra
  names a ``token_variable`` or ``token_file`` that holds an unexpired access token issued from this
  connection's refresh token, that token is used read-only for one search. The refresh token itself is
  not checked: only a refresh could, and a refresh rotates it.

A stored token is sent only to the host that issued it (its ``issuer``, saved with it): whoever may test
connections could otherwise test a copy of the deployment's connection with the host of a server of theirs
and receive the deployment's token. A token saved without its host (by an earlier version) is not used.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_contacts.auth import (
    FileTokenStore,
    TokenData,
    VariableTokenStore,
    fingerprint,
    mask,
)
from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError, api_messages, json_object
from airflow_provider_contacts.urls import origin

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.contacts import ContactsHook

#: The authorization code the Test asks the token endpoint to redeem; no server ever issued it.
PROBE_CODE = "airflow-connection-test-not-a-code"


class StoredAccessToken:
    """
    A token provider that uses one stored access token and never refreshes (for the connection Test).

    :param tokens: the stored token set.
    :param where: where it was read, for messages.
    """

    can_refresh = False

    def __init__(self, tokens: TokenData, where: str) -> None:
        self._token = str(tokens["access_token"])
        mask(self._token, "access_token")
        self._scope = tokens.get("scope")
        self.where = where

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        return frozenset(str(self._scope).split()) if self._scope else None

    def access_token(self) -> str:
        return self._token

    def refresh(self, stale_access_token: str | None = None) -> None:
        raise ContactsError(
            f"the access token stored in {self.where} was refused; the Test does not refresh it "
            "(a refresh would rotate the connection's refresh token)"
        )

    def __repr__(self) -> str:
        return f"StoredAccessToken(where={self.where!r}, token=***)"


def _anonymous(message: str, conn_id: str) -> str:
    """A message without the random id Airflow tests the connection under."""
    return message.replace(f"connection {conn_id!r}: ", "").replace(
        f"connection {conn_id!r}", "the connection"
    )


def run_connection_test(hook: ContactsHook) -> tuple[bool, str]:
    """
    Test the hook's connection without touching its token chain; see the module's description.

    :param hook: a hook of the connection to test.
    :return: ``(ok, message)`` for Airflow's Test.
    """
    conn_id = hook.contacts_conn_id
    try:
        settings = hook.settings
        if settings.auth_type == "private_token":
            return _test_private_token(hook)
        return _test_oauth(hook)
    except (ContactsError, ValueError) as error:
        return False, _anonymous(str(error), conn_id)
    except requests.RequestException as error:
        return False, f"{hook.settings.base_url} did not answer ({type(error).__name__})"


def _settings_checked(hook: ContactsHook, credentials: str) -> str:
    settings = hook.settings
    location = (
        f"extra.location_id {settings.location_id!r}" if settings.location_id else "no extra.location_id"
    )
    return (
        f"Settings are valid: host {settings.base_url}, {credentials}, {location}, "
        f"extra.scopes {' '.join(sorted(settings.scopes))!r}."
    )


def _count(hook: ContactsHook) -> Any:
    answer = hook.request(
        "POST",
        "/contacts/search",
        json={"locationId": hook.location_id, "pageLimit": 1, "page": 1},
        write=False,
    )
    return answer.get("total")


def _test_private_token(hook: ContactsHook) -> tuple[bool, str]:
    checked = _settings_checked(hook, "password (private integration token)")
    total = _count(hook)
    return True, f"{checked} The token was accepted: a search of the location sees {total} contacts."


def _test_oauth(hook: ContactsHook) -> tuple[bool, str]:
    conn = hook.get_connection(hook.contacts_conn_id)
    extra = conn.extra_dejson or {}
    if not extra.get("refresh_token"):
        raise ContactsConfigError(
            "extra.refresh_token is empty: authorise the app once and put its refresh token there"
        )
    checked = _settings_checked(
        hook, "login (OAuth client id), password (client secret), extra.refresh_token (present)"
    )
    ok, client = _probe_client(hook, str(conn.login), str(conn.password))
    if not ok:
        return False, f"{checked} {client}"
    ok, stored = _stored_token_check(hook, extra)
    return ok, (
        f"{checked} {client} {stored} Not checked: the refresh token itself, which is single-use: testing it "
        "would rotate it away from the deployment's runs."
    )


def _probe_client(hook: ContactsHook, client_id: str, client_secret: str) -> tuple[bool, str]:
    """Ask the token endpoint to redeem a made-up code: consumes nothing, tells known from unknown clients."""
    settings = hook.settings
    response = hook.get_conn().post(
        f"{settings.base_url}/oauth/token",
        data={
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "authorization_code",
            "code": PROBE_CODE,
            "user_type": "Location",
        },
        headers={"Accept": "application/json"},
        timeout=settings.timeout,
    )
    body = json_object(response)
    said = "; ".join(api_messages(body, response.reason))
    if body.get("error") == "invalid_grant" or "invalid_grant" in said:
        return True, (
            "The token endpoint knows the client id and secret (it refused a made-up authorization code "
            "with invalid_grant, not invalid_client)."
        )
    if response.status_code == 401 or body.get("error") == "invalid_client":
        return False, f"The token endpoint refused the client id or secret (login, password): {said}"
    return (
        False,
        f"The token endpoint at {settings.base_url}/oauth/token answered HTTP {response.status_code}: {said}",
    )


def _stored_token_check(hook: ContactsHook, extra: dict[str, Any]) -> tuple[bool, str]:
    """
    Use a stored, unexpired access token read-only, when the extra names where tokens are kept, and only at
    the host that issued it.
    """
    if extra.get("token_file"):
        store: FileTokenStore | VariableTokenStore = FileTokenStore(str(extra["token_file"]))
        where = f"extra.token_file {str(extra['token_file'])!r}"
    elif extra.get("token_variable"):
        store = VariableTokenStore(str(extra["token_variable"]))
        where = f"the Variable {str(extra['token_variable'])!r} (extra.token_variable)"
    else:
        return True, (
            "No stored access token was used: the extra names no token_variable or token_file, and the "
            "default Variable is named after the connection id, which the Test does not have."
        )
    tokens = store.load()
    if not tokens or not tokens.get("access_token"):
        return True, f"No access token is stored in {where} yet (the first run obtains one)."
    if tokens.get("seed") not in (None, fingerprint(extra.get("refresh_token"))):
        return (
            True,
            f"The tokens in {where} come from another refresh token than extra.refresh_token; not used.",
        )
    issuer, host = tokens.get("issuer"), origin(hook.settings.base_url)
    if not issuer:
        return True, (
            f"The access token stored in {where} was saved without the host that issued it (by an earlier "
            "version of the provider); not used: the Test sends a stored token only to the host that issued "
            "it. The next refresh saves the host with the token."
        )
    if issuer != host:
        return False, (
            f"The access token stored in {where} was issued by {issuer}, not by this connection's host "
            f"{host}: not sent (a stored token goes only to the host that issued it). Point the host back "
            f"at {issuer}, or store this connection's tokens elsewhere."
        )
    if float(tokens.get("expires_at") or 0) <= time.time() + 5:
        return True, f"The access token stored in {where} has expired; not used (the next run refreshes it)."
    from airflow_provider_contacts.transport.sync import Transport

    # A hook of its own whose transport sends the stored token and never refreshes it.
    probe = type(hook)(contacts_conn_id=hook.contacts_conn_id)
    probe._transport = Transport(
        hook.settings, StoredAccessToken(tokens, where), hook.limiter, hook.get_conn()
    )
    total = _count(probe)
    return True, (
        f"The unexpired access token stored in {where} was accepted: a search of the location sees {total} "
        "contacts."
    )
