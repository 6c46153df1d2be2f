"""``python -m bench.mass_outage``: many customer tickets under one major incident, resolved.

A mass outage from the customers' creates to their resolution by the parent's.

Starts the server (one worker, a fresh SQLite store, a policy whose ``majorIncident`` section
correlates tickets by a shared Resource) and an HTTP listener subscribed as one hub, all on
127.0.0.1, then:

1. **plain** — ticket POSTs that no major incident matches: once before anything else is there
   (no hub, no major incident), then, once a major incident is open and the hub subscribed,
   in rounds alternating with the children's, so the machine's noise falls on both alike;
2. **child** — POSTs of the same size naming the major incident's Resource: correlation links
   each one in its create (every answer is checked for the ``isChildOf`` relationship); the
   ratio child/plain is what the feature costs a create (target ≥ 0.8);
3. once the subscriber has heard every create, the parent is moved to inProgress, then
   resolved: the time until all children are resolved (the parent's ``cascade``, then their
   count by query; target ≤ 10 s) and until the subscriber has received every child's resolved
   event (target ≤ 30 s).

Both loads are driven the same way: one thread and one keep-alive connection per client
connection, a fixed number of POSTs in all (so every answer can be checked). Prints a table
and writes ``results.json`` and ``report.md`` under ``bench/results/<UTC stamp>-mass-outage/``.
``--profile`` samples the server with py-spy during the last round (plain and child), the
cascade and the delivery of its events, and writes a summary per phase beside them (figures of
a profiled run are slowed by the sampling). The report also shows what the server's /metrics
counted during the cascade and the delivery (store calls, background passes, attempts).
``--ref COMMIT`` serves a commit from a temporary git worktree instead of the working tree
(``bench.refs`` does the same), so that changes made under src/ meanwhile do not mix in; the
commit served is recorded with the figures.

Everything it starts binds to 127.0.0.1 and is stopped before it exits.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from bench.__main__ import HERE, _free_port, _rss_mb
from bench.profile import _IDLE, _frames, _py_spy

API = "/tmf-api/troubleTicket/v5"
TICKETS = f"{API}/troubleTicket"
JSON_TYPE = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
FAULTY = "olt-7"  # the Resource whose fault is the major incident
HEALTHY = "olt-3"  # another one: plain tickets name it, and no major incident matches them
WARM_UP = 200

TARGET_RATIO = 0.8
TARGET_RESOLVED_S = 10.0
TARGET_EVENTS_S = 30.0


def policy(cascade_batch: int | None) -> str:
    text = (
        "majorIncident:\n"
        "  correlate:\n"
        "    - name: same element\n"
        "      relatedEntity: {referredType: [Resource]}\n"
        "  rollupInterval: 5s\n"
    )
    return text + (f"  cascadeBatch: {cascade_batch}\n" if cascade_batch else "")


def related(resource: str) -> dict[str, Any]:
    return {
        "@type": "RelatedEntityRefOrValue",
        "role": "affected",
        "entity": {"@type": "EntityRef", "id": resource, "@referredType": "Resource"},
    }


def customer_ticket(resource: str) -> bytes:
    """What a customer's ticket POST sends (the same size for either Resource)."""
    return orjson.dumps(
        {
            "@type": "TroubleTicket",
            "description": "No sync on the DSL line",
            "severity": "Major",
            "ticketType": "incident",
            "relatedParty": [
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "customer",
                    "partyOrPartyRole": {"@type": "PartyRef", "id": "42"},
                }
            ],
            "relatedEntity": [related(resource)],
        }
    )


def _parent_of(ticket: dict[str, Any]) -> str | None:
    for link in ticket.get("troubleTicketRelationship") or []:
        if isinstance(link, dict) and link.get("relationshipType") == "isChildOf":
            return str(link.get("id"))
    return None


# -- the subscriber -------------------------------------------------------------------------------


class Listener:
    """A hub's callback: records each event's arrival by ticket id; answers 204."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.by_type: collections.Counter[str] = collections.Counter()
        self.created: set[str] = set()
        # ticket id -> when its first event saying it is resolved arrived (monotonic)
        self.resolved: dict[str, float] = {}
        # (arrival, event type, ticket id): every event, for the counts after a moment
        self.log: list[tuple[float, str, str]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                listener._record(time.monotonic(), body)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/events"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _record(self, arrived: float, body: bytes) -> None:
        event = orjson.loads(body)
        kind = str(event.get("eventType"))
        ticket = (event.get("event") or {}).get("troubleTicket") or {}
        ticket_id = str(ticket.get("id"))
        resolved = kind == "TroubleTicketResolvedEvent" or (
            kind == "TroubleTicketStatusChangeEvent" and ticket.get("status") == "resolved"
        )
        with self._lock:
            self.total += 1
            self.by_type[kind] += 1
            self.log.append((arrived, kind, ticket_id))
            if kind == "TroubleTicketCreateEvent":
                self.created.add(ticket_id)
            if resolved and ticket_id not in self.resolved:
                self.resolved[ticket_id] = arrived

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the server -----------------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    pid: int
    log: Path

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One request on a connection of its own: (status, headers, JSON answer or None)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = None if body is None else orjson.dumps(body)
            connection.request(method, path, payload, headers or JSON_TYPE)
            answer = connection.getresponse()
            data = answer.read()
            found = {k.lower(): v for k, v in answer.getheaders()}
            return answer.status, found, orjson.loads(data) if data else None
        finally:
            connection.close()

    def metrics(self) -> dict[str, float]:
        """The server's counts and sums (Prometheus text) of what :data:`METRICS` names."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        found: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if name.startswith(METRICS) and name.partition("{")[0].endswith(("_count", "_sum")):
                found[name] = float(value)
        return found


# What the report takes from the server's /metrics: the store calls (by operation and
# collection: wall time in the calling thread, waits included), the background loops' passes,
# the delivery attempts.
METRICS = (
    "troubleticket_store_operation_duration_seconds",
    "troubleticket_background_pass_duration_seconds",
    "troubleticket_delivery_attempt_duration_seconds",
)


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


@contextmanager
def serving(work: Path, settings: dict[str, str], source: Path | None = None) -> Iterator[Server]:
    """The server on a free port of 127.0.0.1; ``source``: the ``src`` folder of another
    checkout to run it from (default: this one's)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env |= {
        "TT_STORE": str(work / "store.sqlite3"),
        "TT_POLICY": str(work / "policy.yaml"),
        # the subscriber listens on this host, where callbacks go only when allowed
        "TT_EGRESS_ALLOW": "127.0.0.0/8",
        "TT_LOG_LEVEL": "warning",
        **settings,
    }
    log = work / "server.log"
    command = [sys.executable, "-m", "troubleticket", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=HERE.parent, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(port, process.pid, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.call("GET", f"{TICKETS}?limit=0")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cores(pid: int, into: dict[str, Any], name: str) -> Iterator[None]:
    """Records in ``into`` the cores the server (``pid``) and this process used meanwhile."""
    served, own, started = cpu_seconds(pid), time.process_time(), time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        if elapsed >= 0.5:  # shorter, and the clock ticks say nothing
            into[f"{name}_server_cores"] = (cpu_seconds(pid) - served) / elapsed
            into[f"{name}_client_cores"] = (time.process_time() - own) / elapsed


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    round: int
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU this process (the load threads and the subscriber) used, in cores, while it ran
    client_cores: float
    # CPU the server process used, in cores, while it ran
    server_cores: float
    ids: list[str] = field(default_factory=list, repr=False)
    problems: list[str] = field(default_factory=list, repr=False)


def post_tickets(
    server: Server,
    name: str,
    round_number: int,
    body: bytes,
    count: int,
    connections: int,
    parent: str | None,
) -> Phase:
    """``count`` POSTs of ``body`` from ``connections`` threads, each on one keep-alive
    connection; every answer must be a 201 linked to ``parent`` (``None``: to nothing)."""
    lock = threading.Lock()
    left = iter(range(count))
    latencies: list[float] = []
    ids: list[str] = []
    problems: list[str] = []
    errors = [0]
    ready = threading.Barrier(connections + 1)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.connect()
        mine: list[float] = []
        made: list[str] = []
        wrong: list[str] = []
        failed = 0
        ready.wait()
        while True:
            with lock:
                if next(left, None) is None:
                    break
            started = time.perf_counter()
            try:
                connection.request("POST", TICKETS, body, JSON_TYPE)
                answer = connection.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                failed += 1
                wrong.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                continue
            mine.append(time.perf_counter() - started)
            if answer.status != 201:
                failed += 1
                wrong.append(f"{answer.status}: {data[:200]!r}")
                continue
            ticket = orjson.loads(data)
            made.append(ticket["id"])
            if _parent_of(ticket) != parent:
                wrong.append(f"{ticket['id']} is linked to {_parent_of(ticket)}, not {parent}")
        connection.close()
        with lock:
            latencies.extend(mine)
            ids.extend(made)
            problems.extend(wrong)
            errors[0] += failed

    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu, served, started = time.process_time(), cpu_seconds(server.pid), time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    served = cpu_seconds(server.pid) - served
    latencies.sort()
    phase = Phase(
        name=name,
        round=round_number,
        requests=count,
        seconds=elapsed,
        requests_per_s=len(latencies) / elapsed,
        p50_ms=1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan"),
        errors=errors[0],
        client_cores=cpu / elapsed,
        server_cores=served / elapsed,
        ids=ids,
        problems=problems,
    )
    print(
        f"  round {round_number} {name:>6}: {count:6d} POSTs {phase.requests_per_s:7.0f} req/s "
        f"p50 {phase.p50_ms:6.1f} ms p99 {phase.p99_ms:6.1f} ms errors {phase.errors} "
        f"wrong {len(problems)} (cores: server {phase.server_cores:.2f}, "
        f"client {phase.client_cores:.2f})",
        flush=True,
    )
    return phase


# -- profiles -------------------------------------------------------------------------------------


class Profiler:
    """py-spy attached to the server for one phase at a time; a summary per phase."""

    def __init__(self, pid: int, out: Path | None, *, gil: bool = False) -> None:
        self._pid = pid
        self._out = out
        self._gil = gil
        self.summaries: dict[str, str] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self._out is None:
            yield
            return
        self._out.mkdir(parents=True, exist_ok=True)
        raw = self._out / f"{name}.collapsed"
        command = [_py_spy() or "py-spy", "record", "--pid", str(self._pid), "-r", "100"]
        command += ["-f", "raw", "-o", str(raw), *(["--gil"] if self._gil else [])]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        time.sleep(1)  # attached before the phase begins
        try:
            yield
        finally:
            seconds = time.monotonic() - started
            spy.send_signal(signal.SIGINT)  # py-spy writes its file as it stops
            spy.wait(timeout=60)
            if raw.exists():
                summary = self._out / f"{name}.md"
                what = " (--gil: only the thread holding the GIL)" if self._gil else ""
                summary.write_text(
                    f"# {name}: {seconds:.1f} s under py-spy{what}\n\n" + summarize(raw)
                )
                self.summaries[name] = str(summary)
                raw.unlink()


# frames a thread waiting for work ends in (a pool's worker waits in C, under ``_worker``)
IDLE = (*_IDLE, "_worker (concurrent/futures/thread.py)")


def _thread_kind(frames: list[str]) -> str | None:
    joined = ";".join(frames)
    if "CascadeRunner." in joined:
        return "cascade runner"
    if "RollupAnnouncer." in joined:
        return "rollup announcer"
    if "Dispatcher.run_once" in joined:
        return "dispatcher passes"
    if "notify/" in joined:
        return "delivery threads"
    if "Runner.run" in joined:
        return "event loop"
    if "Thread._bootstrap" in joined:
        return "request threads and others"
    return None


def summarize(raw: Path, top: int = 25) -> str:
    """Busy samples by thread kind, then the functions of each (inclusive and self)."""
    kinds: dict[str, tuple[collections.Counter[str], collections.Counter[str]]] = {}
    busy: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = _frames(stack)
        kind = _thread_kind(frames)
        if kind is None or (frames and any(idle in frames[-1] for idle in IDLE)):
            continue
        inclusive, own = kinds.setdefault(kind, (collections.Counter(), collections.Counter()))
        busy[kind] += int(count)
        for frame in dict.fromkeys(frames):
            inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    total = sum(busy.values()) or 1
    lines = [f"{total} busy samples at 100 Hz.", "", "| thread | busy samples | share |"]
    lines.append("|---|---:|---:|")
    lines += [f"| {kind} | {n} | {n / total:.1%} |" for kind, n in busy.most_common()]
    lines.append("")
    for kind, n in busy.most_common():
        inclusive, own = kinds[kind]
        shown = [(f, c) for f, c in inclusive.most_common() if c < n * 0.98][:top]
        lines += [f"### {kind}: {n} busy samples", "", "| inclusive | function |", "|---:|---|"]
        lines += [f"| {c / n:.1%} | `{f}` |" for f, c in shown]
        lines += ["", "| self | function |", "|---:|---|"]
        lines += [f"| {c / n:.1%} | `{f}` |" for f, c in own.most_common(top // 2)]
        lines.append("")
    return "\n".join(lines)


# -- the run --------------------------------------------------------------------------------------


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run(
    args: argparse.Namespace, work: Path, out: Path, source: Path | None = None
) -> dict[str, Any]:
    (work / "policy.yaml").write_text(policy(args.cascade_batch))
    settings = dict(item.split("=", 1) for item in args.env)
    listener = Listener()
    phases: list[Phase] = []
    checks: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    plain, child = customer_ticket(HEALTHY), customer_ticket(FAULTY)
    try:
        with serving(work, settings, source) as server:
            profiler = Profiler(
                server.pid, out / "profiles" if args.profile else None, gil=args.gil
            )
            post_tickets(server, "warm-up", 0, plain, WARM_UP, args.connections, None)
            per_round = _split(args.children, args.rounds)
            phases.append(
                post_tickets(server, "alone", 0, plain, per_round[0], args.connections, None)
            )

            status, _, parent = server.call(
                "POST",
                TICKETS,
                {
                    "@type": "TroubleTicket",
                    "name": "OLT 7 down",
                    "description": "Optical line terminal 7 lost its uplink",
                    "severity": "Critical",
                    "ticketType": "majorIncident",
                    "relatedEntity": [related(FAULTY)],
                },
            )
            assert status == 201, (status, parent)
            parent_id = parent["id"]
            hub: dict[str, Any] = {"@type": "Hub", "callback": listener.url}
            if args.hub_query:
                hub["query"] = args.hub_query
            status, _, answer = server.call("POST", f"{API}/hub", hub)
            assert status == 201, (status, answer)

            for number, count in enumerate(per_round, 1):
                order = [("plain", plain, None), ("child", child, parent_id)]
                if number % 2 == 0:  # alternate which goes first
                    order.reverse()
                for name, body, linked in order:
                    last = number == args.rounds  # the rounds profiled, when asked
                    with profiler.phase(f"{name}-posts") if last else _nothing():
                        phases.append(
                            post_tickets(
                                server, name, number, body, count, args.connections, linked
                            )
                        )
            posted = time.monotonic()
            children = [i for p in phases if p.name == "child" for i in p.ids]
            created = [i for p in phases if p.name in ("plain", "child") for i in p.ids]
            problems = [x for p in phases for x in p.problems]
            checks["children_created"] = len(children)
            checks["answers_wrong"] = len(problems)
            checks["answers_wrong_first"] = problems[:5]
            checks["request_errors"] = sum(p.errors for p in phases)

            # The subscriber first hears every create (what is delivered afterwards is the
            # cascade's), then the parent is resolved.
            queued = set(created) if not args.hub_query else set()
            with cores(server.pid, figures, "create_events"):
                heard = listener.wait(lambda: queued <= listener.created, args.timeout)
            figures["create_events_drained_s"] = time.monotonic() - posted
            checks["create_events_heard"] = len(queued & listener.created)
            print(
                f"  the subscriber heard {len(queued & listener.created)}/{len(queued)} creates "
                f"{figures['create_events_drained_s']:.1f} s after the last POST "
                f"({listener.total} events in all)",
                flush=True,
            )
            if not heard:
                print("  not every create was heard: going on", file=sys.stderr)

            _, _, before = server.call("GET", f"{TICKETS}/{parent_id}")
            checks["summary_before"] = before.get("childSummary")
            status, _, _ = server.call(
                "PATCH",
                f"{TICKETS}/{parent_id}",
                {"@type": "TroubleTicket", "status": "inProgress"},
                MERGE,
            )
            assert status == 200, status
            events_before = len(listener.log)
            metered = [server.metrics()]
            resolved_at = time.monotonic()
            status, _, answer = server.call(
                "PATCH",
                f"{TICKETS}/{parent_id}",
                {
                    "@type": "TroubleTicket",
                    "status": "resolved",
                    "statusChangeReason": "Fibre spliced",
                },
                MERGE,
            )
            assert status == 200, (status, answer)
            checks["cascade_at_start"] = answer.get("cascade")

            progress: list[tuple[float, int]] = []
            all_done: float | None = None
            cascade: dict[str, Any] = {}
            with profiler.phase("cascade"), cores(server.pid, figures, "cascade"):
                deadline = resolved_at + args.timeout
                while time.monotonic() < deadline:
                    _, _, shown = server.call("GET", f"{TICKETS}/{parent_id}")
                    now = time.monotonic() - resolved_at
                    cascade = shown.get("cascade") or {}
                    done = int(cascade.get("done", 0))
                    progress.append((round(now, 3), done))
                    if all_done is None and done >= len(children):
                        all_done = now
                    if cascade.get("state") == "completed":
                        break
                    time.sleep(args.poll)
            figures["all_children_resolved_s"] = all_done
            figures["cascade_completed_s"] = progress[-1][0] if progress else None
            checks["cascade"] = cascade
            metered.append(server.metrics())
            _, headers, _ = server.call(
                "GET",
                f"{TICKETS}?troubleTicketRelationship.id={parent_id}&status=resolved&limit=0",
            )
            checks["children_resolved_by_query"] = int(headers.get("x-total-count", -1))
            print(
                f"  cascade {cascade.get('state')}: {cascade.get('done')} done, "
                f"{cascade.get('refused')} refused, all resolved after {all_done} s; "
                f"the query counts {checks['children_resolved_by_query']} resolved children",
                flush=True,
            )

            wanted = set(children)
            with profiler.phase("delivery"), cores(server.pid, figures, "delivery"):
                listener.wait(lambda: wanted <= listener.resolved.keys(), args.timeout)
            arrivals = sorted(
                listener.resolved[i] - resolved_at for i in wanted & listener.resolved.keys()
            )
            checks["resolved_events_heard"] = len(arrivals)
            figures["all_resolved_events_s"] = (
                arrivals[-1] if len(arrivals) == len(wanted) else None
            )
            figures["resolved_event_p50_s"] = arrivals[len(arrivals) // 2] if arrivals else None
            figures["resolved_events_last_s"] = arrivals[-1] if arrivals else None
            time.sleep(0.5)  # what follows the last resolved event (nothing should)
            after = collections.Counter(kind for _, kind, _ in listener.log[events_before:])
            checks["events_after_resolving"] = dict(after)
            figures["events_per_child_after_resolving"] = sum(after.values()) / max(
                1, len(children)
            )
            if arrivals:
                figures["deliveries_per_s_after_resolving"] = sum(after.values()) / arrivals[-1]
            metered.append(server.metrics())
            figures["server_metrics"] = {
                "cascade": _delta(metered[0], metered[1]),
                "delivery": _delta(metered[1], metered[2]),
            }
            figures["rss_mb"] = _rss_mb(server.pid)
            figures["cascade_progress"] = progress
            figures["profiles"] = profiler.summaries
    finally:
        listener.close()
    shown = [{k: v for k, v in asdict(p).items() if k not in ("ids", "problems")} for p in phases]
    return {"phases": shown, "figures": figures, "checks": checks}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def headline(result: dict[str, Any], children: int) -> dict[str, Any]:
    """Medians over the rounds, the ratio, and each target with its figure."""
    phases, figures, checks = result["phases"], result["figures"], result["checks"]

    def rates(name: str) -> list[float]:
        return [p["requests_per_s"] for p in phases if p["name"] == name]

    def median_of(name: str, key: str) -> float:
        return float(statistics.median(p[key] for p in phases if p["name"] == name))

    plain, child = statistics.median(rates("plain")), statistics.median(rates("child"))
    rounds: dict[int, dict[str, float]] = {
        p["round"]: {} for p in phases if p["name"] in ("plain", "child")
    }
    for p in phases:
        if p["name"] in ("plain", "child"):
            rounds[p["round"]][p["name"]] = p["requests_per_s"]
    ratio = child / plain
    head: dict[str, Any] = {
        "alone_per_s": median_of("alone", "requests_per_s"),
        "plain_per_s": plain,
        "plain_p50_ms": median_of("plain", "p50_ms"),
        "plain_p99_ms": median_of("plain", "p99_ms"),
        "child_per_s": child,
        "child_p50_ms": median_of("child", "p50_ms"),
        "child_p99_ms": median_of("child", "p99_ms"),
        "ratio": ratio,
        "round_ratios": [r["child"] / r["plain"] for _, r in sorted(rounds.items())],
        "child_over_alone": child / median_of("alone", "requests_per_s"),
    }
    resolved = figures.get("all_children_resolved_s")
    events = figures.get("all_resolved_events_s")
    ok = (
        checks["children_created"] == children
        and checks["answers_wrong"] == 0
        and checks["request_errors"] == 0
        and checks["children_resolved_by_query"] == children
        and (checks.get("cascade") or {}).get("done") == children
        and checks["resolved_events_heard"] == children
    )
    head["checks_passed"] = ok
    head["targets"] = [
        {
            "target": f"child POST ≥ {TARGET_RATIO}× plain POST",
            "figure": f"{ratio:.3f}×",
            "met": ratio >= TARGET_RATIO,
        },
        {
            "target": f"all {children:,} children resolved ≤ {TARGET_RESOLVED_S:g} s",
            "figure": "not all" if resolved is None else f"{resolved:.1f} s",
            "met": resolved is not None and resolved <= TARGET_RESOLVED_S,
        },
        {
            "target": f"every child's resolved event at the subscriber ≤ {TARGET_EVENTS_S:g} s",
            "figure": (
                f"{checks['resolved_events_heard']:,}/{children:,} heard"
                if events is None
                else f"{events:.1f} s"
            ),
            "met": events is not None and events <= TARGET_EVENTS_S,
        },
    ]
    return head


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def report(run: dict[str, Any]) -> str:
    """The Markdown report of one run (also what is printed)."""
    s, head, fig, checks = run["settings"], run["headline"], run["figures"], run["checks"]
    profiled = " **Profiled run: py-spy sampled the server"
    profiled += " (--gil)" if s.get("profile_gil") else ""
    profiled += ", figures are slowed.**"
    lines = [
        f"# Mass outage {run['when']}",
        "",
        f"Server: {run['code']['ref']} at `{run['code']['commit'][:12]}`"
        + (" with uncommitted changes under src/" if run["code"]["src_changed"] else "")
        + ".",
        "",
        f"{run['machine']['cpus']} CPUs, Python {run['machine']['python']}; one server worker, "
        f"a fresh SQLite store; {s['children']:,} children and as many plain tickets, in "
        f"{s['rounds']} rounds alternating plain and child POSTs, {s['connections']} "
        "connections (one thread and one keep-alive connection each, Python http.client), "
        f"after {WARM_UP} warm-up POSTs; one hub "
        + (f"with query `{s['hub_query']}`" if s["hub_query"] else "hearing every event")
        + f"; cascade batch {s['cascade_batch'] or 'default (200)'}; all on 127.0.0.1."
        + (profiled if s["profile"] else ""),
        "",
        "| POSTs | req/s (median) | p50 ms | p99 ms | vs plain |",
        "|---|---:|---:|---:|---:|",
        f"| plain, before any hub or major incident (round 0) | {head['alone_per_s']:,.0f} | "
        f"{_first(run, 'alone', 'p50_ms'):.1f} | {_first(run, 'alone', 'p99_ms'):.1f} | "
        f"{head['alone_per_s'] / head['plain_per_s']:.2f} |",
        f"| plain (matching no major incident) | {head['plain_per_s']:,.0f} | "
        f"{head['plain_p50_ms']:.1f} | {head['plain_p99_ms']:.1f} | 1.00 |",
        f"| child (correlated, linked in its create) | {head['child_per_s']:,.0f} | "
        f"{head['child_p50_ms']:.1f} | {head['child_p99_ms']:.1f} | {head['ratio']:.2f} |",
        "",
        "Per round (cores: CPU time over wall time of the server process, and of this one: the "
        "load threads and the subscriber):",
        "",
        "| round | POSTs | req/s | p50 ms | p99 ms | errors | server cores | client cores |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in run["phases"]:
        lines.append(
            f"| {p['round']} | {p['name']} ({p['requests']:,}) | {p['requests_per_s']:,.0f} | "
            f"{p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {p['errors']} | "
            f"{p['server_cores']:.2f} | {p['client_cores']:.2f} |"
        )
    ratios = ", ".join(f"{r:.2f}" for r in head["round_ratios"])
    lines += [
        "",
        f"Child/plain per round: {ratios}.",
        "",
        "| after the parent is resolved | |",
        "|---|---:|",
        f"| the subscriber had heard every create (from the last POST) | "
        f"{_seconds(fig.get('create_events_drained_s'))} |",
        f"| all children resolved (the parent's `cascade.done`) | "
        f"{_seconds(fig.get('all_children_resolved_s'))} |",
        f"| cascade `completed` on the parent | {_seconds(fig.get('cascade_completed_s'))} |",
        f"| half the children's resolved events heard | "
        f"{_seconds(fig.get('resolved_event_p50_s'))} |",
        f"| every child's resolved event heard | {_seconds(fig.get('all_resolved_events_s'))} |",
        f"| events heard per second after resolving (to the last resolved one) | "
        f"{fig.get('deliveries_per_s_after_resolving', 0):,.0f} |",
        f"| cores used, server / this process: while the creates were heard after the last "
        f"POST | {_cores(fig, 'create_events')} |",
        f"| … until the cascade completed | {_cores(fig, 'cascade')} |",
        f"| … from then until every resolved event was heard | {_cores(fig, 'delivery')} |",
        f"| events heard per child after resolving | "
        f"{fig.get('events_per_child_after_resolving', 0):.2f} |",
        f"| server RSS at the end | {fig.get('rss_mb', 0):.0f} MB |",
        "",
        "Events heard after resolving: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(checks["events_after_resolving"].items()))
        + ".",
        "",
        f"Checks: children created {checks['children_created']:,}, answers without the right "
        f"link {checks['answers_wrong']}, request errors {checks['request_errors']}, cascade "
        f"done {(checks.get('cascade') or {}).get('done')} refused "
        f"{(checks.get('cascade') or {}).get('refused')}, resolved children by query "
        f"{checks['children_resolved_by_query']:,}, resolved events heard "
        f"{checks['resolved_events_heard']:,}: "
        + ("all as expected." if head["checks_passed"] else "**NOT as expected.**"),
        "",
        "## Targets",
        "",
        "| target | figure | met |",
        "|---|---:|---|",
    ]
    lines += [
        f"| {t['target']} | {t['figure']} | {'yes' if t['met'] else 'no'} |"
        for t in head["targets"]
    ]
    for phase, title in (
        ("cascade", "from resolving the parent until its cascade completed"),
        ("delivery", "from then until every resolved event was heard"),
    ):
        rows = metered_rows((fig.get("server_metrics") or {}).get(phase, {}))
        if not rows:
            continue
        lines += [
            "",
            f"Server metrics {title} (store calls: wall time in the calling thread, waits "
            "included; passes: the background loops'):",
            "",
            "| what | calls | seconds | mean ms |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {what} | {calls:,.0f} | {seconds:.1f} | {1000 * seconds / calls:.2f} |"
            for what, calls, seconds in rows[:12]
        ]
    if fig.get("profiles"):
        lines += ["", "Profiles: " + ", ".join(f"[{n}](profiles/{n}.md)" for n in fig["profiles"])]
    return "\n".join(lines) + "\n"


def metered_rows(delta: dict[str, float]) -> list[tuple[str, float, float]]:
    """(what, calls, seconds) from a /metrics delta, the most seconds first."""
    names = {
        "troubleticket_store_operation_duration_seconds": "store",
        "troubleticket_background_pass_duration_seconds": "passes",
        "troubleticket_delivery_attempt_duration_seconds": "delivery attempts",
    }
    pairs: dict[str, list[float]] = {}
    for key, value in delta.items():
        metric, _, labels = key.partition("{")
        base, _, kind = metric.rpartition("_")
        shown = ", ".join(
            part.partition("=")[2].strip('"') for part in labels.rstrip("}").split(",") if part
        )
        what = f"{names.get(base, base)} {shown}".strip()
        pair = pairs.setdefault(what, [0.0, 0.0])
        pair[0 if kind == "count" else 1] = value
    rows = [(what, calls, seconds) for what, (calls, seconds) in pairs.items() if calls > 0]
    return sorted(rows, key=lambda row: -row[2])


def _cores(figures: dict[str, Any], name: str) -> str:
    server, client = figures.get(f"{name}_server_cores"), figures.get(f"{name}_client_cores")
    return "—" if server is None or client is None else f"{server:.2f} / {client:.2f}"


def _first(run: dict[str, Any], name: str, key: str) -> float:
    return float(next(p[key] for p in run["phases"] if p["name"] == name))


def _code(ref: str | None) -> dict[str, Any]:
    """Which code the server ran: the commit, and (the working tree) whether src/ differed."""

    def git(*command: str) -> str:
        return subprocess.run(
            ["git", *command], cwd=HERE.parent, capture_output=True, text=True, check=True
        ).stdout.strip()

    commit = git("rev-parse", ref or "HEAD")
    changed = bool(git("status", "--porcelain", "--", "src")) if ref is None else False
    return {"ref": ref or "working tree", "commit": commit, "src_changed": changed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mass_outage", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--children", type=int, default=2000, help="children (and plain POSTs)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="plain/child rounds to alternate")
    parser.add_argument("--hub-query", default="", help="the hub's query (default: every event)")
    parser.add_argument("--cascade-batch", type=int, help="majorIncident.cascadeBatch (1-1000)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="TT_NAME=VALUE", help="server setting"
    )
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between cascade polls")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for each phase")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument(
        "--gil", action="store_true", help="with --profile: sample only the thread holding the GIL"
    )
    parser.add_argument(
        "--ref",
        help="serve this commit (or branch), checked out in a temporary git worktree, instead of "
        "the working tree",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.profile and _py_spy() is None:
        print("--profile needs py-spy (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    if any(not item.startswith("TT_") or "=" not in item for item in args.env):
        parser.error("--env takes TT_NAME=VALUE")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"{stamp}-mass-outage"
    print(
        f"mass outage: {args.children:,} children, {args.connections} connections, "
        f"{args.rounds} rounds",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-mass-outage-") as scratch:
        if args.ref is None:
            code = _code(None)
            print(f"server: the working tree, at {code['commit'][:12]}", end="", flush=True)
            print(" with changes under src/" if code["src_changed"] else "", flush=True)
            result = run(args, Path(scratch), out)
        else:
            checkout = Path(scratch) / "checkout"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "--quiet", str(checkout), args.ref],
                cwd=HERE.parent,
                check=True,
            )
            try:
                code = _code(args.ref)
                print(f"server: {args.ref} ({code['commit'][:12]})", flush=True)
                result = run(args, Path(scratch), out, checkout / "src")
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(checkout)],
                    cwd=HERE.parent,
                    check=False,
                )
    settings = {
        "children": args.children,
        "connections": args.connections,
        "rounds": args.rounds,
        "warm_up": WARM_UP,
        "hub_query": args.hub_query,
        "cascade_batch": args.cascade_batch,
        "server_env": args.env,
        "poll_s": args.poll,
        "profile": args.profile,
        "profile_gil": args.gil,
        "policy": policy(args.cascade_batch),
    }
    run_record = {
        "when": stamp,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "code": code,
        "settings": settings,
        **result,
        "headline": headline(result, args.children),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(run_record, indent=2) + "\n")
    text = report(run_record)
    (out / "report.md").write_text(text)
    print()
    print(text)
    print(f"report: {out / 'report.md'}")
    return 0 if run_record["headline"]["checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
