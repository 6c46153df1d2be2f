"""The console entry point for real: a server process on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.builders import a_ticket


def test_served_api_creates_and_reads_back_a_ticket(server: str) -> None:
    created = requests.post(f"{server}/troubleTicket", json=a_ticket(), timeout=5)
    assert created.status_code == 201
    # Without TT_BASE_URL the public URL follows the host and port the server listens on.
    port = server.split(":")[2].split("/")[0]
    assert created.headers["Location"].startswith(f"http://localhost:{port}/tmf-api/")

    ticket_id = created.json()["id"]
    fetched = requests.get(f"{server}/troubleTicket/{ticket_id}", timeout=5)
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_served_api_answers_errors_as_tmf_errors(server: str) -> None:
    response = requests.get(f"{server}/troubleTicket/no-such-ticket", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["@type"] == "Error"


def test_a_bad_setting_stops_the_server_with_exit_code_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    env["TT_PORT"] = "eighty"
    result = subprocess.run(
        [sys.executable, "-m", "troubleticket", "serve", "--store", str(tmp_path / "x.sqlite3")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TT_PORT has value 'eighty'" in result.stderr
