"""What the schemathesis tests of the served contracts (v5 and v4) share: the rules that refuse
a schema-valid request, how a failure is explained by one, and the rules' table in
openapi/README.md."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemathesis.errors import FailureGroup

README = Path(__file__).parents[2] / "openapi" / "README.md"


@dataclass(frozen=True)
class Rule:
    """A refusal of a schema-valid request: its TMF Error code and a part of its message."""

    code: str
    says: str
    why: str

    def covers(self, body: Any) -> bool:
        return (
            isinstance(body, dict)
            and body.get("code") == self.code
            and self.says in str(body.get("message", ""))
        )


def unexplained(group: FailureGroup, response: Any, rules: Sequence[Rule]) -> list[str]:
    """The failures no rule explains: any but a refusal of positive data, or one none covers."""
    found = []
    for failure in group.exceptions:
        if getattr(failure, "code", None) != "ST202":
            found.append(str(failure))
            continue
        try:
            body = response.json() if response is not None else {}
        except ValueError:
            body = {}
        if not any(rule.covers(body) for rule in rules):
            found.append(f"{failure}: {body}")
    return found


def documented(heading: str) -> set[tuple[str, str]]:
    """The (code, message part) rows of the table under ``heading`` in openapi/README.md, up to
    the next heading of any level."""
    text = README.read_text(encoding="utf-8")
    parts = text.split(heading + "\n", 1)
    assert len(parts) == 2, f"openapi/README.md has no section {heading!r}"
    own = re.split(r"^#{2,3} ", parts[1], maxsplit=1, flags=re.M)[0]
    return set(re.findall(r"^\| `([A-Za-z]+)` \| `([^`]+)` \|", own, re.M))
