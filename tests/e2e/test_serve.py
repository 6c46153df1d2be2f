"""The console entry point for real: a server process on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.builders import a_ticket

STARTUP_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
    env["TT_STORE"] = str(tmp_path / "served.sqlite3")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "troubleticket",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/tmf-api/troubleTicket/v5"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server exited with {process.returncode}:\n{output}")
            try:
                requests.get(f"{base}/troubleTicket?limit=0", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("server did not start listening in time")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


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
