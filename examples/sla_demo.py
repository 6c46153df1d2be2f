"""A live SLA run: ``.venv/bin/python examples/sla_demo.py`` (the project installed).

Starts the server on examples/policy-fast.yaml (targets of seconds) with a fresh store, and a
listener, both on 127.0.0.1; subscribes the listener to jeopardy and escalation events; creates
two tickets, leaves one alone and resolves the other in time; and prints every event the listener
receives, with the seconds since the tickets were created. Stops everything it started.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
API = "/tmf-api/troubleTicket/v5"
QUERY = "eventType=TroubleTicketJeopardyAlertEvent,TroubleTicketEscalationEvent"
WATCH_SECONDS = 22


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    arrivals: list[tuple[float, dict]] = []

    class Listener(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrivals.append((time.monotonic(), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
        env |= {
            "TT_STORE": str(Path(tmp) / "demo.sqlite3"),
            "TT_POLICY": str(HERE / "policy-fast.yaml"),
            "TT_DISPATCH_INTERVAL": "100ms",
            "TT_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "troubleticket", "serve", "--port", str(port)], env=env
        )
        base = f"http://127.0.0.1:{port}{API}"
        try:
            for _ in range(100):
                try:
                    requests.get(f"{base}/troubleTicket?limit=0", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            callback = f"http://127.0.0.1:{listener.server_address[1]}/events"
            hub = requests.post(
                f"{base}/hub", json={"@type": "Hub", "callback": callback, "query": QUERY}
            ).json()
            print(f"hub {hub['id']} query {hub['query']}")
            body = {"@type": "TroubleTicket", "severity": "Major", "ticketType": "incident"}
            alone = requests.post(
                f"{base}/troubleTicket", json={**body, "description": "left alone"}
            ).json()
            start = time.monotonic()
            in_time = requests.post(
                f"{base}/troubleTicket", json={**body, "description": "resolved in time"}
            ).json()
            names = {alone["id"]: "left alone", in_time["id"]: "resolved in time"}
            for ticket in (alone, in_time):
                clocks = ", ".join(
                    f"{c['name']} {c['targetSeconds']:g} s" for c in ticket["slaClock"]
                )
                name = names[ticket["id"]]
                print(f"t=0.0  created '{name}': priority {ticket['priority']}, {clocks}")
            patch = {"@type": "TroubleTicket", "status": "inProgress"}
            url = f"{base}/troubleTicket/{in_time['id']}"
            headers = {"Content-Type": "application/merge-patch+json"}
            time.sleep(1)
            requests.patch(url, json=patch, headers=headers).raise_for_status()
            print(f"t={time.monotonic() - start:.1f}  '{names[in_time['id']]}' -> inProgress")
            time.sleep(2)
            patch = {"@type": "TroubleTicket", "status": "resolved"}
            requests.patch(url, json=patch, headers=headers).raise_for_status()
            print(f"t={time.monotonic() - start:.1f}  '{names[in_time['id']]}' -> resolved")
            time.sleep(WATCH_SECONDS)
            print("events received by the hub's listener:")
            for arrived, event in arrivals:
                payload = event["event"]
                ticket = payload["troubleTicket"]
                detail = payload.get("jeopardyAlert") or payload.get("escalation") or {}
                what = (
                    f"{detail.get('name')} (alertDate {detail.get('alertDate')})"
                    if "jeopardyAlert" in payload
                    else f"level {detail.get('previousLevel')} -> {detail.get('level')} "
                    f"({detail.get('trigger')}), priority {ticket['priority']}"
                )
                print(
                    f"t={arrived - start:5.2f}  {event['eventType']:<33} "
                    f"'{names.get(ticket['id'], ticket['id'])}': {what}"
                )
            final = requests.get(f"{base}/troubleTicket/{alone['id']}").json()
            for clock in final["slaClock"]:
                print(
                    f"'{names[alone['id']]}' clock {clock['name']}: {clock['state']}, "
                    f"jeopardy {clock['jeopardy']}, elapsed {clock['elapsedSeconds']:.1f} s"
                )
            resolved = requests.get(url).json()
            for clock in resolved["slaClock"]:
                print(
                    f"'{names[in_time['id']]}' clock {clock['name']}: {clock['state']}, "
                    f"jeopardy {clock['jeopardy']}, elapsed {clock['elapsedSeconds']:.1f} s"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
            listener.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
