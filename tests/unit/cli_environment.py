"""What the command-line tests share: no ``TT_*`` variable of the machine running them, and the
logging set-up of the test session left as it was."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from troubleticket import logs


@pytest.fixture(autouse=True)
def no_tt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test's flags and variables alone."""
    for name in list(os.environ):
        if name.startswith("TT_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def logging_as_found() -> Iterator[None]:
    """The root logger's handlers and level, and the access log's direct writer, as before.

    ``main`` sets logging up (``logs.configure``): a handler on the root logger, writing to the
    stderr of that moment, which is the test's capture and is closed after it. Left in place,
    every later test would log into a closed file.
    """
    root = logging.getLogger()
    handlers, level, direct = list(root.handlers), root.level, logs._direct
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logs._direct = direct
