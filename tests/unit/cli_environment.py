"""What the command-line tests share: no ``TT_*`` variable of the machine running them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def no_tt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test's flags and variables alone."""
    for name in list(os.environ):
        if name.startswith("TT_"):
            monkeypatch.delenv(name)
