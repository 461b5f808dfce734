"""``airflow_provider_contacts.sandbox``: the documented path to the sandbox, which ships as its own distribution."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import contacts_sandbox

SHIM = "airflow_provider_contacts.sandbox"


def test_the_documented_path_re_exports_the_sandbox_distribution():
    from airflow_provider_contacts import sandbox

    assert sandbox.running_sandbox is contacts_sandbox.running_sandbox
    assert sandbox.SandboxHandle is contacts_sandbox.SandboxHandle
    assert sandbox.SandboxOptions is contacts_sandbox.SandboxOptions
    assert sandbox.FAULT_KINDS is contacts_sandbox.FAULT_KINDS
    assert set(sandbox.__all__) == set(contacts_sandbox.__all__)


def test_without_the_sandbox_installed_the_import_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    # A None entry in sys.modules makes `import contacts_sandbox` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "contacts_sandbox", None)
    monkeypatch.delitem(sys.modules, SHIM, raising=False)
    module = importlib.import_module(SHIM)  # importing the module works, like every module of the provider
    with pytest.raises(ImportError) as raised:
        module.running_sandbox  # noqa: B018
    message = str(raised.value)
    assert "airflow-provider-contacts-sandbox" in message
    assert "pip install ./sandbox" in message
    assert not isinstance(raised.value, ModuleNotFoundError)  # the module exists; what it needs does not
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_a_dependency_missing_inside_the_sandbox_is_not_blamed_on_the_sandbox():
    """An installed sandbox without uvicorn must say uvicorn, not "install the sandbox"."""
    code = (
        "import sys\n"
        "sys.modules['uvicorn'] = None\n"
        "try:\n"
        f"    from {SHIM} import running_sandbox\n"
        "except ModuleNotFoundError as err:\n"
        "    print('missing', err.name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "missing uvicorn"
