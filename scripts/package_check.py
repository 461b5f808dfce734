"""
The wheel users install, checked the way they install it.

1. ``python -m build`` makes the sdist and the wheel from this repository; ``twine check --strict`` reads them.
2. The wheel is installed without extras into a virtual environment (with the Airflow it requires), cached under
   ``.package-check/`` and keyed by a hash of the Python version and the wheel's dependencies: a later run only
   reinstalls the wheel; a change of dependencies builds a new environment (and removes the old one).
3. ``scripts/package_probe.py`` runs there: it imports every module and uses each optional feature, which must
   fail with an error naming its extra. ``pip check`` must be clean.

Usage: ``python scripts/package_check.py [--report FILE]``. Prints what it found (the wheel's size and files, the
imports, the features' messages). Exit status: 0 all good, 1 a check failed, 3 the environment could not be
built (no package index?): the pytest test skips then, saying why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".package-check"
#: Bump when the way the environment is made changes.
RECIPE = "1"
CANNOT_BUILD = 3

#: What each extra must be named by (the probe's labels are the extras, with a note in brackets).
EXPECTED_EXTRA = {
    "openlineage": "openlineage",
    "reporting": "reporting",
    "reporting (SQLite)": "reporting",
    "mysql": "mysql",
    "redis": "redis",
    "parquet": "parquet",
    "alerts": "alerts",
}


class CannotBuild(RuntimeError):
    """The environment could not be made (the index unreachable, a dependency without a wheel ...)."""


def clean_env(home: Path) -> dict[str, str]:
    """The environment of every command: no PYTHONPATH (it would import this checkout instead of the wheel)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(AIRFLOW_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    return env


def run(cmd: list[str], env: dict[str, str], what: str, cwd: Path | None = None) -> str:
    """Run a command; return its output, or raise naming ``what`` with the output's tail."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{tail}")
    return done.stdout


def build(out: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """Build the sdist and the wheel into ``out``; leave no egg-info behind that was not there."""
    egg_info = REPO / "airflow_provider_contacts.egg-info"
    had_egg_info = egg_info.exists()
    try:
        run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], env, "python -m build")
    finally:
        if not had_egg_info:
            shutil.rmtree(egg_info, ignore_errors=True)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return sdist, wheel


def wheel_metadata(wheel: Path) -> tuple[Any, list[tuple[str, int]]]:
    """The wheel's METADATA and its files with their sizes."""
    with zipfile.ZipFile(wheel) as archive:
        files = [(info.filename, info.file_size) for info in archive.infolist()]
        (meta_name,) = [n for n, _ in files if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(meta_name).decode())
    return metadata, files


def environment_key(metadata: Any) -> str:
    """The cache key: the Python version, the wheel's dependencies without extras, and this recipe."""
    requires = sorted(r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r)
    text = "\n".join([RECIPE, sys.version.split()[0], *requires])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def environment(key: str, wheel: Path, env: dict[str, str]) -> tuple[Path, bool, float]:
    """
    The virtual environment of ``key`` with the wheel installed: made once, then only the wheel reinstalled.

    :return: its python, whether it was made now, and the seconds it took.
    """
    venv = CACHE / f"venv-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    started = time.monotonic()
    if ready.exists():
        run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
            env,
            "reinstalling the wheel",
        )
        return python, False, time.monotonic() - started
    for old in CACHE.glob("venv-*"):  # environments of earlier dependencies, made by this script
        shutil.rmtree(old, ignore_errors=True)
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    try:
        run([sys.executable, "-m", "venv", str(venv)], env, "python -m venv")
        run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], env, "pip install <wheel>")
    except RuntimeError as error:
        shutil.rmtree(venv, ignore_errors=True)
        raise CannotBuild(str(error)) from None
    ready.write_text(key)
    return python, True, time.monotonic() - started


def problems_of(probe: dict[str, Any], pip_check: str) -> list[str]:
    """Every way the installed wheel falls short."""
    problems = [f"import {name}: {error}" for name, error in probe["imports"]["failed"].items()]
    for label, result in probe["features"].items():
        expected = EXPECTED_EXTRA[label]
        if result["installed"]:
            continue  # Airflow itself brought it: the feature may work
        if result["extra"] != expected or f"[{expected}]" not in (result.get("message") or ""):
            problems.append(f"{label}: expected an error naming the extra {expected!r}, got {result}")
    versions = {probe["versions"]["airflow-provider-contacts"], probe["package_version"]}
    versions.update(probe["provider_info_versions"])
    if len(versions) != 1:
        problems.append(f"versions disagree (wheel, __version__, provider info): {sorted(versions)}")
    if "No broken requirements" not in pip_check:
        problems.append(f"pip check: {pip_check.strip()}")
    return problems


def describe(sdist: Path, wheel: Path, files: list[tuple[str, int]], probe: dict[str, Any]) -> list[str]:
    """The report's lines."""
    unpacked = sum(size for _, size in files)
    lines = [
        f"sdist {sdist.name}: {sdist.stat().st_size / 1024:.0f} KiB",
        f"wheel {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB packed, {unpacked / 1024:.0f} KiB "
        f"unpacked, {len(files)} files",
        "  " + ", ".join(sorted({n.split("/")[0] for n, _ in files})),
        f"python {probe['python']}, apache-airflow {probe['versions']['apache-airflow']}, "
        f"version {probe['package_version']} (wheel {probe['versions']['airflow-provider-contacts']}, "
        f"provider info {probe['provider_info_versions']})",
        f"imports without extras: {len(probe['imports']['modules']) - len(probe['imports']['failed'])} of "
        f"{len(probe['imports']['modules'])} modules",
    ]
    lines += [f"  FAILED {name}: {error}" for name, error in probe["imports"]["failed"].items()]
    lines.append("optional features without their extras:")
    for label, result in probe["features"].items():
        said = (
            "installed by Airflow, works"
            if result["installed"]
            else f"{result['error']}: {result.get('message')}"
        )
        lines.append(f"  {label:<19} {result['feature']}: {said}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--report", type=Path, help="also write the findings as JSON to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="package-check-") as tmp:
        env = clean_env(Path(tmp) / "airflow-home")
        started = time.monotonic()
        sdist, wheel = build(Path(tmp) / "dist", env)
        built = time.monotonic() - started
        run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], env, "twine check")
        metadata, files = wheel_metadata(wheel)
        try:
            python, made, seconds = environment(environment_key(metadata), wheel, env)
        except CannotBuild as error:
            print(f"package check: the environment could not be built: {error}", file=sys.stderr)
            return CANNOT_BUILD
        found = Path(tmp) / "probe.json"
        run(
            [str(python), str(REPO / "scripts" / "package_probe.py"), str(found)],
            env,
            "the probe",
            cwd=Path(tmp),
        )
        probe = json.loads(found.read_text())
        done = subprocess.run(
            [str(python), "-m", "pip", "check"], env=env, capture_output=True, text=True, check=False
        )
        pip_check = done.stdout + done.stderr
        problems = problems_of(probe, pip_check)
        lines = describe(sdist, wheel, files, probe)
        lines.append(f"twine check --strict: passed; pip check: {pip_check.strip()}")
        lines.append(
            f"build {built:.0f} s; environment {'made' if made else 'reused (wheel reinstalled)'} in {seconds:.0f} s"
        )
        print("\n".join(lines))
        if args.report:
            args.report.write_text(
                json.dumps({"probe": probe, "files": files, "problems": problems, "made": made}, indent=1)
            )
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
