"""Reporting for the contract tests: how many generated cases ran, over how many operations."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Read from the module only if it ran: importing it here, when pytest loads this conftest
    # before collection (``pytest tests/api``), would build its schemas too early.
    contract = sys.modules.get("tests.api.test_openapi_contract")
    cases = getattr(contract, "CASES", None)
    if cases:
        terminalreporter.write_line(
            f"schemathesis: {len(cases)} generated requests over {len(set(cases))} operations"
        )
