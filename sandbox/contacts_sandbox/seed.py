"""Deterministic, realistic seed data: contacts with tags, custom fields, businesses, owners and followers,
plus tasks (open, completed, overdue), notes, appointments and campaign/workflow memberships.

Everything comes from one RNG seeded with ``random_seed``; only the absolute times move with the clock
(contacts are spread over the year before start). 100,000 contacts take a few seconds: documents are built
in plain Python and written in one transaction per table.
"""

from __future__ import annotations

import random
from typing import Any

from .clock import IdMaker, iso, now_ms
from .model import OTHER_LOCATION_ID, Sandbox, empty_contact, refresh_names

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Tim",
    "Frances",
    "Edsger",
    "Hedy",
    "John",
    "Katherine",
    "Donald",
    "Sophie",
    "Lars",
    "Ingrid",
    "Mateo",
    "Aiko",
    "Priya",
    "Omar",
    "Chloe",
    "Lucas",
    "Amara",
    "Noah",
    "Elena",
    "Kofi",
    "Yuki",
    "Olivia",
    "Ravi",
    "Fatima",
    "Hugo",
    "Zoe",
    "Mia",
    "Leo",
    "Nora",
    "Ivan",
    "Sara",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Knuth",
    "Wilson",
    "Nilsen",
    "Berg",
    "Garcia",
    "Tanaka",
    "Sharma",
    "Haddad",
    "Martin",
    "Dubois",
    "Okafor",
    "Smith",
    "Rossi",
    "Mensah",
    "Sato",
    "Brown",
    "Patel",
    "Khan",
    "Schmidt",
    "Moreau",
    "Novak",
    "Silva",
    "Kowalski",
    "Jensen",
    "Murphy",
]
DOMAINS = ("example.com", "example.org", "mail.test", "acme.test", "globex.test")
TAGS = (
    "customer",
    "lead",
    "vip",
    "newsletter",
    "webinar",
    "trial",
    "churn-risk",
    "partner",
    "event-2026",
    "referral",
)
SOURCES = ("website", "import", "facebook", "google ads", "referral", "walk-in", "api")
PLACES = (
    ("US", "New York", "NY", "America/New_York"),
    ("US", "Austin", "TX", "America/Chicago"),
    ("US", "Seattle", "WA", "America/Los_Angeles"),
    ("GB", "London", "", "Europe/London"),
    ("DE", "Berlin", "", "Europe/Berlin"),
    ("FR", "Paris", "", "Europe/Paris"),
    ("CA", "Toronto", "ON", "America/Toronto"),
    ("AU", "Sydney", "NSW", "Australia/Sydney"),
)
COLOURS = ("red", "green", "blue", "yellow")
INTERESTS = ("golf", "sailing", "tennis", "chess")
YEAR_MS = 365 * 86_400_000
DAY_MS = 86_400_000


def _contact(
    sb: Sandbox, rng: random.Random, new_id: IdMaker, i: int, location_id: str, start: int
) -> dict[str, Any]:
    added = start + int(rng.random() * YEAR_MS * 0.97)
    doc = empty_contact(new_id(), location_id, added)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    doc["firstName"], doc["lastName"] = first, last
    refresh_names(doc)
    email = f"{first}.{last}.{i}@{rng.choice(DOMAINS)}".lower().replace("-", "")
    doc["email"] = doc["emailLowerCase"] = email
    doc["phone"] = f"+1{rng.randint(201, 989)}{rng.randint(2000000, 9999999)}"
    country, city, state, tz = rng.choice(PLACES)
    doc.update(country=country, city=city, state=state or None, timezone=tz, source=rng.choice(SOURCES))
    doc["postalCode"] = f"{rng.randint(10000, 99999)}"
    doc["address1"] = f"{rng.randint(1, 999)} {rng.choice(LAST)} Street"
    doc["tags"] = rng.sample(TAGS, rng.choice((0, 1, 1, 2, 2, 3)))
    if rng.random() < 0.5:
        doc["assignedTo"] = rng.choice(sb.user_ids)
    if rng.random() < 0.2:
        doc["businessId"] = rng.choice(sb.business_ids)
        doc["companyName"] = f"{rng.choice(LAST)} {rng.choice(('Ltd', 'Inc', 'GmbH', 'LLC'))}"
    if rng.random() < 0.2:
        doc["followers"] = rng.sample(sb.user_ids, rng.randint(1, 2))
    if rng.random() < 0.05:
        doc["dnd"] = True
    fields = sb.custom_fields
    values = []
    if rng.random() < 0.6:
        values.append({"id": fields[0]["id"], "value": round(rng.random() * 5000, 2)})
    if rng.random() < 0.5:
        values.append({"id": fields[1]["id"], "value": rng.choice(COLOURS)})
    if rng.random() < 0.3:
        values.append({"id": fields[2]["id"], "value": rng.sample(INTERESTS, rng.randint(1, 2))})
    if rng.random() < 0.4:
        values.append({"id": fields[3]["id"], "value": iso(added)[:10]})
    if rng.random() < 0.2:
        values.append({"id": fields[4]["id"], "value": f"REF-{rng.randint(1000, 9999)}"})
    doc["customFields"] = values
    updated = added + int(rng.random() * (start + YEAR_MS - added)) if rng.random() < 0.6 else added
    doc["dateUpdated"] = iso(updated)
    return doc


def _attachments(
    sb: Sandbox, rng: random.Random, new_id: IdMaker, doc: dict[str, Any], now: int, out: dict[str, list]
) -> None:
    cid = doc["id"]
    added = doc["dateAdded"]
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 2)):
            state = rng.random()
            due = now + rng.randint(1, 30) * DAY_MS if state < 0.4 else now - rng.randint(1, 30) * DAY_MS
            out["task"].append(
                {
                    "id": new_id(),
                    "title": rng.choice(
                        ("Call back", "Send proposal", "Follow up", "Book demo", "Check invoice")
                    ),
                    "body": "Seeded task",
                    "assignedTo": rng.choice(sb.user_ids),
                    "dueDate": iso(due),
                    "completed": state >= 0.75,
                    "contactId": cid,
                    "dateAdded": added,
                    "dateUpdated": added,
                }
            )
    if rng.random() < 0.25:
        out["note"].append(
            {
                "id": new_id(),
                "body": rng.choice(
                    ("Met at the fair.", "Prefers email.", "Asked for pricing.", "Happy customer.")
                ),
                "userId": rng.choice(sb.user_ids),
                "dateAdded": added,
                "contactId": cid,
                "title": "Seeded note",
                "color": "#FFAA00",
                "pinned": rng.random() < 0.1,
            }
        )
    if rng.random() < 0.1:
        start = now + rng.randint(-20, 20) * DAY_MS
        out["event"].append(
            event_doc(new_id(), sb, cid, doc["locationId"], start, start + 1_800_000, "Seeded meeting", rng)
        )
    if rng.random() < 0.05:
        ref = rng.choice(sb.campaign_ids)
        out["campaign"].append({"id": f"{cid}:{ref}", "contactId": cid, "campaignId": ref})
    if rng.random() < 0.05:
        ref = rng.choice(sb.workflow_ids)
        out["workflow"].append(
            {"id": f"{cid}:{ref}", "contactId": cid, "workflowId": ref, "eventStartTime": None}
        )


def event_time(ms: int) -> str:
    """
    Format an appointment time as the contact-appointments example does: ``2021-07-16 11:00:00`` (UTC).

    :param ms: epoch ms.
    """
    return iso(ms)[:19].replace("T", " ")


def event_doc(
    event_id: str,
    sb: Sandbox,
    contact_id: str,
    location_id: str,
    start: int,
    end: int,
    title: str,
    rng: random.Random | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """
    Build an appointment (``GetEventSchema``).

    :param event_id: its id.
    :param sb: the sandbox (for calendar and user ids).
    :param contact_id: its contact.
    :param location_id: its location.
    :param start: start, epoch ms.
    :param end: end, epoch ms.
    :param title: its title.
    :param rng: picks the calendar and user; the first ones when None.
    :param fields: other fields (``calendarId``, ``appointmentStatus``, ``notes``, ``address``...).
    """
    pick = rng.choice if rng else (lambda seq: seq[0])
    user = fields.pop("assignedUserId", None) or pick(sb.user_ids)
    status = fields.pop("appointmentStatus", None) or "confirmed"
    stamp = event_time(now_ms())
    return {
        "id": event_id,
        "calendarId": fields.pop("calendarId", None) or pick(sb.calendar_ids),
        "status": "booked",
        "title": title,
        "assignedUserId": user,
        "notes": fields.pop("notes", None) or "",
        "startTime": event_time(start),
        "endTime": event_time(end),
        "address": fields.pop("address", None) or "Zoom",
        "locationId": location_id,
        "contactId": contact_id,
        "groupId": None,
        "appointmentStatus": status,
        "users": [user],
        "dateAdded": stamp,
        "dateUpdated": stamp,
        "assignedResources": [],
        **fields,
    }


def seed(sb: Sandbox, count: int, random_seed: int) -> None:
    """
    Create ``count`` contacts in each installed location (plus 3 in a location without the app) and their
    attachments.

    :param sb: the sandbox.
    :param count: how many contacts.
    :param random_seed: the RNG seed.
    """
    rng = random.Random(random_seed)
    new_id = IdMaker(random_seed + 2)
    now = now_ms()
    start = now - YEAR_MS
    docs = [
        _contact(sb, rng, new_id, n * count + i, location, start)
        for n, location in enumerate(sb.auth.installed)
        for i in range(count)
    ]
    docs += [_contact(sb, rng, new_id, len(docs) + i, OTHER_LOCATION_ID, start) for i in range(3)]
    out: dict[str, list] = {k: [] for k in ("task", "note", "event", "campaign", "workflow")}
    for doc in docs:
        _attachments(sb, rng, new_id, doc, now, out)
    sb.store.put_contacts(docs)
    for kind, items in out.items():
        sb.store.put_children(kind, items)
    sb.store.resync_search()
