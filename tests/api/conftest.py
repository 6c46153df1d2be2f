"""Reporting for the contract tests: how many generated cases ran, over how many operations."""

from __future__ import annotations

import pytest

from tests.api.test_openapi_contract import CASES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        terminalreporter.write_line(
            f"schemathesis: {len(CASES)} generated requests over {len(set(CASES))} operations"
        )
