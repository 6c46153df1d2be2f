"""The domain package stays pure: standard library imports only, and it never reads the clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import troubleticket.domain

DOMAIN_DIR = Path(troubleticket.domain.__file__).parent
DOMAIN_MODULES = sorted(DOMAIN_DIR.glob("*.py"))

CLOCK_READS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns", "monotonic", "perf_counter"},
}


def imported_modules(tree: ast.AST) -> list[str]:
    """Absolute names of everything a module imports; relative imports count as the domain."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.append("troubleticket.domain" if node.level else (node.module or ""))
    return names


def is_allowed_import(name: str) -> bool:
    top = name.split(".", 1)[0]
    return (
        top in sys.stdlib_module_names
        or name == "troubleticket.domain"
        or name.startswith("troubleticket.domain.")
        or name in ("troubleticket.types", "troubleticket.context")
    )


def clock_reads(tree: ast.AST) -> list[str]:
    """Calls such as ``datetime.now()``, ``datetime.datetime.utcnow()`` or ``time.time()``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner_name = (
            owner.id
            if isinstance(owner, ast.Name)
            else owner.attr
            if isinstance(owner, ast.Attribute)
            else None
        )
        if owner_name in CLOCK_READS and node.func.attr in CLOCK_READS[owner_name]:
            found.append(f"line {node.lineno}: {owner_name}.{node.func.attr}()")
    return found


def test_the_domain_package_has_the_modules_we_expect_to_check() -> None:
    names = {path.stem for path in DOMAIN_MODULES}
    assert {"documents", "errors", "lifecycle", "specification", "ticket"} <= names


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_stdlib_and_the_domain(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    foreign = [name for name in imported_modules(tree) if not is_allowed_import(name)]
    assert foreign == []


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=lambda p: p.name)
def test_a_domain_module_never_reads_the_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert clock_reads(tree) == []


class TestTheCheckersThemselves:
    """The checks above would be worthless if they could not spot a violation."""

    @pytest.mark.parametrize(
        "source",
        [
            "import requests",
            "from connexion import App",
            "from troubleticket.store.port import Store",
            "import troubleticket.api.errors",
        ],
    )
    def test_a_foreign_import_is_spotted(self, source: str) -> None:
        names = imported_modules(ast.parse(source))
        assert names
        assert not all(is_allowed_import(name) for name in names)

    @pytest.mark.parametrize(
        "source",
        [
            "from __future__ import annotations",
            "from datetime import UTC, datetime",
            "from collections.abc import Mapping",
            "from troubleticket.domain.errors import InvalidRequest",
            "from troubleticket.types import JSON",
            "from .errors import InvalidRequest",
        ],
    )
    def test_an_allowed_import_passes(self, source: str) -> None:
        assert all(is_allowed_import(name) for name in imported_modules(ast.parse(source)))

    @pytest.mark.parametrize(
        "source",
        [
            "datetime.now(UTC)",
            "datetime.datetime.utcnow()",
            "time.time()",
            "x = date.today()",
        ],
    )
    def test_a_clock_read_is_spotted(self, source: str) -> None:
        assert len(clock_reads(ast.parse(source))) == 1

    def test_other_datetime_calls_pass(self) -> None:
        assert clock_reads(ast.parse("now.astimezone(UTC).isoformat()")) == []
