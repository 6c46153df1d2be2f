"""Reading a policy file: every problem collected with the path of its key, none stopping the
reading of the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from troubleticket.domain.durations import parse_duration

STATUSES = frozenset(
    {"acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled"}
)


class PolicyError(ValueError):
    """The policy cannot be used; ``problems`` lists each, as ``path: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid policy:\n  " + "\n  ".join(problems))
        self.problems = problems


class Reader:
    """Reads a mapping, collecting problems with their key paths instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, known: frozenset[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, "expected a mapping")
            return {}
        for key in value:
            if key not in known:
                self.problem(
                    f"{path}.{key}", f"unknown key (expected one of {', '.join(sorted(known))})"
                )
        return value

    def duration(self, value: Any, path: str) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            self.problem(
                path, f"{value!r} is not a positive duration (e.g. 90s, 15m, 4h, 1d, PT4H)"
            )
            return 1.0
        return seconds

    def share(self, value: Any, path: str, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 10:
            self.problem(path, f"{value!r} is not a share of the target such as 0.75 or 1.0")
            return default
        return float(value)

    def statuses(self, value: Any, path: str, default: frozenset[str]) -> frozenset[str]:
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, "expected a list of statuses")
            return default
        for status in value:
            if status not in STATUSES:
                self.problem(path, f"unknown status {status!r}")
        return frozenset(value)
