"""
What differs between the Contacts API versions the hook speaks, in one place.

The connection's ``extra.api_version`` picks one :class:`ApiVersion`; the hook's endpoint methods and the
OAuth token exchange ask it for the few things that differ, so no ``if version`` is spread through the hook.
Sources: the official specs ``apps/contacts.json`` (``2021-07-28``), ``apps/v3/contacts-v3.json`` and
``apps/v3/oauth-v3.json`` (``v3``) of ``GoHighLevel/highlevel-api-docs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError

#: The contact search's largest page (``pageLimit``), in both versions (``docs/api-behaviour.md``).
SEARCH_PAGE_LIMIT = 500

#: Custom field data types (the API's ``dataType``) by what their value holds; any other type holds text.
#: The writes (``engines.contact_mapping``) and the warehouse's columns (``engines.records``) read this one table.
CUSTOM_FIELD_TYPES: dict[str, str] = {
    "NUMERICAL": "number",
    "MONETORY": "number",  # sic: the API's spelling, alongside the correct one
    "MONETARY": "number",
    "FLOAT": "number",
    "CHECKBOX": "list",
    "MULTIPLE_OPTIONS": "list",
    "TEXTBOX_LIST": "list",
    "SINGLE_OPTIONS": "option",
    "RADIO": "option",
    "FILE_UPLOAD": "unsupported",
    "SIGNATURE": "unsupported",
}


def custom_field_types(holding: str) -> frozenset[str]:
    """
    The custom field data types whose value holds ``holding``.

    :param holding: ``number``, ``list``, ``option`` or ``unsupported``.
    """
    return frozenset(name for name, kind in CUSTOM_FIELD_TYPES.items() if kind == holding)


V2 = "2021-07-28"
V3 = "v3"

# Per-channel DND keys: ``DndSettingsSchema`` (2021-07-28) and ``DndSettingsSchemaV3`` (v3).
_DND_V2 = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
_DND_V3 = ("call", "email", "sms", "whatsApp", "gmb", "fb")


def _channel_names(wire: tuple[str, ...]) -> dict[str, str]:
    """Map any spelling of a channel (either version's, any case) onto this version's."""
    return {name.lower(): name for name in wire}


@dataclass(frozen=True)
class ApiVersion:
    """
    One version of the Contacts API as the hook sends and reads it.

    :param name: the ``Version`` header.
    :param remove_all_campaigns: the last path segment of "remove from every campaign".
    :param custom_field_value: the key of a custom-field item's value in a request.
    :param dnd_channels: lower-cased channel name -> this version's spelling of the ``dndSettings`` keys.
    :param token_fields: the token endpoint's request field names (canonical snake_case -> this version's).
    :param token_header: the ``Version`` header of the token endpoint (2021-07-28's declares none).
    :param lists_contacts: whether the deprecated ``GET /contacts/`` exists in this version.
    :param location_token_path: the agency route that mints a location's token from the company's.
    :param installed_locations_path: the agency route that lists the locations where the app is installed.
    """

    name: str
    remove_all_campaigns: str
    custom_field_value: str
    dnd_channels: Mapping[str, str]
    token_fields: Mapping[str, str] = field(default_factory=dict)
    token_header: str | None = None
    lists_contacts: bool = True
    location_token_path: str = "/oauth/locationToken"
    installed_locations_path: str = "/oauth/installedLocations"

    def contact_body(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """
        Return a contact create/update/upsert body in this version's names.

        Custom-field items may give their value as ``value``, ``field_value`` or ``fieldValue``; DND channels in
        either version's spelling. Anything else is passed as given (the API validates it).

        :param fields: the contact's fields.
        """
        body = dict(fields)
        items = body.get("customFields")
        if isinstance(items, list):
            body["customFields"] = [self._custom_field(item) for item in items]
        dnd = body.get("dndSettings")
        if isinstance(dnd, Mapping):
            body["dndSettings"] = {
                self.dnd_channels.get(str(channel).lower(), channel): value for channel, value in dnd.items()
            }
        return body

    def _custom_field(self, item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        out = {k: v for k, v in item.items() if k not in ("value", "field_value", "fieldValue")}
        for key in ("fieldValue", "field_value", "value"):
            if key in item:
                out[self.custom_field_value] = item[key]
                break
        return out

    @staticmethod
    def outcome(answer: Any) -> Any:
        """
        Return a success answer (``{succeded}`` or ``{succeeded}``) with both spellings and no ``traceId``.

        2021-07-28 answers ``succeded`` (sic); v3 answers ``succeeded`` and keeps ``succeded`` only on some
        operations. Callers may read either key, whichever version the connection speaks.

        :param answer: the decoded body.
        """
        if not isinstance(answer, dict):
            return answer
        out = {key: value for key, value in answer.items() if key != "traceId"}
        for spelling in ("succeeded", "succeded"):
            if spelling in out:
                flag = out[spelling]
                out.setdefault("succeeded", flag)
                out.setdefault("succeded", flag)
                break
        return out

    def token_request(self, fields: Mapping[str, str]) -> dict[str, str]:
        """
        Return the token endpoint's form in this version's names.

        :param fields: canonical (snake_case) fields: ``client_id``, ``client_secret``, ``grant_type``,
            ``refresh_token``, ``user_type``.
        """
        return {self.token_fields.get(key, key): value for key, value in fields.items()}

    def installed_locations_query(self, cursor: str | None, size: int) -> dict[str, Any]:
        """
        Return the paging parameters of one page of installed locations.

        :param cursor: what :meth:`installed_locations_page` returned for the page before; None for the first.
        :param size: locations per page (at most 100).
        """
        if self.name == V3:
            return {"pageSize": size, "pageToken": cursor}
        return {"skip": int(cursor or 0), "limit": size}

    def installed_locations_page(
        self, answer: Mapping[str, Any], cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """
        Return a page's locations and the cursor of the next page (None after the last).

        :param answer: the decoded page.
        :param cursor: the cursor this page was asked with.
        """
        if self.name == V3:
            pagination = answer.get("pagination") or {}
            rows = list(answer.get("items") or [])
            more = pagination.get("hasNextPage") and pagination.get("nextPageToken")
            return rows, str(pagination["nextPageToken"]) if more else None
        rows = list(answer.get("locations") or [])
        seen = int(cursor or 0) + len(rows)
        return rows, str(seen) if rows and seen < int(answer.get("count") or 0) else None


#: The versions the hook speaks, by ``Version`` header.
API_VERSIONS: dict[str, ApiVersion] = {
    V2: ApiVersion(
        name=V2,
        remove_all_campaigns="removeAll",
        custom_field_value="field_value",
        dnd_channels=_channel_names(_DND_V2),
    ),
    V3: ApiVersion(
        name=V3,
        remove_all_campaigns="remove-all",
        custom_field_value="fieldValue",
        dnd_channels=_channel_names(_DND_V3),
        token_fields={
            "client_id": "clientId",
            "client_secret": "clientSecret",
            "grant_type": "grantType",
            "refresh_token": "refreshToken",
            "user_type": "userType",
            "code": "code",
            "redirect_uri": "redirectUri",
        },
        token_header=V3,
        lists_contacts=False,
        location_token_path="/oauth/location-token",
        installed_locations_path="/oauth/installed-locations",
    ),
}

#: Token answer fields: either version's name -> the canonical (snake_case) one.
TOKEN_ANSWER_FIELDS = {
    "accessToken": "access_token",
    "refreshToken": "refresh_token",
    "expiresIn": "expires_in",
    "tokenType": "token_type",
}


def token_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """
    Return a token answer with canonical names, whichever version answered (v3's are camelCase).

    :param body: the decoded answer of the token endpoint.
    """
    return {TOKEN_ANSWER_FIELDS.get(key, key): value for key, value in body.items()}


def is_invalid_grant(body: Mapping[str, Any], message: str) -> bool:
    """
    True when the token endpoint refused the refresh token itself (used, revoked or expired).

    2021-07-28 answers RFC 6749's ``error: invalid_grant``; v3 documents ``400 Invalid grant: refresh token is
    invalid`` (oauth-v3.json).

    :param body: the decoded error answer.
    :param message: its message(s), joined.
    """
    text = message.lower()
    return body.get("error") == "invalid_grant" or "invalid_grant" in text or "invalid grant" in text


def for_connection(conn_id: str, name: str) -> ApiVersion:
    """
    Return the version a connection's ``extra.api_version`` names.

    :param conn_id: the connection, for the message.
    :param name: the value: ``2021-07-28`` or ``v3``.
    :raises ContactsConfigError: for any other, naming the field.
    """
    version = API_VERSIONS.get(name.strip())
    if version is None:
        raise ContactsConfigError(
            f"connection {conn_id!r}: extra.api_version must be one of {sorted(API_VERSIONS)}, got {name!r}"
        )
    return version
