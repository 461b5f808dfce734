"""DAG files for operator tests run with ``dag.test()`` (a DAG run needs its DAG in a bundle)."""
