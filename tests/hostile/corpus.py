"""The hostile-input corpus: crafted requests kept as YAML files in ``corpus/``, one per class.

Each file is a list of cases; a case is a mapping of::

    name:       what the case sends (unique in its file)
    method:     GET, POST, PATCH, DELETE …
    path:       below the API root; sent as written (percent escapes included) after the
                placeholders are filled in: {ticket} {alpha_ticket} {activity} {hub}
    root:       optional: v5 (the default) or v4, the API root the path is below
    query:      optional mapping of parameter → value, percent-encoded when sent; a value may be
                {b64url: <text>} (base64url of the UTF-8 text, without padding, as the server
                writes its paging cursors), {b64url_parts: [[<text>, <times>], …]} (the same
                of the texts repeated and joined) or {repeat: [<text>, <times>]}
    headers:    optional; a header given as null is not sent. A case with a body and no
                Content-Type here is sent with Content-Type: application/json.
    one body:   json: <any JSON>           sent as compact JSON
                raw: <text>                sent as its UTF-8 bytes (YAML double quotes allow
                                           \\u escapes; a lone surrogate becomes the bytes
                                           UTF-8 would give it, which are not valid UTF-8)
                raw_b64: <base64>          sent as the decoded bytes
                raw_parts: [[<text>, <times>], …]  the texts repeated and joined, e.g. a
                                           document nested 5,000 deep
    as:         anonymous | operator | alpha | beta (default operator; with TT_AUTH=none
                every request goes without a token)
    modes:      optional list of the auth modes to run in: none, jwt (default both)
    expect:     a status or a list of statuses
    code:       optional TMF Error code, or a list of acceptable codes
    within_s:   optional: the answer must come within this many seconds
    rss_growth_mb:  optional: the server's RSS may grow at most this much over the case
    log_must_not_start_with:  optional list: no line of the server's log may begin so
    absent_after:   optional {path: …, attributes: […]}: a GET of path (below the v5 root, as
                the same caller) afterwards shows none of the attributes

Placeholders are filled in the path, in header values, in raw text and in every string of a
json body.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CORPUS_DIR = Path(__file__).parent / "corpus"
ROOTS = {"v5": "/tmf-api/troubleTicket/v5", "v4": "/tmf-api/troubleTicket/v4"}
MODES = ("none", "jwt")
IDENTITIES = ("anonymous", "operator", "alpha", "beta")
PLACEHOLDERS = ("ticket", "alpha_ticket", "activity", "hub")
_KEYS = {
    "name",
    "method",
    "path",
    "root",
    "query",
    "headers",
    "json",
    "raw",
    "raw_b64",
    "raw_parts",
    "as",
    "modes",
    "expect",
    "code",
    "within_s",
    "rss_growth_mb",
    "log_must_not_start_with",
    "absent_after",
}
_BODIES = ("json", "raw", "raw_b64", "raw_parts")


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class Absent:
    path: str
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    source: str  # the file's stem
    name: str
    method: str
    path: str
    root: str  # the API root path, e.g. /tmf-api/troubleTicket/v5
    query: tuple[tuple[str, Any], ...]
    headers: tuple[tuple[str, str | None], ...]
    body_kind: str | None
    body: Any
    identity: str
    modes: tuple[str, ...]
    expect: frozenset[int]
    codes: frozenset[str] | None
    within_s: float | None
    rss_growth_mb: float | None
    log_must_not_start_with: tuple[str, ...]
    absent_after: Absent | None

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"

    def target(self, ids: Mapping[str, str]) -> str:
        """The request target: path and query, placeholders filled in."""
        path = fill(self.path, ids)
        if not self.query:
            return path
        pairs = [
            f"{escape(name, '.')}={escape(fill(query_value(value), ids), ',:')}"
            for name, value in self.query
        ]
        return f"{path}{'&' if '?' in path else '?'}{'&'.join(pairs)}"

    def request_headers(self, ids: Mapping[str, str]) -> dict[str, str | None]:
        headers: dict[str, str | None] = {
            name: None if value is None else fill(value, ids) for name, value in self.headers
        }
        if self.body_kind is not None and not any(
            name.lower() == "content-type" for name in headers
        ):
            headers["Content-Type"] = "application/json"
        return headers

    def request_body(self, ids: Mapping[str, str]) -> bytes | None:
        if self.body_kind is None:
            return None
        if self.body_kind == "json":
            return json.dumps(fill_json(self.body, ids), separators=(",", ":")).encode()
        if self.body_kind == "raw":
            return fill(self.body, ids).encode("utf-8", errors="surrogatepass")
        if self.body_kind == "raw_b64":
            return base64.b64decode(self.body)
        text = "".join(part * times for part, times in self.body)
        return fill(text, ids).encode("utf-8", errors="surrogatepass")


def escape(text: str, safe: str = "") -> str:
    """Percent-encoded UTF-8 (a lone surrogate as the bytes UTF-8 would give it)."""
    return urllib.parse.quote(text.encode("utf-8", errors="surrogatepass"), safe=safe)


def fill(text: str, ids: Mapping[str, str]) -> str:
    for name in PLACEHOLDERS:
        if name in ids:
            text = text.replace("{" + name + "}", ids[name])
    return text


def fill_json(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, ids)
    if isinstance(value, list):
        return [fill_json(item, ids) for item in value]
    if isinstance(value, dict):
        return {fill(key, ids): fill_json(item, ids) for key, item in value.items()}
    return value


def query_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and set(value) == {"b64url"}:
        raw = str(value["b64url"]).encode("utf-8", errors="surrogatepass")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if isinstance(value, Mapping) and set(value) == {"b64url_parts"}:
        text = "".join(str(part) * int(times) for part, times in value["b64url_parts"])
        raw = text.encode("utf-8", errors="surrogatepass")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if isinstance(value, Mapping) and set(value) == {"repeat"}:
        text, times = value["repeat"]
        return str(text) * int(times)
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise CorpusError(f"query value {value!r}: a string, {{b64url…: …}} or {{repeat: […]}}")


def _statuses(value: Any, where: str) -> frozenset[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and 100 <= v <= 599 for v in values):
        raise CorpusError(f"{where}: expect must be a status or a list of statuses")
    return frozenset(values)


def _codes(value: Any, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise CorpusError(f"{where}: code must be a string or a list of strings")
    return frozenset(values)


def _case(source: str, raw: Any, index: int) -> Case:
    where = f"{source}.yaml case {index + 1}"
    if not isinstance(raw, Mapping):
        raise CorpusError(f"{where}: not a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise CorpusError(f"{where}: unknown keys {sorted(unknown)}")
    for required in ("name", "method", "path", "expect"):
        if required not in raw:
            raise CorpusError(f"{where}: no {required}")
    where = f"{source}.yaml {raw['name']!r}"
    bodies = [kind for kind in _BODIES if kind in raw]
    if len(bodies) > 1:
        raise CorpusError(f"{where}: more than one body ({', '.join(bodies)})")
    kind = bodies[0] if bodies else None
    body = raw.get(kind) if kind else None
    if kind in ("raw", "raw_b64") and not isinstance(body, str):
        raise CorpusError(f"{where}: {kind} must be a string")
    if kind == "raw_parts" and not (
        isinstance(body, list)
        and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int)
            for p in body
        )
    ):
        raise CorpusError(f"{where}: raw_parts must be a list of [text, times]")
    root = raw.get("root", "v5")
    if root not in ROOTS:
        raise CorpusError(f"{where}: root must be one of {sorted(ROOTS)}")
    identity = raw.get("as", "operator")
    if identity not in IDENTITIES:
        raise CorpusError(f"{where}: as must be one of {IDENTITIES}")
    modes = tuple(raw.get("modes", MODES))
    if not modes or not set(modes) <= set(MODES):
        raise CorpusError(f"{where}: modes must be a list of {MODES}")
    query = raw.get("query") or {}
    headers = raw.get("headers") or {}
    if not isinstance(query, Mapping) or not isinstance(headers, Mapping):
        raise CorpusError(f"{where}: query and headers must be mappings")
    for value in query.values():
        query_value(value)
    absent = raw.get("absent_after")
    if absent is not None and not (
        isinstance(absent, Mapping) and isinstance(absent.get("path"), str)
    ):
        raise CorpusError(f"{where}: absent_after needs a path and attributes")
    forged = raw.get("log_must_not_start_with") or []
    if not isinstance(forged, list) or not all(isinstance(line, str) for line in forged):
        raise CorpusError(f"{where}: log_must_not_start_with must be a list of strings")
    return Case(
        source=source,
        name=str(raw["name"]),
        method=str(raw["method"]).upper(),
        path=str(raw["path"]),
        root=ROOTS[root],
        query=tuple((str(name), value) for name, value in query.items()),
        headers=tuple(
            (str(name), None if value is None else str(value)) for name, value in headers.items()
        ),
        body_kind=kind,
        body=body,
        identity=identity,
        modes=modes,
        expect=_statuses(raw["expect"], where),
        codes=_codes(raw.get("code"), where),
        within_s=raw.get("within_s"),
        rss_growth_mb=raw.get("rss_growth_mb"),
        log_must_not_start_with=tuple(forged),
        absent_after=Absent(absent["path"], tuple(absent.get("attributes") or ()))
        if absent
        else None,
    )


def load(directory: Path = CORPUS_DIR) -> list[Case]:
    """Every case of every corpus file, file by file (in name order), each in file order.

    Raises:
        CorpusError: a file or case that does not follow the format above.
    """
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as source:
            document = yaml.safe_load(source)
        if not isinstance(document, list):
            raise CorpusError(f"{path.name}: not a list of cases")
        loaded = [_case(path.stem, raw, index) for index, raw in enumerate(document)]
        names = [case.name for case in loaded]
        duplicated = {name for name in names if names.count(name) > 1}
        if duplicated:
            raise CorpusError(f"{path.name}: names used twice: {sorted(duplicated)}")
        cases += loaded
    return cases
