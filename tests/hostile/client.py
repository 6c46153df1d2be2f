"""Requests to a real server exactly as written, and a record of every answer it gave.

``http.client`` is used rather than ``requests`` so that nothing is added or rewritten on the way:
the target is sent as given (percent escapes included), a body is sent byte for byte, and a
request without a ``Content-Type`` goes without one.
"""

from __future__ import annotations

import http.client
import json
import resource
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.conftest import API_ROOT, ServerProcess

REQUEST_TIMEOUT_S = 30.0
# Head room in address space for the server (see ``Deployment.cap_memory``).
ADDRESS_SPACE_HEADROOM = 512 * 1024 * 1024
LOG_WAIT_S = 5.0

Identity = str  # anonymous, operator, alpha, beta, or a name given to ``Deployment.identity``


@dataclass
class Answer:
    method: str
    target: str
    identity: Identity
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def excerpt(self, limit: int = 300) -> str:
        text = self.text
        return text if len(text) <= limit else f"{text[:limit]}…"

    def describe(self) -> str:
        return f"{self.method} {self.target} as {self.identity} → {self.status} {self.excerpt()}"


@dataclass
class Unanswered:
    method: str
    target: str
    identity: Identity
    error: str


@dataclass
class Deployment:
    """A running server, the identities that call it, and every answer it gave."""

    name: str
    auth: str  # "none" or "jwt"
    process: ServerProcess
    identities: dict[Identity, Callable[[], dict[str, str]]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    rss_at_start_kib: int = 0

    def start_measuring(self) -> None:
        self.send("GET", "/troubleTicket?limit=1")
        self.rss_at_start_kib = self.rss_kib()

    def identity(self, name: Identity, headers: Callable[[], dict[str, str]]) -> None:
        self.identities[name] = headers

    def headers_of(self, identity: Identity) -> dict[str, str]:
        if self.auth == "none" or identity == "anonymous":
            return {}
        return self.identities[identity]()

    def send(
        self,
        method: str,
        target: str,
        *,
        identity: Identity = "operator",
        body: bytes | None = None,
        headers: Mapping[str, str | None] | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
        root: str = API_ROOT,
    ) -> Answer:
        """Send ``method`` ``root + target`` as ``identity``; a header given as None is not sent."""
        sent: dict[str, str | None] = {**self.headers_of(identity), **(headers or {})}
        assert self.process.port is not None
        connection = http.client.HTTPConnection("127.0.0.1", self.process.port, timeout=timeout)
        started = time.monotonic()
        try:
            connection.putrequest(method, root + target, skip_accept_encoding=True)
            for name, value in sent.items():
                if value is not None:
                    connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.unanswered.append(Unanswered(method, target, identity, repr(exc)))
            raise
        finally:
            connection.close()
        answer = Answer(
            method=method,
            target=target,
            identity=identity,
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=data,
            elapsed_s=time.monotonic() - started,
        )
        self.answers.append(answer)
        return answer

    def call(
        self,
        method: str,
        target: str,
        document: Any = None,
        *,
        identity: Identity = "operator",
        content_type: str = "application/json",
        headers: Mapping[str, str | None] | None = None,
    ) -> Answer:
        """Send ``document`` (if not None) as JSON."""
        body = None if document is None else json.dumps(document).encode()
        sent: dict[str, str | None] = {"Accept": "application/json"}
        if body is not None:
            sent["Content-Type"] = content_type
        return self.send(
            method, target, identity=identity, body=body, headers={**sent, **(headers or {})}
        )

    def created(self, target: str, document: Any, *, identity: Identity = "operator") -> Any:
        """POST ``document``; the created resource (a 201 is required)."""
        answer = self.call("POST", target, document, identity=identity)
        assert answer.status == 201, f"setup: {answer.describe()}"
        return answer.json()

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def cap_memory(self) -> None:
        """Limit the server's address space, so that a request that makes it allocate without
        bound fails in the server instead of exhausting the memory of the machine."""
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            size = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = size * 1024 + ADDRESS_SPACE_HEADROOM
        resource.prlimit(self.process.pid, resource.RLIMIT_AS, (limit, limit))

    def log_after_pending_lines(self) -> str:
        """The server's log once every request sent so far has its access line in it."""
        marker = f"/log-marker-{uuid.uuid4().hex}"
        self.send("GET", marker, identity="anonymous")
        deadline = time.monotonic() + LOG_WAIT_S
        while True:
            log = self.process.log()
            if marker in log or time.monotonic() > deadline:
                return log
            time.sleep(0.05)

    def server_errors(self) -> list[Answer]:
        """Every answer with a 5xx status other than 501 (a declared feature not offered)."""
        return [a for a in self.answers if a.status >= 500 and a.status != 501]


def tmf_error_problems(answer: Answer) -> list[str]:
    """What is wrong with ``answer`` as a TMF Error (empty: nothing)."""
    if answer.status < 400:
        return []
    media = answer.headers.get("content-type", "")
    if not media.lower().startswith("application/json"):
        return [f"error body is {media or 'without Content-Type'}, not application/json"]
    try:
        error = answer.json()
    except ValueError:
        return [f"error body is not JSON: {answer.excerpt()}"]
    if not isinstance(error, dict):
        return [f"error body is not an object: {answer.excerpt()}"]
    problems = []
    if error.get("@type") != "Error":
        problems.append(f"@type is {error.get('@type')!r}, not 'Error'")
    for name in ("code", "reason", "message"):
        if not isinstance(error.get(name), str) or not error.get(name):
            problems.append(f"{name} is {error.get(name)!r}, not a non-empty string")
    if error.get("status") != str(answer.status):
        problems.append(f"status is {error.get('status')!r}, not {str(answer.status)!r}")
    return problems


def error_code(answer: Answer) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
