"""The agency operator's public names."""

from __future__ import annotations

import airflow_provider_contacts.operators as operators
from airflow_provider_contacts.operators import agency


def test_every_operator_is_importable_from_the_operators_package():
    assert operators.InstalledLocationsOperator is agency.InstalledLocationsOperator
    assert operators.installed_location_ids is agency.installed_location_ids
    assert {"InstalledLocationsOperator", "installed_location_ids"} <= set(operators.__all__)


def test_the_rate_limit_shim_is_gone():
    import importlib.util

    assert importlib.util.find_spec("airflow_provider_contacts.hooks.rate_limit") is None
