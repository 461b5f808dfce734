"""Helpers of the example DAGs (settings, the stand-in phone system, reports); no DAG is defined here."""
