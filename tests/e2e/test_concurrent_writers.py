"""Many clients patching one ticket at the same time, over real HTTP, lose no update."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.builders import a_ticket

WRITERS = 50


def test_fifty_concurrent_json_patches_each_adding_a_note_leave_fifty_notes(server: str) -> None:
    created = requests.post(f"{server}/troubleTicket", json=a_ticket(note=[]), timeout=10)
    assert created.status_code == 201
    url = f"{server}/troubleTicket/{created.json()['id']}"

    def add_note(n: int) -> int:
        operation = {"op": "add", "path": "/note/-", "value": {"@type": "Note", "text": f"n{n}"}}
        with requests.Session() as session:
            response = session.patch(
                url,
                json=[operation],
                headers={"Content-Type": "application/json-patch+json"},
                timeout=60,
            )
        return response.status_code

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = list(pool.map(add_note, range(WRITERS)))

    assert statuses == [200] * WRITERS
    final = requests.get(url, timeout=10)
    texts = sorted(note["text"] for note in final.json()["note"])
    assert texts == sorted(f"n{n}" for n in range(WRITERS))
    assert final.headers["ETag"] == f'"{1 + WRITERS}"'
