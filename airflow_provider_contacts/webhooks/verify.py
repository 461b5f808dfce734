"""
Verification of HighLevel webhook deliveries: signatures, timestamp window, event shape.

Pure functions over the raw body and the headers (no Airflow, no I/O), so the receiver plugin, the
standalone forwarder and the tests share one implementation.

- ``x-ghl-signature``: Ed25519 over the raw body, base64; verified with the app's public key (the
  connection extra ``webhook_public_key``).
- ``x-wh-signature`` (legacy, announced for retirement by HighLevel): RSA-SHA256 (PKCS#1 v1.5) over the raw
  body, base64; verified with the public key HighLevel publishes (:data:`HIGHLEVEL_LEGACY_PUBLIC_KEY`).

When the Ed25519 key is configured and the delivery carries ``x-ghl-signature``, only that signature counts
(as HighLevel's SDKs do: no fallback from a bad current signature to the legacy one). The legacy header is
checked only when the keys hold a legacy key, which a receiver gives them only when the connection accepts
legacy deliveries: HighLevel signs every app's deliveries with that one key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from airflow_provider_contacts.coercion import parse_time

#: The RSA key HighLevel publishes for ``x-wh-signature`` (Webhook Authentication guide).
HIGHLEVEL_LEGACY_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""

SIGNATURE_HEADER = "x-ghl-signature"
LEGACY_SIGNATURE_HEADER = "x-wh-signature"
#: Seconds a ``timestamp`` may lie in the past. HighLevel re-sends a delivery answered 429 with its
#: ``timestamp`` unchanged, about 10 minutes apart, up to 6 times: its last retry comes about an hour after
#: the first try. 90 minutes lets every retry through; the replay table remembers ids far longer (2 days).
DEFAULT_MAX_AGE = 5400.0
#: The largest ``webhook_max_age`` allowed: a window covering HighLevel's retries several times over, and
#: far inside the replay table's retention, so that an id accepted in the window is remembered as long as a
#: copy of it could be accepted.
MAX_AGE_LIMIT = 6 * 3600.0
#: How far in the future a ``timestamp`` may be (clock skew between HighLevel and us).
DEFAULT_MAX_SKEW = 60.0

#: Event ``type`` -> asset family. Types not listed (AppInstall, AppUninstall, ...) are acknowledged, not
#: recorded.
FAMILIES: dict[str, str] = {
    **{t: "contacts" for t in ("ContactCreate", "ContactUpdate", "ContactDelete", "ContactTagUpdate")},
    "ContactDndUpdate": "contacts",
    **{t: "tasks" for t in ("TaskCreate", "TaskComplete", "TaskDelete")},
    **{t: "notes" for t in ("NoteCreate", "NoteUpdate", "NoteDelete")},
    **{t: "appointments" for t in ("AppointmentCreate", "AppointmentUpdate", "AppointmentDelete")},
}


class WebhookRefused(Exception):
    """
    A delivery that must not be recorded; ``status`` is the HTTP answer.

    :param status: 400 (not an event), 401 (signature or timestamp), 403 (another location), 408 (the body
        came too slowly), 413 (too large).
    :param reason: short reason, safe to log (never contains the body).
    :param code: one word for the delivery log (``bad_signature``, ``legacy_refused``, ``stale``,
        ``bad_payload``, ``foreign_location``, ``too_large``, ``slow_body``).
    """

    def __init__(self, status: int, reason: str, code: str = "bad_signature") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


def printable(value: object, limit: int = 200) -> str:
    """
    A value from a request, made safe for one log line: control characters escaped, length bounded.

    :param value: the value.
    :param limit: the most characters kept.
    """
    text = str(value).encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "..."


def load_public_key(text: str) -> Ed25519PublicKey | RSAPublicKey:
    """
    Load a public key given as PEM or as the bare base64 of its SubjectPublicKeyInfo (HighLevel's format).

    :param text: the key.
    :raises ValueError: when it is neither, or not an Ed25519/RSA key.
    """
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ValueError("webhook public key is not a PEM or base64 SubjectPublicKeyInfo key") from exc
    if not isinstance(key, Ed25519PublicKey | RSAPublicKey):
        raise ValueError(f"webhook public key has unsupported type {type(key).__name__}")
    return key


@dataclass(frozen=True)
class WebhookKeys:
    """
    The keys a receiver verifies with.

    :param ed25519: the app's Ed25519 key for ``x-ghl-signature`` (None: only the legacy header is checked).
    :param legacy_rsa: the RSA key for ``x-wh-signature`` (None: the legacy header is refused).
    """

    ed25519: Ed25519PublicKey | None
    legacy_rsa: RSAPublicKey | None

    @classmethod
    def from_text(
        cls, ed25519: str | None, legacy_rsa: str | None = HIGHLEVEL_LEGACY_PUBLIC_KEY
    ) -> WebhookKeys:
        """
        Build keys from their text form (PEM or bare base64).

        :param ed25519: the Ed25519 key, or None/empty.
        :param legacy_rsa: the legacy RSA key; HighLevel's published one by default.
        :raises ValueError: a key of the wrong kind or unreadable.
        """
        ed = load_public_key(ed25519) if ed25519 else None
        if ed is not None and not isinstance(ed, Ed25519PublicKey):
            raise ValueError("webhook_public_key must be an Ed25519 key")
        rsa = load_public_key(legacy_rsa) if legacy_rsa else None
        if rsa is not None and not isinstance(rsa, RSAPublicKey):
            raise ValueError("the legacy webhook key must be an RSA key")
        return cls(ed, rsa)


def _signature(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRefused(401, "signature is not base64") from exc


def verify_signature(body: bytes, headers: Mapping[str, str], keys: WebhookKeys) -> str:
    """
    Check the delivery's signature over the raw body; return the header that was verified.

    :param body: the raw request body, exactly as received.
    :param headers: the request headers (lower-case names).
    :param keys: the keys to verify with.
    :raises WebhookRefused: 401 when no usable signature is present or it does not verify.
    """
    current, legacy = headers.get(SIGNATURE_HEADER), headers.get(LEGACY_SIGNATURE_HEADER)
    try:
        if current and keys.ed25519 is not None:
            keys.ed25519.verify(_signature(current), body)
            return SIGNATURE_HEADER
        if legacy and keys.legacy_rsa is not None:
            keys.legacy_rsa.verify(_signature(legacy), body, padding.PKCS1v15(), hashes.SHA256())
            return LEGACY_SIGNATURE_HEADER
    except InvalidSignature as exc:
        raise WebhookRefused(401, "signature does not verify") from exc
    if legacy and not current and keys.ed25519 is not None:
        raise WebhookRefused(
            401, "only a legacy signature, and legacy deliveries are not accepted", "legacy_refused"
        )
    raise WebhookRefused(401, "no verifiable signature header")


@dataclass(frozen=True)
class WebhookEvent:
    """
    A verified delivery, reduced to what is recorded (never the personal data of the body).

    :param type: the event type (``ContactCreate`` ...).
    :param webhook_id: HighLevel's delivery id (the replay key).
    :param location_id: the sub-account, or None (app-level events).
    :param family: asset family (``contacts``, ``tasks``, ``notes``, ``appointments``) or None when the type
        is not handled.
    :param ids: the ids it names: ``contact_id``, ``task_id``, ``note_id``, ``appointment_id``.
    :param timestamp: the delivery's timestamp.
    """

    type: str
    webhook_id: str
    location_id: str | None
    family: str | None
    timestamp: datetime
    ids: dict[str, str] = field(default_factory=dict)

    def extra(self) -> dict[str, Any]:
        """The asset event's ``extra``: type, delivery id, location and the ids."""
        return {"type": self.type, "webhook_id": self.webhook_id, "location_id": self.location_id, **self.ids}

    def describe(self) -> str:
        """One line for logs: type, delivery and ids."""
        ids = " ".join(f"{k}={printable(v)}" for k, v in self.ids.items())
        line = f"{printable(self.type)} webhookId={printable(self.webhook_id)} locationId="
        return f"{line}{printable(self.location_id)} {ids}".strip()


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise WebhookRefused(400, "timestamp is missing", "bad_payload")
    try:
        return parse_time(value)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise WebhookRefused(400, "timestamp is not an ISO 8601 date", "bad_payload") from exc


def _ids(family: str | None, payload: dict[str, Any]) -> dict[str, str]:
    names = {"contacts": "contact_id", "tasks": "task_id", "notes": "note_id"}
    ids: dict[str, str] = {}
    if family == "appointments":
        appointment = payload.get("appointment")
        if not isinstance(appointment, dict):
            raise WebhookRefused(400, "appointment is missing", "bad_payload")
        payload = {"id": appointment.get("id"), "contactId": appointment.get("contactId")}
        names["appointments"] = "appointment_id"
    if family is not None:
        if not isinstance(payload.get("id"), str) or not payload["id"]:
            raise WebhookRefused(400, "id is missing", "bad_payload")
        ids[names[family]] = payload["id"]
        if family != "contacts" and isinstance(payload.get("contactId"), str) and payload["contactId"]:
            ids["contact_id"] = payload["contactId"]
    return ids


def parse_event(body: bytes) -> WebhookEvent:
    """
    Read a verified body as a HighLevel event.

    :param body: the raw body.
    :raises WebhookRefused: 400 when it is not a JSON object with ``type``, ``webhookId``, ``timestamp``,
        and, for a handled type, ``locationId`` and the id.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRefused(400, "body is not JSON", "bad_payload") from exc
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "body is not a JSON object", "bad_payload")
    kind, webhook_id = payload.get("type"), payload.get("webhookId")
    if not isinstance(kind, str) or not kind:
        raise WebhookRefused(400, "type is missing", "bad_payload")
    if not isinstance(webhook_id, str) or not webhook_id or len(webhook_id) > 200:
        raise WebhookRefused(400, "webhookId is missing or longer than 200 characters", "bad_payload")
    family = FAMILIES.get(kind)
    location = payload.get("locationId")
    if family is not None and (not isinstance(location, str) or not location):
        raise WebhookRefused(400, "locationId is missing", "bad_payload")
    return WebhookEvent(
        type=kind,
        webhook_id=webhook_id,
        location_id=location if isinstance(location, str) else None,
        family=family,
        timestamp=_timestamp(payload.get("timestamp")),
        ids=_ids(family, payload),
    )


def check_fresh(
    event: WebhookEvent,
    now: datetime,
    max_age: float = DEFAULT_MAX_AGE,
    max_skew: float = DEFAULT_MAX_SKEW,
) -> None:
    """
    Refuse a delivery whose timestamp is outside the window.

    :param event: the parsed event.
    :param now: the current time (aware).
    :param max_age: seconds a timestamp may lie in the past.
    :param max_skew: seconds it may lie in the future.
    :raises WebhookRefused: 401 (a stale delivery is treated as unauthenticated: it may be a replay).
    """
    age = (now - event.timestamp).total_seconds()
    if age > max_age or age < -max_skew:
        raise WebhookRefused(401, f"timestamp outside the {max_age:g} s window", "stale")
