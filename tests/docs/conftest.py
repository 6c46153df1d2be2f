"""Reporting for the documents' examples: how many ran, in how many documents, which were skipped
and why (a skipped example is one that can drift, so the reasons are shown every run)."""

from __future__ import annotations

import pytest

from tests.docs.runner import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.documents or TALLY.skipped:
        for line in TALLY.summary():
            terminalreporter.write_line(line)
