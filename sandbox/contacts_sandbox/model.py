"""The sandbox's state and the Contacts rules that do not depend on HTTP.

:class:`Sandbox` owns the store, the token authority, the limiter, the fault injector and the counters, and
implements contact writes the way the real API does: tags on create/update/upsert replace the list, custom
fields merge by id, the location's duplicate rule (email, then phone) guards create and drives upsert.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .auth import OTHER_LOCATION_ID as OTHER_LOCATION_ID
from .auth import TokenAuthority
from .clock import IdMaker, iso, now_ms, parse_time
from .errors import ApiError, forbidden_location, not_found, unprocessable
from .limits import FaultInjector, RateLimiter, Stats
from .options import SandboxOptions
from .search import SearchCompiler
from .store import Store
from .versions import CUSTOM_FIELD_ITEM_KEYS

if TYPE_CHECKING:
    from .webhooks import WebhookSender

#: Custom field definitions of the location: (name, fieldKey suffix, dataType, picklist options).
CUSTOM_FIELD_DEFS: tuple[tuple[str, str, str, list[str] | None], ...] = (
    ("Lifetime Value", "lifetime_value", "MONETORY", None),
    ("Favourite Colour", "favourite_colour", "SINGLE_OPTIONS", ["red", "green", "blue", "yellow"]),
    ("Interests", "interests", "CHECKBOX", ["golf", "sailing", "tennis", "chess"]),
    ("Customer Since", "customer_since", "DATE", None),
    ("Referral Code", "referral_code", "TEXT", None),
    ("Status", "status", "TEXT", None),
    ("Last Event", "last_event", "TEXT", None),
)

_DOB_FORMATS = (
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%m-%d-%Y",
    "%Y.%m.%d",
    "%m.%d.%Y",
    "%Y_%m_%d",
    "%m_%d_%Y",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(value: str) -> str:
    """
    Normalise a phone number to E.164-like form (the API formats numbers; US numbers get ``+1``).

    :param value: the number as sent.
    """
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def _parse_dob(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        text = value.strip()
        for fmt in _DOB_FORMATS:
            try:
                return iso(int(datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp() * 1000))
            except ValueError:
                continue
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return iso(int(dt.replace(tzinfo=dt.tzinfo or timezone.utc).timestamp() * 1000))
        except ValueError:
            pass
    raise unprocessable("dateOfBirth must be a valid date (YYYY-MM-DD, MM/DD/YYYY, ...)")


def empty_contact(contact_id: str, location_id: str, ms: int) -> dict[str, Any]:
    """
    Return a contact document with every field the API returns, unset.

    :param contact_id: its id.
    :param location_id: its location.
    :param ms: creation time, epoch ms.
    """
    stamp = iso(ms)
    return {
        "id": contact_id,
        "locationId": location_id,
        "name": None,
        "firstName": None,
        "lastName": None,
        "firstNameLowerCase": None,
        "lastNameLowerCase": None,
        "fullNameLowerCase": None,
        "email": None,
        "emailLowerCase": None,
        "phone": None,
        "companyName": None,
        "gender": None,
        "timezone": None,
        "dnd": False,
        "dndSettings": {},
        "inboundDndSettings": {},
        "type": "lead",
        "source": None,
        "assignedTo": None,
        "address1": None,
        "city": None,
        "state": None,
        "country": None,
        "postalCode": None,
        "website": None,
        "tags": [],
        "dateOfBirth": None,
        "dateAdded": stamp,
        "dateUpdated": stamp,
        "attachments": [],
        "ssn": None,
        "keyword": None,
        "lastActivity": None,
        "customFields": [],
        "businessId": None,
        "followers": [],
        "additionalEmails": [],
        "additionalPhones": [],
        "createdBy": {"source": "INTEGRATION", "channel": "OAUTH", "sourceId": None, "timestamp": stamp},
        "deleted": False,
    }


def refresh_names(doc: dict[str, Any]) -> None:
    """
    Recompute the derived name fields of a contact after its names changed.

    :param doc: the contact, changed in place.
    """
    first, last = doc.get("firstName") or "", doc.get("lastName") or ""
    full = " ".join(p for p in (first, last) if p)
    doc["name"] = full or None
    doc["firstNameLowerCase"] = first.lower() or None
    doc["lastNameLowerCase"] = last.lower() or None
    doc["fullNameLowerCase"] = full.lower() or None


def dedupe(values: list[Any]) -> list[Any]:
    """
    Return the values without repeats, first occurrence kept.

    :param values: a list.
    """
    return list(dict.fromkeys(values))


class Sandbox:
    """
    Everything the server knows, independent of HTTP.

    :param options: the sandbox's options.
    """

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.location_id = options.location_id
        #: The app's id as the official SDKs derive it: the client id up to its first ``-``.
        self.app_id = options.client_id.split("-", 1)[0]
        self.store = Store(options.db, options.search_lag_ms)
        self.auth = TokenAuthority(options, self.store)
        self.limiter = RateLimiter(options.rate_limit, options.rate_interval, options.daily_limit)
        self.faults = FaultInjector(options.fault_rate, options.fault_kinds, options.random_seed)
        self.stats = Stats()
        #: Sends a signed webhook for each change (set by ``build_sandbox``).
        self.webhooks: WebhookSender | None = None
        self.new_id = IdMaker(options.random_seed * 7919 + now_ms())
        fixed = IdMaker(options.random_seed + 1)
        self.user_ids = [fixed() for _ in range(6)]
        self.campaign_ids = [fixed() for _ in range(3)]
        self.workflow_ids = [fixed() for _ in range(3)]
        self.calendar_ids = [fixed() for _ in range(2)]
        self.business_ids = [fixed() for _ in range(8)]
        if not self.store.custom_fields(self.location_id):
            self.store.put_custom_fields(
                {
                    "id": fixed(),
                    "name": name,
                    "fieldKey": f"contact.{key}",
                    "placeholder": "",
                    "dataType": data_type,
                    "position": 50 * (i + 1),
                    "picklistOptions": options_list or [],
                    "model": "contact",
                    "locationId": self.location_id,
                    "isRequired": False,
                    "dateAdded": iso(now_ms()),
                }
                for i, (name, key, data_type, options_list) in enumerate(CUSTOM_FIELD_DEFS)
            )
        self.custom_fields: list[dict[str, Any]] = []
        self._field_ids: dict[str, str] = {}
        self.reload_custom_fields()
        self.search = SearchCompiler(self._field_ids.get, options.search_window)

    def reload_custom_fields(self) -> None:
        """Read the custom field definitions again (after a create, update or delete)."""
        self.custom_fields = self.store.custom_fields(self.location_id)
        self._field_ids.clear()  # the search compiler holds this dict's lookup
        for f in self.custom_fields:
            self._field_ids[f["id"]] = f["id"]
            self._field_ids[f["fieldKey"]] = f["id"]
            self._field_ids[f["fieldKey"].split(".", 1)[-1]] = f["id"]

    # -- lookups that answer 403/404 like the API ----------------------------------------------------
    def check_location(self, principal_location: str, location_id: Any) -> str:
        """
        Check a ``locationId`` sent by the caller against its token's location.

        :param principal_location: the token's location.
        :param location_id: the ``locationId`` of the request.
        :raises ApiError: 422 when missing, 403 when another location's.
        """
        if not isinstance(location_id, str) or not location_id:
            raise unprocessable("locationId should not be empty", "locationId must be a string")
        if location_id != principal_location:
            raise forbidden_location()
        return location_id

    def contact(self, location_id: str, contact_id: str) -> dict[str, Any]:
        """
        Return a contact of the caller's location.

        :param location_id: the token's location.
        :param contact_id: the id.
        :raises ApiError: 404 when unknown, 403 when of another location.
        """
        doc = self.store.get_contact(contact_id)
        if doc is None:
            raise not_found("Contact")
        if doc["locationId"] != location_id:
            raise forbidden_location()
        return doc

    def child(self, kind: str, contact_id: str, child_id: str, label: str) -> dict[str, Any]:
        """
        Return a task/note of a contact.

        :param kind: ``task`` or ``note``.
        :param contact_id: the contact (already checked).
        :param child_id: the id.
        :param label: name in the 404 message.
        """
        doc = self.store.get_child(kind, child_id)
        if doc is None or doc["contactId"] != contact_id:
            raise not_found(label)
        return doc

    # -- contact writes ---------------------------------------------------------------------------------
    def _custom_fields(self, current: list[dict[str, Any]], items: Any) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            raise unprocessable("customFields must be an array")
        values = {f["id"]: f["value"] for f in current}
        for item in items:
            if not isinstance(item, dict):
                raise unprocessable("each value in customFields must be an object")
            unknown = sorted(set(item) - CUSTOM_FIELD_ITEM_KEYS)
            if unknown:
                # Whitelist validation reaches into the items too (NestJS validates nested DTOs).
                raise unprocessable(*(f"customFields.property {k} should not exist" for k in unknown))
            ref = item.get("id") or item.get("key")
            # Our assumption: the real API's answer to an unknown custom field is undocumented (it may ignore
            # it); the sandbox refuses it with a 422 that names it, so mapping mistakes show up in tests.
            field_id = self._field_ids.get(ref) if isinstance(ref, str) else None
            if field_id is None:
                raise unprocessable(f"customFields: unknown custom field {ref!r} (give a field id or key)")
            value = item["fieldValue"] if "fieldValue" in item else item.get("field_value")
            if value is None or value == "":
                values.pop(field_id, None)
            else:
                values[field_id] = value
        return [{"id": k, "value": v} for k, v in values.items()]

    def apply_fields(self, doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """
        Apply the writable fields of a create/update/upsert body to a contact document.

        :param doc: the contact, changed in place.
        :param body: the validated body.
        """
        for key, value in body.items():
            if key in ("locationId", "createNewIfDuplicateAllowed"):
                continue
            if key == "email":
                if value not in (None, "") and not (isinstance(value, str) and _EMAIL.match(value)):
                    raise unprocessable("email must be an email")
                doc["email"] = value.lower() if value else None
                doc["emailLowerCase"] = doc["email"]
            elif key == "phone":
                doc["phone"] = normalize_phone(value) if value else None
            elif key == "tags":
                doc["tags"] = dedupe([str(t).strip() for t in value or [] if str(t).strip()])
            elif key == "customFields":
                doc["customFields"] = self._custom_fields(doc.get("customFields") or [], value)
            elif key == "dateOfBirth":
                doc["dateOfBirth"] = _parse_dob(value)
            else:
                doc[key] = value
        if {"firstName", "lastName", "name"} & set(body):
            if "name" in body and not ({"firstName", "lastName"} & set(body)) and body["name"]:
                first, _, last = str(body["name"]).partition(" ")
                doc["firstName"], doc["lastName"] = first or None, last or None
            refresh_names(doc)
        return doc

    def duplicate_of(
        self, location_id: str, email: str | None, phone: str | None
    ) -> tuple[dict[str, Any], str] | None:
        """
        Find the contact the location's duplicate rule matches: email first, then phone.

        :param location_id: the location.
        :param email: the email (any case), or None.
        :param phone: the phone (any format), or None.
        :return: (contact, matching field) or None.
        """
        if email:
            found = self.store.find_by(location_id, "email", email.lower())
            if found:
                return found, "email"
        if phone:
            found = self.store.find_by(location_id, "phone", normalize_phone(phone))
            if found:
                return found, "phone"
        return None

    def _refuse_duplicate(self, location_id: str, body: dict[str, Any], own_id: str | None = None) -> None:
        if self.options.allow_duplicates:
            return
        match = self.duplicate_of(location_id, body.get("email"), body.get("phone"))
        if match and match[0]["id"] != own_id:
            other, field = match
            # The real API's answer to a duplicate create (reported in the wild, not in the spec).
            raise ApiError(
                400,
                "This location does not allow duplicated contacts.",
                extra={
                    "meta": {
                        "contactName": other.get("name"),
                        "contactId": other["id"],
                        "matchingField": field,
                    }
                },
            )

    def create_contact(self, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """
        Create a contact.

        :param location_id: the location (already checked).
        :param body: the validated body.
        """
        self._refuse_duplicate(location_id, body)
        doc = self.apply_fields(empty_contact(self.new_id(), location_id, now_ms()), body)
        self.store.put_contacts([doc])
        return doc

    def update_contact(self, doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """
        Update a contact (tags replace the list; custom fields merge by id).

        :param doc: the current contact.
        :param body: the validated body.
        """
        if {"email", "phone"} & set(body):
            self._refuse_duplicate(doc["locationId"], body, own_id=doc["id"])
        self.apply_fields(doc, body)
        return self.touch(doc)

    def touch(self, doc: dict[str, Any]) -> dict[str, Any]:
        """
        Save a changed contact with a new ``dateUpdated`` (strictly later than the previous one).

        :param doc: the contact.
        """
        previous = doc.get("dateUpdated")
        stamp = iso(now_ms())
        doc["dateUpdated"] = stamp if previous is None or stamp > previous else iso(parse_time(previous) + 1)
        self.store.put_contacts([doc])
        return doc

    def upsert_contact(self, location_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """
        Create or update by the duplicate rule (email first, then phone); return (contact, new).

        :param location_id: the location (already checked).
        :param body: the validated body.
        """
        always_new = bool(body.get("createNewIfDuplicateAllowed")) and self.options.allow_duplicates
        match = None if always_new else self.duplicate_of(location_id, body.get("email"), body.get("phone"))
        if match is None:
            doc = self.apply_fields(empty_contact(self.new_id(), location_id, now_ms()), body)
            self.store.put_contacts([doc])
            return doc, True
        doc, field = match
        changes = dict(body)
        if field == "email" and "phone" in changes and changes["phone"]:
            other = self.store.find_by(location_id, "phone", normalize_phone(changes["phone"]))
            if other and other["id"] != doc["id"]:
                # Email matched A and phone matches B: the API updates A and ignores the phone (docs/api-behaviour.md, Upserts).
                changes.pop("phone")
        self.apply_fields(doc, changes)
        return self.touch(doc), False
