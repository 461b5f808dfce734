"""
The location's users, businesses and workflows, read through ``ContactsHook.request`` (not a DAG).

The Contacts API refers to them by id only (a task's ``assignedTo``, a contact's ``businessId``, a workflow
membership); these helpers turn the names a source system knows (an agent's e-mail, a company name) into
those ids. Each costs one request per run. The app needs the scopes ``users.readonly``,
``businesses.readonly`` / ``businesses.write`` and ``workflows.readonly`` besides the Contacts ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PAGE = 100


def _location(hook: Any) -> dict[str, str]:
    return {"locationId": hook.location_id}


class Agents:
    """
    The location's users by e-mail and by id: ``GET /users/``.

    :param hook: a ``ContactsHook``.
    """

    def __init__(self, hook: Any) -> None:
        users = hook.request("GET", "/users/", params=_location(hook)).get("users") or []
        self.id_by_email = {(u.get("email") or "").lower(): u["id"] for u in users if u.get("email")}
        self.email_by_id = {u["id"]: (u.get("email") or "").lower() or None for u in users}

    def user_id(self, email: str | None) -> str | None:
        """
        The user id of an agent's e-mail (None for no e-mail).

        :param email: the agent's e-mail.
        :raises ValueError: no user of the location has that e-mail.
        """
        if not email:
            return None
        try:
            return self.id_by_email[email.lower()]
        except KeyError:
            raise ValueError(f"assigned_to: no user of the location has the e-mail {email!r}") from None

    def email(self, user_id: str | None) -> str | None:
        """
        The e-mail of a user id (None for none or an unknown user).

        :param user_id: the user's id.
        """
        return self.email_by_id.get(user_id) if user_id else None


def workflow_ids(hook: Any) -> list[str]:
    """
    The ids of the location's workflows: ``GET /workflows/``.

    :param hook: a ``ContactsHook``.
    """
    return [
        w["id"] for w in hook.request("GET", "/workflows/", params=_location(hook)).get("workflows") or []
    ]


def business_ids(hook: Any, names: Iterable[str], *, create: bool = True) -> dict[str, str]:
    """
    The business id of each company name (matched without regard to case), creating the missing ones.

    :param hook: a ``ContactsHook``.
    :param names: company names as the source system writes them.
    :param create: create a business the location does not have (``POST /businesses/``); else leave it out.
    """
    wanted = {name.strip() for name in names if name and name.strip()}
    if not wanted:
        return {}
    found: dict[str, str] = {}
    by_name: dict[str, str] = {}
    skip = 0
    while True:  # pages of 100 (the spec's default), until a short page
        params = {**_location(hook), "limit": PAGE, "skip": skip}
        page = hook.request("GET", "/businesses/", params=params).get("businesses") or []
        by_name.update({(b.get("name") or "").strip().lower(): b["id"] for b in page})
        if len(page) < PAGE:
            break
        skip += PAGE
    for name in sorted(wanted):
        if name.lower() in by_name:
            found[name] = by_name[name.lower()]
        elif create:
            answer = hook.request("POST", "/businesses/", json={"name": name, **_location(hook)})
            # The spec spells the created object ``buiseness``; accept the correct spelling too.
            business = answer.get("buiseness") or answer.get("business") or {}
            found[name] = business["id"]
    return found
