"""
The token refresh lock lives where only the Airflow user can write (issue 22, item 4): not under a predictable
name in the shared temporary directory, where another local user could hold it first or plant a symlink.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from airflow_provider_contacts.auth import VariableTokenStore
from airflow_provider_contacts.exceptions import ContactsAuthError

REPO = Path(__file__).resolve().parents[2]
#: The first filelock release whose lock files refuse to follow a symlink on both of its lock kinds.
NOFOLLOW_FILELOCK = Version("3.20.3")


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of this test's own, standing in for the host's shared one."""
    root = tmp_path / "tmp"
    root.mkdir()
    root.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _lock_path(store: VariableTokenStore) -> Path:
    return Path(store._lock.lock_file)


def test_the_lock_is_in_a_private_directory_of_the_user(temp_root: Path) -> None:
    store = VariableTokenStore("contacts_token__lockdir")
    with store.lock():
        lock = _lock_path(store)
        directory = lock.parent
        assert directory != temp_root and directory.parent == temp_root
        info = os.lstat(directory)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert lock.exists()


def test_a_symlinked_lock_directory_is_refused(temp_root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    store = VariableTokenStore("contacts_token__symlinked")
    _lock_path(store).parent.symlink_to(elsewhere)
    with pytest.raises(ContactsAuthError, match="is a symbolic link") as caught, store.lock():
        pass
    assert str(_lock_path(store).parent) in str(caught.value)
    assert list(elsewhere.iterdir()) == [], "nothing was created through the link"


def test_a_lock_directory_others_may_write_is_refused(temp_root: Path) -> None:
    store = VariableTokenStore("contacts_token__open")
    directory = _lock_path(store).parent
    directory.mkdir(exist_ok=True)
    directory.chmod(0o777)
    with pytest.raises(ContactsAuthError, match=r"mode 0o777.*only its owner"), store.lock():
        pass


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a directory to another user")
def test_a_lock_directory_of_another_user_is_refused(temp_root: Path) -> None:
    store = VariableTokenStore("contacts_token__foreign")
    directory = _lock_path(store).parent
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chown(directory, 65534, 65534)
    with pytest.raises(ContactsAuthError, match="belongs to uid 65534"), store.lock():
        pass


def test_a_symlink_planted_at_the_lock_file_is_not_followed(temp_root: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    store = VariableTokenStore("contacts_token__planted")
    lock = _lock_path(store)
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.symlink_to(victim)
    with pytest.raises(OSError, match=r"symbolic link|ELOOP|Too many levels"), store.lock():
        pass
    assert victim.read_text() == "keep me"


def test_the_filelock_floor_refuses_symlinks() -> None:
    (spec,) = re.findall(r'^\s*"filelock([^"]*)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    floor = SpecifierSet(spec)
    assert not floor.contains(Version("3.20.2")), f"filelock{spec} admits a filelock that follows symlinks"
    assert floor.contains(NOFOLLOW_FILELOCK)
    assert Version(version("filelock")) >= NOFOLLOW_FILELOCK
