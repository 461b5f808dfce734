"""
Reporting on a Contacts location: metrics per run, the reporting tables, ``Stats`` gauges and a dashboard.

One module per job: ``metrics`` (figures from the hook, with a bounded API cost), ``tables`` (portable SQL
tables through any ``DbApiHook``), ``sql`` (the hook of the reporting connection), ``gauges`` (Airflow
``Stats``), ``chart`` (PNG), ``page`` (static HTML) and ``dashboard`` (both). Importing this package imports
neither matplotlib nor a database driver; import the modules you use.
"""

from __future__ import annotations
