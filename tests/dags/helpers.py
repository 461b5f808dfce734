"""Helpers shared by the DAG tests."""

from __future__ import annotations

from typing import Any


def xcom_value(run: Any, task_id: str) -> Any:
    """
    The return value a task of a ``dag.test()`` run pushed to XCom.

    :param run: the DAG run.
    :param task_id: the task.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).one()
        return XComModel.deserialize_value(row)
