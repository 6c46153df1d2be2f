"""The OpenAPI contract: where the spec file is, and whole-document checks built from its schemas.

Connexion validates each request body against the spec. A patch is validated as a patch, so after
it is applied the resulting document is checked again here against the resource schema
(``TroubleTicket_RES`` …): what the server stores and returns always conforms to the contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match

from troubleticket.api.compiled import acceptor_for
from troubleticket.api.unions import discriminating
from troubleticket.domain.errors import InvalidRequest
from troubleticket.types import JSON

SPEC_NAME = "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
API_ROOT = "/tmf-api/troubleTicket/v5"
# The TMF621 v4 root: the official v4.0.0 contract converted to OpenAPI 3 (openapi/README.md)
V4_SPEC_NAME = "TMF621-TroubleTicket-v4.0.0.oas.yaml"
V4_API_ROOT = "/tmf-api/troubleTicket/v4"


def spec_file(name: str = SPEC_NAME) -> Traversable:
    """A contract shipped with the package (``openapi/`` at the top of the repository)."""
    return resources.files("troubleticket").joinpath("openapi", name)


@cache
def load_spec(name: str = SPEC_NAME) -> dict[str, Any]:
    """A parsed contract (by default the v5 one); parsed once per process."""
    # libyaml's loader parses the 290 KB contract about ten times faster than pure Python.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: dict[str, Any] = yaml.load(spec_file(name).read_text(encoding="utf-8"), Loader=loader)
    return loaded


def describe(error: ValidationError) -> str:
    """A one-line message naming the attribute at fault, e.g. ``… - 'relatedParty.0.role'``."""
    path = ".".join(str(part) for part in error.absolute_path)
    return f"{error.message} - '{path}'" if path else error.message


def document_validator(schema_name: str) -> Callable[[JSON], None]:
    """A check of a whole document against ``components.schemas[schema_name]``.

    The returned callable raises ``InvalidRequest`` naming the first attribute at fault; a document
    the compiled acceptor takes (``compiled``) is not checked again in Python.
    """
    spec = load_spec()
    resource = schema_name.removesuffix("_RES")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validator = discriminating(Draft4Validator)(
        schema, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    accepts = acceptor_for(schema, nullable=False)

    def validate(doc: JSON) -> None:
        if accepts(doc):
            return
        error = best_match(validator.iter_errors(doc))
        if error is not None:
            raise InvalidRequest(f"The {resource} would become invalid: {describe(error)}")

    return validate


def method_table(*served: tuple[str, str]) -> Callable[[str], list[str]]:
    """A lookup from a request path to the methods the contracts served (root, contract file;
    by default the v5 one) offer there (for ``Allow``).

    A trailing slash is accepted as the server accepts it; HEAD comes with GET.
    """
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for root, name in served or ((API_ROOT, SPEC_NAME),):
        routes += _routes(root, load_spec(name))

    def allowed(path: str) -> list[str]:
        for pattern, methods in routes:
            if pattern.match(path):
                return methods
        return []

    return allowed


def _routes(root: str, spec: dict[str, Any]) -> list[tuple[re.Pattern[str], list[str]]]:
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for template, operations in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        methods = sorted(m.upper() for m in operations if m in _HTTP_METHODS)
        if "GET" in methods:
            methods.append("HEAD")
        routes.append((re.compile(f"^{re.escape(root)}{pattern}/?$"), methods))
    return routes


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
