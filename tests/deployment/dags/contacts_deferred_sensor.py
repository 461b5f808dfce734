"""
contacts_deferred_sensor (deployment tier only): a deferrable sensor on the OAuth connection.

It waits, in the triggerer, for a contact created after the run started, then reads it back in a task on a
Celery worker, so the token the trigger refreshed and saved must be the one the worker finds.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import dag, task

from airflow_provider_contacts.sensors import ContactChangedSensor


@dag(schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False, tags=["tier"])
def contacts_deferred_sensor() -> None:
    wait = ContactChangedSensor(
        task_id="wait_for_new_contact",
        event="created",
        min_count=1,
        poke_interval=3,
        timeout=200,
        deferrable=True,
    )

    @task
    def read_back(found: dict) -> list[str]:
        from airflow_provider_contacts.hooks.contacts import ContactsHook

        hook = ContactsHook()
        return [hook.get_contact(contact_id)["id"] for contact_id in found["contact_ids"]]

    read_back(wait.output)


contacts_deferred_sensor()
