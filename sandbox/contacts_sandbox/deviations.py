"""Where the sandbox knowingly differs from the official specs, each with its source: the one list.

The conformance test (tests/integration/sandbox/test_conformance.py) runs schemathesis over both Contacts
specs against the sandbox and ignores a finding only when an entry here with a ``check`` explains it; every
other finding fails the test. Entries without a ``check`` are behaviour the specs leave undocumented, where
the sandbox had to choose; they are listed so that nobody mistakes a choice for a fact.

Sources: "v2 spec"/"v3 spec" = ``contacts.json`` / ``v3/contacts-v3.json`` bundled beside this module
(verbatim ``apps/`` files of GoHighLevel/highlevel-api-docs); ``#N`` = issue N of that repository.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    """
    One deliberate difference from the specs.

    :param key: a short name.
    :param what: what the sandbox does.
    :param source: why: the evidence that the real API does it too, or why it must choose.
    :param check: the schemathesis failure it explains (``UndefinedStatusCode``, ``JsonSchemaError``...).
    :param status: the HTTP status of the answers it explains (0: any).
    :param where: a text the failure's message contains (a schema path, a status list...).
    """

    key: str
    what: str
    source: str
    check: str | None = None
    status: int = 0
    where: str = ""

    def explains(self, check: str, status: int, message: str) -> bool:
        """
        True when this deviation accounts for a conformance finding.

        :param check: the failure's class name.
        :param status: the answer's HTTP status.
        :param message: the failure's message.
        """
        return (
            self.check == check and self.status in (0, status) and (not self.where or self.where in message)
        )


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "search-422",
        "POST /contacts/search answers 422 when locationId or pageLimit is missing (the spec declares 200, 400, "
        "401 and an empty body schema)",
        "#31: the real search requires locationId and pageLimit and answers 422 without them",
        check="UndefinedStatusCode",
        status=422,
    ),
    Deviation(
        "not-found-404",
        "404 {statusCode, message} for an unknown contact, note, task, campaign or workflow (the v2 spec declares "
        "no 404 anywhere)",
        "v3 common-schemas NotFoundDTO ('Conversation id, contact id, workflow id, or campaign id not given'); "
        "the SDKs map 404 to 'Not Found' (docs/api-behaviour.md, Errors)",
        check="UndefinedStatusCode",
        status=404,
    ),
    Deviation(
        "other-location-403",
        "403 'The token does not have access to this location.' for another location's data",
        "reported in n8n-io/n8n#11353; v3 common-schemas ForbiddenDTO",
        check="UndefinedStatusCode",
        status=403,
    ),
    Deviation(
        "attachments-array",
        "contacts carry attachments as an array (the schemas say type string)",
        "the v3 spec's own description of the field ('List of attachment URLs', example []), and the "
        "ContactCreate webhook payload (attachments: type array, example [])",
        check="JsonSchemaError",
        where="properties/attachments",
    ),
    Deviation(
        "bulk-tags-responses-objects",
        "the bulk tags answer's responses[] holds one object per contact {contactId, message, type, ...} (the "
        "schema says items of type string)",
        "the same schema's own example (UpdateTagsResponseDTO.responses, both specs) lists those objects",
        check="JsonSchemaError",
        where="properties/responses/items",
    ),
    Deviation(
        "money-value-number",
        "a MONETORY custom field's value is a number in answers (CustomFieldSchema.value says string)",
        "both specs' MonetoryField documents the value as a number (fieldValue/field_value example 100.5); "
        "CustomFieldSchema.value is the generic text case",
        check="JsonSchemaError",
        where="CustomFieldSchema/properties/value",
    ),
    Deviation(
        "unset-fields-left-out",
        "an unset field is left out of an answer rather than sent as null (fixed: ~40 fields used to be null "
        "where the schemas say non-nullable string or boolean)",
        "the schemas type them as non-nullable; not a finding any more",
    ),
    Deviation(
        "name-not-contactName",
        "contacts carry the spec's name; contactName appears only in the duplicate-contact 400's meta",
        "both specs' contact schemas list name and no contactName; the 400's meta.contactName is reported in "
        "the wild (docs/api-behaviour.md, Upserts)",
    ),
    Deviation(
        "duplicate-lookup-400",
        "GET /contacts/search/duplicate with neither email nor number answers 400",
        "undocumented; 400 is the status the spec declares for a bad request",
    ),
    Deviation(
        "unknown-custom-field-422",
        "an unknown custom field id or key, or an unknown key inside a custom-field item, is refused with a 422 "
        "naming it",
        "NestJS whitelist validation answers 'property X should not exist' (#262, #313); whether the real API "
        "also validates nested items is undocumented: refusing keeps mapping mistakes visible in tests",
    ),
    Deviation(
        "field-value-v2",
        "fieldValue is accepted in custom-field items of 2021-07-28 too",
        "documented for 2021-07-28 since 2026-08 (issue 15); the bundled v2 spec (2026-06-19) predates it",
    ),
    Deviation(
        "version-header-400",
        "a missing or unsupported Version header answers 400 'Version header is missing or not supported'",
        "the real status is undocumented (docs/api-behaviour.md, Requests and versions)",
    ),
    Deviation(
        "rate-limit-429-body",
        "429 {statusCode, message} with Retry-After and the X-RateLimit-* headers",
        "limits and headers: docs/oauth/Authorization.md FAQ; the 429 body and Retry-After are undocumented "
        "(docs/api-behaviour.md, Rate limits)",
    ),
    Deviation(
        "refresh-token-single-use",
        "a refresh token works once; reuse answers 400 invalid_grant (v3: 'Invalid grant: refresh token is "
        "invalid')",
        "'valid for a year unless used' (docs/oauth/Authorization.md); the v3 message is oauth-v3.json's example",
    ),
    Deviation(
        "upsert-needs-email-or-phone",
        "POST /contacts/upsert without email and phone answers 422",
        "#37 and n8n-io/n8n#11353 (upsert matches on email or phone); the exact answer is undocumented",
    ),
    Deviation(
        "agency-routes-minimal",
        "/oauth/location-token and /oauth/installed-locations know one company and two locations; Company "
        "tokens come from /_sandbox/tokens (userType Company)",
        "agencies are issue 14; the shapes follow oauth-v3.json",
    ),
)


def explanation(check: str, status: int, message: str) -> Deviation | None:
    """
    Return the deviation that explains a conformance finding, or None.

    :param check: the failure's class name.
    :param status: the answer's HTTP status.
    :param message: the failure's message.
    """
    return next((d for d in DEVIATIONS if d.explains(check, status, message)), None)
