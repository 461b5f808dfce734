"""
The integration's health at a glance, read for the operations view (``plugins.operations``).

Each module reads one kind of fact and changes nothing: ``tokens`` (the token stores' state and their refresh
counters, which the token providers keep through :func:`~.tokens.count_refresh`), ``budget`` (the rate
budget in Redis or in this process), ``runs`` (the syncs' and transfers' reports), ``deliveries`` (webhook
outcomes), ``watchers`` (the asset watchers' watermarks); ``status`` puts them together per connection.
"""
