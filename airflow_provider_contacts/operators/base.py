"""The base of every Contacts operator: the connection id, the hook, and the one way an action calls it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_contacts.coercion import to_bool
from airflow_provider_contacts.hooks.contacts import ContactsHook
from airflow_provider_contacts.links import HighLevelContactLink, link_contact

if TYPE_CHECKING:
    from airflow.sdk import Context

# Operator attributes whose hook parameter has another name: ``task_id`` is Airflow's own.
HOOK_PARAMETER_NAMES: dict[str, str] = {"contact_task_id": "task_id"}
# Flags among the forwarded parameters; a Jinja-rendered value of one is text.
BOOLEAN_PARAMETERS = frozenset({"completed", "remove_all"})


class BaseContactsOperator(BaseOperator):
    """
    Base class of the Contacts operators.

    The hook is created the first time ``execute`` needs it, never when the DAG is parsed, so a DAG file that
    uses these operators reads no connection and sends no request at parse time.

    A single-action operator is declarative: it names its hook method in ``hook_method`` and the attributes
    it forwards in ``hook_params`` (each named like the hook method's parameter; ``contact_task_id`` is passed
    as ``task_id``). Every forwarded attribute is a template field unless the class says otherwise, so Jinja,
    ``XComArg`` values and dynamic task mapping work for all of them. ``execute`` returns what the hook
    returns: the API's inner object (the contact, task, note ...), which goes to XCom.

    :param contacts_conn_id: the Contacts connection to use (conn type ``contacts``).
    :param location_id: the location (sub-account) to act on, templated; default: the connection's. With an
        agency connection any location where the app is installed (map over
        :class:`~airflow_provider_contacts.operators.agency.InstalledLocationsOperator`'s result).
    """

    hook_method: ClassVar[str] = ""
    hook_params: ClassVar[tuple[str, ...]] = ()
    template_fields: Sequence[str] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "fields": "json",
        "field_mapping": "json",
        "task_template": "json",
    }
    ui_color = "#e8f4fd"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.hook_params and "template_fields" not in cls.__dict__:
            cls.template_fields = tuple(name.lstrip("*") for name in cls.hook_params)
        if "location_id" not in cls.template_fields:
            cls.template_fields = (*cls.template_fields, "location_id")

    def __init__(
        self,
        *,
        contacts_conn_id: str = ContactsHook.default_conn_name,
        location_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contacts_conn_id = contacts_conn_id
        self.location_id = location_id

    @cached_property
    def hook(self) -> ContactsHook:
        """The hook of this task's connection and location; made on first use, at execute time."""
        return ContactsHook(contacts_conn_id=self.contacts_conn_id, location_id=self.location_id or None)

    def hook_arguments(self) -> dict[str, Any]:
        """
        The keyword arguments of the hook call: each forwarded attribute under its hook parameter name.

        A name written ``"**name"`` in ``hook_params`` forwards the attribute ``name`` (a dict, or None) as
        keyword arguments, for hook methods that take ``**fields``.
        """
        arguments: dict[str, Any] = {}
        for name in self.hook_params:
            if name.startswith("**"):
                arguments.update(getattr(self, name[2:]) or {})
            else:
                arguments[HOOK_PARAMETER_NAMES.get(name, name)] = _typed(
                    name, getattr(self, name), self.task_id
                )
        return arguments

    def execute(self, context: Context) -> Any:
        if not self.hook_method:
            raise NotImplementedError(f"{type(self).__name__} must set hook_method or override execute")
        arguments = self.hook_arguments()
        ids = {name: value for name, value in arguments.items() if name.endswith("_id") and value is not None}
        self.log.info("Calling ContactsHook.%s(%s)", self.hook_method, _describe(ids))
        return getattr(self.hook, self.hook_method)(**arguments)


class ContactOperator(BaseContactsOperator):
    """
    An operator that acts on one contact: its task instance links to the contact in the HighLevel app (the
    "HighLevel contact" extra link).

    The contact is the ``contact_id`` argument, or the one the call returned (:meth:`returned_contact_id`).
    """

    operator_extra_links = (HighLevelContactLink(),)

    def returned_contact_id(self, result: Any) -> str | None:
        """
        The id of the contact a call returned, for operators that have no ``contact_id`` argument.

        :param result: what the hook method returned.
        """
        return None

    def execute(self, context: Context) -> Any:
        contact_id = getattr(self, "contact_id", None)
        if contact_id:  # known before the call: the link is there even when the call fails
            link_contact(self, self.hook.location_id, contact_id)
        result = super().execute(context)
        if not contact_id:
            link_contact(self, self.hook.location_id, self.returned_contact_id(result))
        return result


def _typed(name: str, value: Any, task_id: str) -> Any:
    """A flag rendered from a template arrives as text ("False" would be true): read it as a boolean."""
    if name in BOOLEAN_PARAMETERS and value is not None:  # None: leave the field as it is
        return to_bool(value, name, owner=f"task {task_id!r}")
    return value


def _describe(ids: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in ids.items())
