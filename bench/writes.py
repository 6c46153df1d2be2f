"""``python -m bench.writes``: what group commit gains, in one run.

Writers on threads of their own insert tickets with events (as a POST does) into a SQLite file,
first with every write committed alone (``group_commit=False``, one fsync each), then with group
commit; each at 1, 4 and 16 writers, several rounds, medians printed with the ratio. Both keep
``synchronous=FULL``: a write returns only once it is on disk.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from troubleticket.store.port import Collection
from troubleticket.store.sqlite import SqliteStore

TICKETS = Collection.TROUBLE_TICKET


def _ticket(n: str) -> dict[str, object]:
    return {
        "id": n,
        "@type": "TroubleTicket",
        "status": "acknowledged",
        "severity": "Major",
        "description": "Customer reports intermittent loss of broadband service " * 8,
        "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "customer"}],
    }


def _event(n: str) -> dict[str, object]:
    return {"id": f"e-{n}", "@type": "TroubleTicketCreateEvent", "event": {"ticket": _ticket(n)}}


def writes_per_s(group_commit: bool, writers: int, per_writer: int, where: Path) -> float:
    with tempfile.TemporaryDirectory(dir=where) as folder:
        store = SqliteStore(Path(folder) / "w.sqlite3", group_commit=group_commit)
        try:
            start = threading.Barrier(writers + 1)

            def write(k: int) -> None:
                start.wait()
                for i in range(per_writer):
                    n = f"t-{k}-{i}"
                    store.insert(TICKETS, _ticket(n), events=[_event(n)])

            threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
            for thread in threads:
                thread.start()
            start.wait()
            began = time.perf_counter()
            for thread in threads:
                thread.join()
            return writers * per_writer / (time.perf_counter() - began)
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    parser.add_argument("--writes", type=int, default=800, help="writes per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / ".data")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    print("| writers | alone (writes/s) | grouped (writes/s) | grouped / alone |")
    print("|---:|---:|---:|---:|")
    for writers in (1, 4, 16):
        per_writer = max(1, args.writes // writers)
        alone, grouped = [], []
        for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits both
            alone.append(writes_per_s(False, writers, per_writer, args.data))
            grouped.append(writes_per_s(True, writers, per_writer, args.data))
        a, g = statistics.median(alone), statistics.median(grouped)
        print(f"| {writers} | {a:,.0f} | {g:,.0f} | {g / a:.2f}× |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
