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


def spec_file() -> Traversable:
    """The contract shipped with the package (``openapi/`` at the top of the repository)."""
    return resources.files("troubleticket").joinpath("openapi", SPEC_NAME)


@cache
def load_spec() -> dict[str, Any]:
    """The parsed contract; parsed once per process."""
    # libyaml's loader parses the 290 KB contract about ten times faster than pure Python.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: dict[str, Any] = yaml.load(spec_file().read_text(encoding="utf-8"), Loader=loader)
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


def method_table() -> Callable[[str], list[str]]:
    """A lookup from a request path to the methods the contract offers there (for ``Allow``).

    A trailing slash is accepted as the server accepts it; HEAD comes with GET.
    """
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for template, operations in load_spec()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        methods = sorted(m.upper() for m in operations if m in _HTTP_METHODS)
        if "GET" in methods:
            methods.append("HEAD")
        routes.append((re.compile(f"^{re.escape(API_ROOT)}{pattern}/?$"), methods))

    def allowed(path: str) -> list[str]:
        for pattern, methods in routes:
            if pattern.match(path):
                return methods
        return []

    return allowed


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
