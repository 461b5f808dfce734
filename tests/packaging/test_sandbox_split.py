"""The two wheels: the provider's carries no sandbox; the sandbox's carries the server, its specs and command."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytest.importorskip("build", reason="build is a dev dependency")

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ROOT = REPO_ROOT / "sandbox"


def build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    """
    Build ``project``'s wheel the way a release is built: an sdist, then the wheel from the unpacked sdist.

    Building from the sdist keeps a stale ``build/`` folder of the working tree out of the wheel.

    :param project: the folder holding the ``pyproject.toml``.
    :param out: where the sdist and the wheel go.
    """
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(project)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def requirements(wheel: zipfile.ZipFile) -> list[Requirement]:
    metadata = HeaderParser().parsestr(dist_info(wheel, "METADATA"))
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


@pytest.fixture(scope="module")
def provider_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return build_wheel(REPO_ROOT, tmp_path_factory.mktemp("provider"))


@pytest.fixture(scope="module")
def sandbox_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return build_wheel(SANDBOX_ROOT, tmp_path_factory.mktemp("sandbox"))


def test_the_provider_wheel_carries_neither_the_server_nor_the_specs(provider_wheel: zipfile.ZipFile):
    names = provider_wheel.namelist()
    package = [n for n in names if not n.split("/")[0].endswith(".dist-info")]
    assert "airflow_provider_contacts/hooks/contacts.py" in package  # the provider itself is there
    assert [n for n in package if "sandbox" in n] == ["airflow_provider_contacts/sandbox.py"]  # the re-export
    assert [n for n in package if n.endswith(".json")] == []
    assert not any(n.startswith("contacts_sandbox/") for n in names)
    assert "console_scripts" not in dist_info(provider_wheel, "entry_points.txt")
    requires = requirements(provider_wheel)
    assert "uvicorn" not in {r.name for r in requires}
    # The sandbox is a development dependency only.
    on_sandbox = [r for r in requires if r.name == "airflow-provider-contacts-sandbox"]
    assert on_sandbox and all(r.marker is not None and "dev" in str(r.marker) for r in on_sandbox)


def test_the_sandbox_wheel_carries_every_module_and_spec_and_the_command(sandbox_wheel: zipfile.ZipFile):
    package_dir = SANDBOX_ROOT / "contacts_sandbox"
    expected = {
        str(p.relative_to(SANDBOX_ROOT))
        for pattern in ("**/*.py", "**/*.json", "py.typed")
        for p in package_dir.glob(pattern)
        if "__pycache__" not in p.parts
    }
    assert len([n for n in expected if n.endswith(".json")]) >= 6  # the specs are there to compare against
    assert expected <= set(sandbox_wheel.namelist())
    entry_points = dist_info(sandbox_wheel, "entry_points.txt")
    assert "contacts-sandbox = contacts_sandbox.__main__:main" in entry_points
    names = {r.name for r in requirements(sandbox_wheel)}
    assert {"fastapi", "uvicorn"} <= names
    # It stands alone: neither Airflow nor the provider.
    assert not any(n.startswith(("apache-airflow", "airflow-provider-contacts")) for n in names)


def test_the_sandbox_imports_neither_the_provider_nor_airflow():
    imported = set()
    for path in (SANDBOX_ROOT / "contacts_sandbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {(path.name, alias.name.split(".")[0]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add((path.name, node.module.split(".")[0]))
    assert {"fastapi", "uvicorn"} <= {module for _, module in imported}  # the walk sees imports
    assert [(f, m) for f, m in imported if m in ("airflow", "airflow_provider_contacts")] == []
