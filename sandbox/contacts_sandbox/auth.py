"""OAuth 2.0 as the real token endpoint does it (docs/api-behaviour.md, OAuth tokens): expiring access tokens, rotating refresh tokens.

Refresh tokens are single use: refreshing returns a new pair and the old refresh token stops working (our
reading of "valid for a year unless used"; reuse -> 400 ``invalid_grant``). Tokens are persisted in the
store, so a sandbox restarted on the same ``--db`` keeps accepting the tokens it issued.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .options import SandboxOptions
from .store import Store

ALL_SCOPES = "contacts.readonly contacts.write"
#: What an agency-level install grants: listing installed locations and minting their tokens, plus contacts.
AGENCY_SCOPES = "oauth.readonly oauth.write contacts.readonly contacts.write"
COMPANY_ID = "sbxCompany0000000001"
APP_USER_ID = "sbxUser0000000000001"
#: A second location, with a few contacts, so that "a contact of another location -> 403" can be seen.
OTHER_LOCATION_ID = "sbxLoc0000000000000B"


def installed_location_ids(options: SandboxOptions) -> tuple[str, ...]:
    """
    The company's locations that have the app installed: ``location_id``, then numbered ones.

    :param options: the sandbox's options (``location_id``, ``locations``).
    """
    numbered = (f"sbxLoc{index:014d}" for index in range(2, options.locations + 1))
    return (options.location_id, *numbered)


@dataclass(frozen=True)
class Principal:
    """
    Who a bearer token speaks for.

    :param client_id: the OAuth client (``private-integration`` for a private token).
    :param location_id: the sub-account the token is bound to.
    :param scopes: the granted scopes.
    :param user_type: ``Location`` (a sub-account token) or ``Company`` (an agency token, for ``/oauth/*``).
    """

    client_id: str
    location_id: str
    scopes: frozenset[str]
    user_type: str = "Location"


class OAuthError(Exception):
    """
    An OAuth error answer ``{"error", "error_description"}`` (RFC 6749 shape; the real bodies are undocumented).

    :param status: HTTP status.
    :param error: the RFC 6749 error code.
    :param description: human-readable reason.
    :param field: the form field at fault, when one is.
    """

    def __init__(self, status: int, error: str, description: str, field: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.field = field


class TokenAuthority:
    """
    Issues and checks tokens.

    :param options: the sandbox options (client credentials, TTL, private token, location).
    :param store: where tokens persist.
    """

    def __init__(self, options: SandboxOptions, store: Store) -> None:
        self.options = options
        self.store = store
        self.access: dict[str, dict[str, Any]] = {}
        self.refresh: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refreshes = 0
        self.rejected_refresh_tokens = 0
        #: Location tokens minted from agency tokens, by location.
        self.location_tokens: Counter[str] = Counter()
        #: Locations whose token requests are refused (``Location is not active``, a suspended sub-account).
        self.suspended: set[str] = set()
        for token, kind, data in store.load_tokens():
            if kind == "access":
                data["principal"] = Principal(
                    options.client_id,
                    data["location_id"],
                    frozenset(data["scopes"].split()),
                    data.get("user_type", "Location"),
                )
            {"access": self.access, "refresh": self.refresh, "code": self.codes}[kind][token] = data
        self._private = Principal("private-integration", options.location_id, frozenset(ALL_SCOPES.split()))

    def principal(self, token: str) -> Principal | None:
        """
        Return the principal of a bearer token, or None when it is unknown or expired.

        :param token: the bearer token.
        """
        if token == self.options.private_token:
            return self._private
        data = self.access.get(token)
        if data is None or data["expires_at"] <= time.time():
            return None
        return data["principal"]

    def mint_refresh_token(
        self, scopes: str = ALL_SCOPES, location_id: str | None = None, user_type: str = "Location"
    ) -> str:
        """
        Create a refresh token as if a user had just authorised the app.

        :param scopes: space-separated scopes it grants.
        :param location_id: its location (default: the sandbox's; none for a ``Company`` token).
        :param user_type: ``Location`` or ``Company`` (an agency-level install).
        """
        token = "sbx-rt-" + secrets.token_urlsafe(24)
        location = "" if user_type == "Company" else location_id or self.options.location_id
        data = {"scopes": scopes, "location_id": location, "used": False, "user_type": user_type}
        self.refresh[token] = data
        self.store.put_token(token, "refresh", data)
        return token

    def mint_code(self, scopes: str = ALL_SCOPES) -> str:
        """
        Create an authorization code (what the redirect after consent carries).

        :param scopes: space-separated scopes it grants.
        """
        code = "sbx-code-" + secrets.token_urlsafe(16)
        data = {"scopes": scopes, "location_id": self.options.location_id, "used": False}
        self.codes[code] = data
        self.store.put_token(code, "code", data)
        return code

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """
        Answer ``POST /oauth/token``.

        :param form: the form fields.
        :raises OAuthError: on bad client credentials, grant type or grant.
        """
        missing = [k for k in ("client_id", "client_secret", "grant_type") if not form.get(k)]
        if missing:
            raise OAuthError(422, "invalid_request", f"missing form fields: {', '.join(missing)}", missing[0])
        if form["client_id"] != self.options.client_id or form["client_secret"] != self.options.client_secret:
            raise OAuthError(401, "invalid_client", "client_id or client_secret is not valid")
        grant_type = form["grant_type"]
        if grant_type == "refresh_token":
            grants, field, kind = self.refresh, "refresh_token", "refresh"
        elif grant_type == "authorization_code":
            grants, field, kind = self.codes, "code", "code"
        else:
            raise OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported", "grant_type"
            )
        value = form.get(field)
        grant = grants.get(value or "")
        if grant is None or grant["used"]:
            if kind == "refresh":
                self.rejected_refresh_tokens += 1
            reason = "has already been used" if grant else "is not valid"
            raise OAuthError(
                400, "invalid_grant", f"The {field.replace('_', ' ')} {reason}; re-authorise the app.", field
            )
        grant["used"] = True
        self.store.put_token(value or "", kind, grant)
        if kind == "refresh":
            self.refreshes += 1
        # The token is of the type the app was installed as (the grant's), whatever ``user_type`` asks.
        return self._issue(grant["scopes"], grant["location_id"], grant.get("user_type", "Location"))

    def location_token(self, principal: Principal, company_id: str, location_id: str) -> dict[str, Any]:
        """
        Answer ``POST /oauth/location-token``: a location's token minted from an agency (Company) token.

        :param principal: the caller (must be a ``Company`` token).
        :param company_id: the ``companyId`` field.
        :param location_id: the ``locationId`` field.
        :raises OAuthError: 401 for a location token, 400 for another company or an unknown location.
        """
        if principal.user_type != "Company":
            raise OAuthError(401, "invalid_token", "This route needs an Agency (Company) access token")
        if company_id != COMPANY_ID:
            raise OAuthError(400, "invalid_request", "companyId is not the token's company", "companyId")
        if location_id not in self.installed:
            raise OAuthError(
                400, "invalid_request", "the app is not installed on that location", "locationId"
            )
        if location_id in self.suspended:
            # A real 400 message for a suspended sub-account (docs/api-behaviour.md, OAuth tokens).
            raise OAuthError(400, "invalid_request", "Location is not active", "locationId")
        self.location_tokens[location_id] += 1
        # A location token carries the install's sub-account scopes, not the agency's oauth.* ones.
        scopes = " ".join(sorted(s for s in principal.scopes if not s.startswith("oauth.")))
        return self._issue(scopes, location_id, "Location")

    @property
    def installed(self) -> tuple[str, ...]:
        """The company's locations that have the app installed (``--locations`` of them)."""
        return installed_location_ids(self.options)

    @property
    def locations(self) -> tuple[str, ...]:
        """Every location of the sandbox's company: the installed ones, then one without the app."""
        return (*self.installed, OTHER_LOCATION_ID)

    def _issue(self, scopes: str, location_id: str, user_type: str) -> dict[str, Any]:
        access = "sbx-at-" + secrets.token_urlsafe(32)
        ttl = self.options.access_token_ttl
        principal = Principal(self.options.client_id, location_id, frozenset(scopes.split()), user_type)
        stored = {
            "expires_at": time.time() + ttl,
            "scopes": scopes,
            "location_id": location_id,
            "user_type": user_type,
        }
        self.store.put_token(access, "access", stored)
        self.access[access] = {**stored, "principal": principal}
        answer = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
            "refresh_token": self.mint_refresh_token(scopes, location_id, user_type),
            "scope": scopes,
            "userType": user_type,
            "locationId": location_id or None,
            "companyId": COMPANY_ID,
            "approvedLocations": [location_id] if location_id else list(self.locations),
            "userId": APP_USER_ID,
            "planId": "sbx-plan",
            "isBulkInstallation": False,
        }
        return {k: v for k, v in answer.items() if v is not None}
