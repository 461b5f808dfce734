"""
The integration's health at a glance, read for the operations view (``plugins.operations``).

Each module reads one kind of fact and changes nothing: ``tokens`` (the token stores' state and their refresh
counters, which the token providers keep through :func:`airflow_provider_contacts.auth.count_refresh`),
``budget`` (the rate budget in Redis or in this process), ``runs`` (the syncs' and transfers' reports),
``watchers`` (the asset watchers' watermarks); the webhook outcomes come from the receiver's own readers
(:func:`airflow_provider_contacts.webhooks.store.delivery_counts` and
:func:`airflow_provider_contacts.webhooks.store.recent_deliveries`); ``status`` puts them together per
connection.
"""
