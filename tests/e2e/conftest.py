"""Real processes on 127.0.0.1 for the end-to-end tests; every one is stopped when its test ends.

* ``server``: a ``troubleticket serve`` with default settings on a fresh SQLite file; its base URL.
* ``server_factory``: starts ``serve`` and ``worker`` processes with extra ``TT_*`` settings on a
  given store file, and lets a test SIGKILL and restart them on the same store.
* ``listener``: an HTTP listener that records the notifications it is sent (``listener.py``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import pytest
import requests

from tests.e2e.listener import Listener

STARTUP_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
API_ROOT = "/tmf-api/troubleTicket/v5"


LOCAL_NETWORKS = "127.0.0.0/8,::1/128"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One ``troubleticket serve`` (or ``worker``) on a store file, which it may be restarted on.

    Each start takes a fresh port; ``base`` is the API root of the current run. Output goes to a
    log file per run (a pipe nobody reads would block a chatty server).
    """

    def __init__(
        self, command: str, store: Path, env: Mapping[str, str], log_dir: Path, name: str
    ) -> None:
        self.command = command
        self.store = store
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("TT_")}
        # the tests' listeners and partners are on this host: callbacks there are allowed
        local = {"TT_EGRESS_ALLOW": LOCAL_NETWORKS}
        self._env |= {"PYTHONUNBUFFERED": "1", "TT_STORE": str(store), **local, **env}
        self._log_dir = log_dir
        self._name = name
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None
        self.runs = 0

    @property
    def base(self) -> str:
        assert self.port is not None, f"{self._name} is not a running server"
        return f"http://127.0.0.1:{self.port}{API_ROOT}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def log_path(self) -> Path:
        return self._log_dir / f"{self._name}-{self.runs}.log"

    def log(self) -> str:
        """The output of the current (or last) run."""
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, keep_port: bool = False) -> str:
        """Start a run and, for ``serve``, wait until it answers; returns ``base`` (or "").

        ``keep_port``: listen on the port of the run before (the URLs others hold stay good).
        """
        assert not self.running(), f"{self._name} is already running"
        self.runs += 1
        self._close_log()
        self._log = self.log_path.open("wb")
        args = [sys.executable, "-m", "troubleticket", self.command]
        if self.command == "serve":
            if not (keep_port and self.port is not None):
                self.port = free_port()
            args += ["--host", "127.0.0.1", "--port", str(self.port)]
        self._process = subprocess.Popen(
            args, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        if self.command == "serve":
            self._wait_until_serving()
            return self.base
        return ""

    def _wait_until_serving(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                pytest.fail(f"{self._name} exited with {self._process.returncode}:\n{self.log()}")
            try:
                requests.get(f"{self.base}/troubleTicket?limit=0", timeout=1)
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"{self._name} did not start listening in time:\n{self.log()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
        return self._reap()

    def restart(self, *, keep_port: bool = False) -> str:
        """Start again on the same store (after ``kill`` or ``stop``); returns the new ``base``."""
        if self.running():
            self.stop()
        return self.start(keep_port=keep_port)

    def _reap(self) -> int | None:
        if self._process is None:
            return None
        code = self._process.wait()
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class ServerFactory:
    """Starts server and worker processes and stops every one of them in ``close``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._processes: list[ServerProcess] = []

    def _launch(
        self,
        command: str,
        store: Path | None,
        env: Mapping[str, str] | None,
        port: int | None = None,
    ) -> ServerProcess:
        name = f"{command}{len(self._processes) + 1}"
        process = ServerProcess(
            command,
            store or self._directory / f"{name}.sqlite3",
            env or {},
            self._directory,
            name,
        )
        self._processes.append(process)
        process.port = port
        process.start(keep_port=port is not None)
        return process

    def serve(
        self,
        store: Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
    ) -> ServerProcess:
        """A running ``troubleticket serve`` on ``store`` (a new file when not given).

        ``port``: listen there rather than on a free port of its choosing, for settings that
        must name the port before the start (``TT_BASE_URL``); ``free_port()`` finds one.
        """
        return self._launch("serve", store, env, port)

    def worker(self, store: Path, env: Mapping[str, str] | None = None) -> ServerProcess:
        """A running ``troubleticket worker`` on ``store``."""
        return self._launch("worker", store, env)

    def close(self) -> None:
        for process in reversed(self._processes):
            process.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def server(server_factory: ServerFactory, tmp_path: Path) -> str:
    return server_factory.serve(tmp_path / "served.sqlite3").base


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener().start()
    try:
        yield running
    finally:
        running.stop()
