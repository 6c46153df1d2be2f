"""``serve --workers 2``: two server processes on one port and one SQLite file in WAL.

Both serve requests: fifty concurrent writers spread over them lose no update (the cross-process
version of test_concurrent_writers). The background loops run in exactly one of them, the
holder of the store's lease: every event reaches a subscriber once, in order.
"""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import requests

from tests.builders import a_ticket
from tests.e2e.conftest import ServerFactory
from tests.e2e.listener import Listener

WRITERS = 50
# with two processes the dispatcher is not woken by the other's commits: it looks this often
ENV = {"TT_WORKERS": "2", "TT_DISPATCH_INTERVAL": "100ms"}


def lease_holder(store: Path) -> str:
    with closing(sqlite3.connect(store)) as conn:
        row = conn.execute("SELECT doc FROM lease WHERE id = 'background'").fetchone()
    assert row is not None, "no process took the background lease"
    return str(json.loads(row[0])["holder"])


def test_two_workers_share_the_writes_and_one_of_them_delivers_each_event_once(
    server_factory: ServerFactory, listener: Listener, tmp_path: Path
) -> None:
    store = tmp_path / "workers.sqlite3"
    served = server_factory.serve(store, env=ENV)
    base = served.base
    hub = requests.post(
        f"{base}/hub", json={"@type": "Hub", "callback": f"{listener.url}/w"}, timeout=10
    )
    assert hub.status_code == 201, hub.text
    created = requests.post(f"{base}/troubleTicket", json=a_ticket(note=[]), timeout=10)
    assert created.status_code == 201
    url = f"{base}/troubleTicket/{created.json()['id']}"

    def add_note(n: int) -> tuple[int, str]:
        operation = {"op": "add", "path": "/note/-", "value": {"@type": "Note", "text": f"n{n}"}}
        # a connection of its own each: the kernel spreads them over both processes
        with requests.Session() as session:
            response = session.patch(
                url,
                json=[operation],
                headers={"Content-Type": "application/json-patch+json"},
                timeout=60,
            )
        return response.status_code, response.headers.get("ETag", "")

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        answers = list(pool.map(add_note, range(WRITERS)))

    assert [status for status, _etag in answers] == [200] * WRITERS
    # every write got a version of its own: none overwrote another
    assert sorted(etag for _status, etag in answers) == sorted(
        f'"{v}"' for v in range(2, 2 + WRITERS)
    )
    final = requests.get(url, timeout=10).json()
    assert sorted(note["text"] for note in final["note"]) == sorted(f"n{n}" for n in range(WRITERS))

    # one create, then one attribute change per note, each delivered once and in order
    seen = listener.wait_count(1 + WRITERS, accepted=True, timeout=30)
    listener.wait_quiet(1.0)
    seen = listener.accepted()
    assert len(seen) == 1 + WRITERS
    assert len({r.event_id for r in seen}) == 1 + WRITERS
    assert [len(r.resource.get("note", [])) for r in seen] == list(range(WRITERS + 1))

    holder = lease_holder(store)
    host, _, pid = holder.rpartition(":")
    assert host and pid.isdigit()
    assert int(pid) != served.pid  # a worker process holds it, not the supervising parent
    log = served.log()
    assert log.count("took the lease background") == 1, log


def test_a_server_logging_json_writes_one_parsable_line_per_request(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    served = server_factory.serve(tmp_path / "json.sqlite3", env={"TT_LOG_FORMAT": "json"})
    answer = requests.get(
        f"{served.base}/troubleTicket", headers={"X-Request-ID": "e2e-json-1"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "e2e-json-1"
    ready = requests.get(served.base.split("/tmf-api")[0] + "/health/ready", timeout=10)
    assert ready.status_code == 200
    assert {"store", "dispatcher", "sla-monitor"} <= set(ready.json()["checks"])
    served.stop()

    parsed = [json.loads(line) for line in served.log().splitlines() if line.startswith("{")]
    others = [line for line in served.log().splitlines() if line and not line.startswith("{")]
    assert not others, others  # every line is JSON
    access = [p for p in parsed if p["logger"] == "troubleticket.access"]
    mine = [p for p in access if p.get("requestId") == "e2e-json-1"]
    assert len(mine) == 1
    assert mine[0]["operationId"] == "listTroubleTicket"
    assert mine[0]["status"] == 200
