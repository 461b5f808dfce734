"""How the two API versions differ on the wire, in one place: the version-dispatch layer of the routes.

Handlers read and write one canonical shape (the ``2021-07-28`` one). A request of another version is
brought to that shape by :func:`accept` before its handler runs, and the handler's answer is put into the
request's version by :func:`render`. What differs, and where the spec says so:

- ``dndSettings`` channel keys: ``Call, Email, SMS, WhatsApp, GMB, FB`` in ``2021-07-28``
  (``DndSettingsSchema``), ``call, email, sms, whatsApp, gmb, fb`` in ``v3`` (``DndSettingsSchemaV3``).
- custom-field items: ``field_value`` in ``2021-07-28``, ``fieldValue`` (``field_value`` deprecated) in ``v3``.
- ``succeded`` (sic) in ``2021-07-28``; ``v3`` answers carry ``succeeded``, and keep ``succeded`` only where
  the operation's success schema still lists it (update-contact's does not).
- paths (``campaigns/removeAll`` vs ``campaigns/remove-all``, no ``GET /contacts/`` in ``v3``) and bodies
  come from each version's own spec (:mod:`.spec`), so they need nothing here.

Both versions: a field that is unset is left out of an answer rather than sent as ``null`` (the specs type
those fields as non-nullable strings and booleans; see sandbox/deviations.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from .auth import OAuthError
from .errors import ApiError
from .spec import V2, V3

#: Every ``Version`` value of the Contacts routes.
CONTACT_VERSIONS: tuple[str, ...] = (V2, V3)

_DND_V3 = {"Call": "call", "Email": "email", "SMS": "sms", "WhatsApp": "whatsApp", "GMB": "gmb", "FB": "fb"}
_DND_V2 = {v3: v2 for v2, v3 in _DND_V3.items()}

#: The keys a custom-field item may carry in a request (the ``*Field`` schemas of both specs). The
#: ``2021-07-28`` spec bundled here lists only ``field_value``; ``fieldValue`` is documented for it too since
#: 2026-08 (issue 15), and ``v3`` keeps ``field_value`` as deprecated, so both versions take both.
CUSTOM_FIELD_ITEM_KEYS = frozenset({"id", "key", "field_value", "fieldValue"})

#: Top-level keys of an answer that hold API objects (whose unset fields are left out).
_OBJECT_KEYS = ("contact", "contacts", "task", "tasks", "note", "notes", "events")


def _dnd(settings: Any, names: dict[str, str]) -> Any:
    if not isinstance(settings, dict):
        return settings
    return {names.get(channel, channel): value for channel, value in settings.items()}


def accept(version: str, body: dict[str, Any]) -> dict[str, Any]:
    """
    Bring a validated request body of ``version`` to the canonical (``2021-07-28``) shape.

    :param version: the request's ``Version`` header.
    :param body: the validated body.
    """
    if version == V3 and isinstance(body.get("dndSettings"), dict):
        body = {**body, "dndSettings": _dnd(body["dndSettings"], _DND_V2)}
    return body


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _contact(version: str, doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    if version == V3 and isinstance(doc.get("dndSettings"), dict):
        doc["dndSettings"] = _dnd(doc["dndSettings"], _DND_V3)
    return doc


def render(version: str, envelope: tuple[str, ...], body: dict[str, Any]) -> dict[str, Any]:
    """
    Put a handler's canonical answer into the shape of ``version``.

    :param version: the request's ``Version`` header.
    :param envelope: the top-level keys of the operation's success body in that version's spec (empty
        when the spec gives none).
    :param body: the handler's answer.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in _OBJECT_KEYS and value is not None:
            value = _without_nulls(value)
            if key == "contact":
                value = _contact(version, value)
            elif key == "contacts":
                value = [_contact(version, doc) for doc in value]
        out[key] = value
    if version == V3 and "succeded" in out:
        flag = out.pop("succeded")
        out = {"succeeded": flag, **out}
        if "succeded" in envelope:
            out["succeded"] = flag  # kept (deprecated) where v3's schema still lists it
    return out


# -- OAuth: snake_case form in 2021-07-28 (oauth.json), camelCase form or JSON in v3 (oauth-v3.json) ------------
_OAUTH_V3_FIELDS = {
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "grantType": "grant_type",
    "code": "code",
    "refreshToken": "refresh_token",
    "userType": "user_type",
    "redirectUri": "redirect_uri",
    "companyId": "companyId",
    "locationId": "locationId",
}
_OAUTH_V3_NAMES = {canonical: camel for camel, canonical in _OAUTH_V3_FIELDS.items()}
_TOKEN_V3_NAMES = {
    "access_token": "accessToken",
    "token_type": "tokenType",
    "expires_in": "expiresIn",
    "refresh_token": "refreshToken",
}


def oauth_fields(version: str, content_type: str, raw: bytes) -> dict[str, str]:
    """
    Read the fields of an OAuth request into the canonical (2021-07-28, snake_case) names.

    A v3 request is read from a form or a JSON body, and only v3's camelCase names count (the styles do not
    mix: ``client_id`` sent with ``Version: v3`` is a missing ``clientId``).

    :param version: the request's ``Version`` header.
    :param content_type: its ``Content-Type``.
    :param raw: its body.
    """
    if version != V3:
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    if "json" in content_type.lower():
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"Unexpected token in JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "The body must be a JSON object")
    else:
        data = dict(parse_qsl(raw.decode("utf-8", "replace")))
    return {canonical: str(data[camel]) for camel, canonical in _OAUTH_V3_FIELDS.items() if camel in data}


def token_answer(version: str, answer: dict[str, Any]) -> dict[str, Any]:
    """
    Put a token answer into the version's names (``accessToken``... in v3).

    :param version: the request's ``Version`` header.
    :param answer: the canonical answer (``access_token``...).
    """
    if version != V3:
        return answer
    return {_TOKEN_V3_NAMES.get(k, k): v for k, v in answer.items()}


def oauth_error(version: str, error: OAuthError) -> ApiError:
    """
    Turn a refusal of the token authority into the version's error answer.

    2021-07-28: RFC 6749's ``error``/``error_description`` beside ``message``. v3: the documented examples of
    oauth-v3.json (``Missing parameter: clientId``, ``Invalid parameter: grantType``, ``Invalid grant: refresh
    token is invalid``) in the ``{statusCode, message}`` shape.

    :param version: the request's ``Version`` header.
    :param error: the refusal.
    """
    if version != V3:
        extra = {"error": error.error, "error_description": error.description}
        return ApiError(error.status, error.description, extra=extra)
    name = _OAUTH_V3_NAMES.get(error.field or "", error.field or "")
    if error.error == "invalid_request" and error.status == 422:
        return ApiError(400, f"Missing parameter: {name}")
    if error.error == "invalid_grant":
        return ApiError(400, f"Invalid grant: {name.replace('Token', ' token').lower()} is invalid")
    if error.error in ("invalid_request", "unsupported_grant_type"):
        return ApiError(400, f"Invalid parameter: {name}")
    return ApiError(error.status, error.description)
