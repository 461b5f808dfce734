"""Fixtures of the check and trigger tests."""

from __future__ import annotations

import pytest

from .fakes import FakeHook


@pytest.fixture
def fake_hook() -> FakeHook:
    return FakeHook()
