"""The layers of the package, as rules on what each module imports.

* ``domain`` imports only the standard library, itself, ``types`` and ``context``;
* the core (the use cases in ``services``, ``notify``, ``partners``, ``background``, the store
  port and query language, metrics, logs, the export format) never imports the API, the
  configuration, the composition root or a storage adapter;
* the API never imports the composition root or a storage adapter;
* only ``bootstrap.stores`` picks an adapter (``store.sqlite``, ``store.mongo``); the adapters
  import their own parts and the core they implement.

The composition root (``bootstrap``, ``app``, ``cli``, ``workers``, ``server``, ``admin``,
``tracing``, ``__main__``) may import anything. A module the rules do not place fails the test,
so a new one is placed on purpose.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import troubleticket

PACKAGE = Path(troubleticket.__file__).parent

ROOT = (
    "troubleticket.__main__",
    "troubleticket.app",
    "troubleticket.bootstrap",
    "troubleticket.cli",
    "troubleticket.workers",
    "troubleticket.server",
    "troubleticket.admin",
    # the console composes the runtime's services into pages, as the API's handlers do
    "troubleticket.console",
    "troubleticket.tracing",
)
API = ("troubleticket.api",)
ADAPTERS = (
    "troubleticket.store.sqlite",
    "troubleticket.store.mongo",
    "troubleticket.store.mongo_query",
)
CONFIG = ("troubleticket.config",)
DOMAIN = ("troubleticket.domain",)
# the package's own __init__ (its version) is ground too
GROUND = ("troubleticket.types", "troubleticket.context", "troubleticket.strict_json")
CORE = (
    "troubleticket.services",
    "troubleticket.notify",
    "troubleticket.partners",
    "troubleticket.background",
    "troubleticket.metrics",
    "troubleticket.metrics_scrape",
    "troubleticket.logs",
    "troubleticket.transfer",
    "troubleticket.store.port",
    "troubleticket.store.query",
    "troubleticket.store.cursor",
    "troubleticket.store.jsonpath",
    "troubleticket.store",  # the package itself
)
PICKS_ADAPTERS = ("troubleticket.bootstrap.stores",)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> str:
    if name == "troubleticket":
        return "ground"
    if under(name, PICKS_ADAPTERS) or under(name, ROOT):
        return "root"
    for label, prefixes in (
        ("adapter", ADAPTERS),
        ("api", API),
        ("config", CONFIG),
        ("domain", DOMAIN),
        ("ground", GROUND),
    ):
        if under(name, prefixes):
            return label
    if name in CORE or under(name, CORE[:-1]):
        return "core"
    return "unplaced"


# What each layer may not import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "ground": (*ROOT, *API, *ADAPTERS, *CONFIG, *CORE[:-1]),
    "core": (*ROOT, *API, *ADAPTERS, *CONFIG),
    "config": (*ROOT, *API, *ADAPTERS),
    "api": (*ROOT, *ADAPTERS),
    "adapter": (*ROOT, *API, *CONFIG),
    "domain": (*ROOT, *API, *ADAPTERS, *CONFIG, *CORE[:-1]),
    "root": (),
}


def violations(name: str, imported: set[str]) -> list[str]:
    own = layer(name)
    found = [target for target in imported if under(target, FORBIDDEN[own])]
    if own != "adapter" and not under(name, PICKS_ADAPTERS):
        found += [target for target in imported if under(target, ADAPTERS)]
    if own == "domain":
        found += [
            target
            for target in imported
            if target.split(".")[0] not in sys.stdlib_module_names
            and not under(target, (*DOMAIN, "troubleticket.types", "troubleticket.context"))
        ]
    return sorted(set(found))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_keeps_to_its_layer(name: str) -> None:
    assert layer(name) != "unplaced", f"{name} is in no layer: place it in tests/unit/test_layers"
    assert violations(name, imports(MODULES[name])) == []


@pytest.mark.parametrize(
    ("name", "imported", "broken"),
    [
        ("troubleticket.services.resources", {"troubleticket.api.errors"}, "the API"),
        ("troubleticket.notify.dispatcher", {"troubleticket.config"}, "the configuration"),
        ("troubleticket.services.hubs", {"troubleticket.store.sqlite"}, "an adapter"),
        ("troubleticket.api.resources", {"troubleticket.bootstrap"}, "the composition root"),
        ("troubleticket.app", {"troubleticket.store.mongo"}, "an adapter outside stores"),
        ("troubleticket.domain.sla", {"requests"}, "a library"),
        ("troubleticket.domain.sla", {"troubleticket.services.limits"}, "the core"),
        ("troubleticket.logs", {"troubleticket.api.errors"}, "the API"),
    ],
)
def test_a_bad_import_is_caught(name: str, imported: set[str], broken: str) -> None:
    assert violations(name, imported), f"{name} importing {broken} must break a rule"


def test_the_root_may_import_anything_but_adapters_outside_stores() -> None:
    assert violations("troubleticket.bootstrap", {"troubleticket.api.contract"}) == []
    assert violations("troubleticket.bootstrap.stores", {"troubleticket.store.sqlite"}) == []
