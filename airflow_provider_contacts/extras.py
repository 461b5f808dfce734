"""
The provider's optional dependencies: a feature imports its extra's packages when it is used, never when the
provider is imported, and says which extra to install when they are missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from airflow_provider_contacts.exceptions import ContactsMissingExtraError

DISTRIBUTION = "airflow-provider-contacts"


def missing_extra(feature: str, extra: str, error: ImportError) -> ContactsMissingExtraError:
    """
    Return the error to raise when ``feature`` cannot import a package of its extra.

    :param feature: what the user asked for, as a sentence's subject (``"The dashboard chart"``).
    :param extra: the extra that installs what is missing.
    :param error: the failed import.
    """
    missing = error.name or str(error)
    return ContactsMissingExtraError(
        f"{feature} needs the {extra!r} extra ({missing} is not installed): "
        f"pip install '{DISTRIBUTION}[{extra}]'",
        extra=extra,
    )


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """
    Import ``module`` for ``feature``, or raise an error naming the extra that installs it.

    :param module: the module to import (``"matplotlib"``, ``"mysql.connector"``).
    :param extra: the provider's extra that installs it.
    :param feature: what needs it, as a sentence's subject.
    :raises ContactsMissingExtraError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise missing_extra(feature, extra, error) from None
