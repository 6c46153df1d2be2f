"""Runs the shell examples of the project's documents against a real server and checks them.

These are the conventions README.md and docs/**/*.md are written to; this docstring is their
reference.

* Each document is one test, against its own fresh server: ``python -m troubleticket serve``
  on 127.0.0.1 and a free port, a fresh SQLite store, ``TT_EGRESS_ALLOW=127.0.0.0/8``,
  ``TT_DISPATCH_INTERVAL=100ms``, ``TT_BASE_URL`` its real address, and whatever the document
  asks for in lines ``<!-- serve: NAME=value NAME=value -->`` anywhere in it (later ones win;
  a value naming a file or directory of the repository, ``TT_POLICY=examples/policy-fast.yaml``,
  is passed as its absolute path). A document without ``sh`` blocks is skipped: "no examples".
* Commands are the fenced blocks whose info string is ``sh``. They run in document order in
  one bash process per document (variables and functions carry over from block to block), in
  the repository root, with the repository's ``.venv/bin`` first on PATH (as after
  ``. .venv/bin/activate``), stdin empty and stderr merged into stdout. No ``TT_*`` variable
  is set but ``TT_STORE``, the server's store, so that the operator's commands
  (``troubleticket deliveries list``, ``tickets at-risk``, ``export``) see the server's data
  without ``--store``, as a reader's do (both default to ./data/). ``TMPDIR`` is a
  directory of the test's own: an example that writes files writes them in ``$(mktemp -d)``,
  never in the repository. Each block has 60 s; one that takes longer stops the document.
* ``jq`` is not assumed: ``... | ./scripts/field id`` prints a field of the JSON document on
  stdin (dotted names reach into objects, numbers index arrays: ``./scripts/field 0.id``).
* Hosts: ``localhost:8080`` (the server) and ``localhost:8081`` (an event listener) are
  replaced, in commands and in expected outputs, by ``127.0.0.1`` and the ports chosen.
  ``python3 examples/listener.py &`` listens on the listener's (``LISTENER_PORT``, which it
  reads when given no port), prints a line per event and answers ``GET /events`` with those
  received (``?count=N``: once N have arrived). Everything a document starts in the
  background is killed with its bash process (its process group) when the document ends.
* Expected output: the fenced block right after a ``sh`` block (only blank lines between)
  whose info string is ``json`` or ``text``. Without one the block must succeed (the exit
  status of its last command is 0); with one only its output is checked:

  - ``json``: the last complete JSON value the block printed (headers before it are fine)
    must contain the expected one. Objects: every expected key present with a matching value,
    other keys allowed. Arrays: the same length, matched element by element, unless the last
    expected element is the string ``"…"``, which allows more. The string ``"…"`` anywhere else
    matches any value; a string with ``…`` in it matches a string with anything in place of
    each ``…`` (``"…/troubleTicket/…"``). Numbers, booleans and null must be equal.
  - ``text``: every non-empty expected line, in order, must match a line of the output (other
    lines may come between), ignoring white space at either end; ``…`` matches any characters.
    Expected lines starting with ``#`` are comments and not checked. The match is literal, and
    the server's JSON is compact: show JSON in a ``json`` block.

* Skips: a comment ``<!-- skip: the reason -->`` just above a ``sh`` block (blank lines and
  other comments may come between) skips it and its expected output; the reason is reported.
  A document whose blocks are all skipped is reported skipped, with the reasons.
* Failures name the document, the block's line, its command, what was expected and what came
  out. A block that does not succeed does not stop the ones after it.
* Other shell-looking fences (``bash``, ``shell``, ``console``, ``zsh``) are refused: an
  example is either run (``sh``) or skipped with a reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.docs import markdown
from tests.e2e.conftest import ServerFactory, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVER_HOST = "localhost:8080"
LISTENER_HOST = "localhost:8081"
ELLIPSIS = "…"
BLOCK_TIMEOUT_S = 60.0
STOP_GRACE_S = 2.0
POLL_S = 0.05
SERVER_SETTINGS = {"TT_EGRESS_ALLOW": "127.0.0.0/8", "TT_DISPATCH_INTERVAL": "100ms"}
OTHER_SHELLS = frozenset({"bash", "shell", "console", "zsh", "shell-session"})
SERVE = re.compile(r"^\s*serve:(?P<settings>.*)$", re.DOTALL)
SKIP = re.compile(r"^\s*skip:(?P<reason>.*)$", re.DOTALL)
SHOWN_LINES = 30
SHOWN_LINE_CHARS = 240


# --- reading a document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a block's output must show: ``kind`` is the info string, ``line`` its fence's."""

    kind: Literal["json", "text"]
    text: str
    line: int


@dataclass(frozen=True)
class Example:
    """A ``sh`` block: its fence's line, its commands, what it must show, why it is skipped."""

    line: int
    command: str
    expected: Expected | None = None
    skip: str | None = None


@dataclass(frozen=True)
class Document:
    """A document's examples and the server settings it asks for.

    ``problems`` are mistakes in the conventions themselves (a ``serve:`` line that does not
    say ``NAME=value``, a ``bash`` fence), reported before anything runs.
    """

    name: str
    examples: tuple[Example, ...]
    serve: dict[str, str]
    problems: tuple[str, ...] = ()

    @property
    def to_run(self) -> list[Example]:
        return [example for example in self.examples if example.skip is None]

    @property
    def skipped(self) -> list[Example]:
        return [example for example in self.examples if example.skip is not None]


def read_document(text: str, name: str) -> Document:
    """The examples of a Markdown text; ``name`` is how messages call the document."""
    blocks = markdown.fenced_blocks(text)
    notes = markdown.comments(text)
    lines = text.splitlines()
    problems: list[str] = []
    serve: dict[str, str] = {}
    for note in notes:
        asked = SERVE.match(note.body)
        if asked is None:
            continue
        for word in shlex.split(asked["settings"]):
            setting, equals, value = word.partition("=")
            if not equals or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", setting):
                problems.append(f"{name}:{note.line}: a serve: setting is NAME=value, not {word!r}")
                continue
            serve[setting] = value
    examples = []
    for index, block in enumerate(blocks):
        if block.language in OTHER_SHELLS:
            problems.append(
                f"{name}:{block.line}: a {block.language!r} block: write sh, so that it is run, "
                "and <!-- skip: why --> above it if it cannot be"
            )
        if block.language != "sh":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        examples.append(
            Example(
                block.line,
                block.body,
                _expected(block, following, lines),
                _skip_reason(block, notes, lines),
            )
        )
    return Document(name, tuple(examples), serve, tuple(problems))


def _expected(
    block: markdown.Block, following: markdown.Block | None, lines: list[str]
) -> Expected | None:
    """The block right after ``block`` if only blank lines part them and it shows output."""
    if following is None or following.language not in ("json", "text"):
        return None
    between = lines[block.end : following.line - 1]
    if any(line.strip() for line in between):
        return None
    kind: Literal["json", "text"] = "json" if following.language == "json" else "text"
    return Expected(kind, following.body, following.line)


def _skip_reason(
    block: markdown.Block, notes: list[markdown.Comment], lines: list[str]
) -> str | None:
    """The reason of a ``skip:`` comment among those right above ``block``, if there is one."""
    number = block.line - 1
    while number >= 1:
        if not lines[number - 1].strip():
            number -= 1
            continue
        ending = [note for note in notes if note.end == number]
        if not ending or not lines[number - 1].rstrip().endswith("-->"):
            return None
        for note in ending:
            skipped = SKIP.match(note.body)
            if skipped is not None:
                return " ".join(skipped["reason"].split()) or "no reason given"
        number = min(note.line for note in ending) - 1
    return None


def localize(text: str, server_port: int, listener_port: int) -> str:
    """``text`` with the documents' hosts replaced by the ones of this run."""
    return text.replace(SERVER_HOST, f"127.0.0.1:{server_port}").replace(
        LISTENER_HOST, f"127.0.0.1:{listener_port}"
    )


def resolve_settings(settings: Mapping[str, str], root: Path = ROOT) -> dict[str, str]:
    """``settings`` with values that name a file or directory of ``root`` made absolute: the
    server does not run in the repository root, the documents' reader does."""
    resolved = {}
    for name, value in settings.items():
        candidate = root / value
        relative = value and not Path(value).is_absolute() and "://" not in value
        resolved[name] = str(candidate.resolve()) if relative and candidate.exists() else value
    return resolved


# --- matching outputs -----------------------------------------------------------------------------


NOTHING = object()


def last_json(output: str) -> Any:
    """The last complete JSON value in ``output`` (``NOTHING`` if there is none).

    Objects and arrays are found wherever they start, so that headers (``curl -si``) or other
    lines may come first; a scalar counts when it is a whole line after the last of them.
    """
    decoder = json.JSONDecoder()
    found: Any = NOTHING
    end = 0
    position = 0
    while True:
        starts = [at for at in (output.find("{", position), output.find("[", position)) if at >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, stop = decoder.raw_decode(output, start)
        except ValueError:
            position = start + 1
            continue
        found, end, position = value, stop, stop
    for line in reversed(output[end:].splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                break
    return found


def _pattern(expected: str) -> re.Pattern[str]:
    """``expected`` as a whole-string pattern, each ``…`` matching any characters."""
    return re.compile(".*".join(re.escape(part) for part in expected.split(ELLIPSIS)), re.DOTALL)


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{key!r}]"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def json_mismatch(expected: Any, actual: Any, path: str = "$") -> str | None:
    """Where ``actual`` does not contain ``expected`` (the conventions above), or None."""
    if expected == ELLIPSIS:
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {_shown(actual)}"
        for key, value in expected.items():
            if key not in actual:
                keys = ", ".join(map(str, actual)) or "no keys"
                keys = keys if len(keys) <= 160 else keys[:157] + "..."
                return f"{_at(path, key)}: missing (the object has {keys})"
            found = json_mismatch(value, actual[key], _at(path, key))
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {_shown(actual)}"
        open_ended = bool(expected) and expected[-1] == ELLIPSIS
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            wanted = f"at least {len(items)}" if open_ended else str(len(items))
            return f"{path}: expected {wanted} elements, got {len(actual)}: {_shown(actual)}"
        for index, item in enumerate(items):
            found = json_mismatch(item, actual[index], _at(path, index))
            if found:
                return found
        return None
    if isinstance(expected, str) and ELLIPSIS in expected:
        if isinstance(actual, str) and _pattern(expected).fullmatch(actual):
            return None
        return f"{path}: expected {_shown(expected)}, got {_shown(actual)}"
    same_kind = isinstance(expected, bool) == isinstance(actual, bool) and (
        type(expected) is type(actual)
        or (isinstance(expected, int | float) and isinstance(actual, int | float))
    )
    if same_kind and expected == actual:
        return None
    return f"{path}: expected {_shown(expected)}, got {_shown(actual)}"


def text_mismatch(expected: str, output: str) -> str | None:
    """The first expected line not found (in order) among the output's lines, or None."""
    actual = [line.strip() for line in output.splitlines()]
    position = 0
    for wanted in expected.splitlines():
        wanted = wanted.strip()
        if not wanted or wanted.startswith("#"):
            continue
        pattern = _pattern(wanted)
        for index in range(position, len(actual)):
            if pattern.fullmatch(actual[index]):
                position = index + 1
                break
        else:
            after = f" after output line {position}" if position else ""
            return f"no output line{after} matches {wanted!r}"
    return None


# --- running a document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What one block printed; ``status`` is None when it did not finish."""

    output: str
    status: int | None


@dataclass(frozen=True)
class Run:
    """The blocks that started, by their index among the commands run, and why the run stopped
    before the last one ended (None: it did not)."""

    ran: dict[int, Ran]
    stopped: str | None = None


def script(commands: list[str], mark: str) -> str:
    """One bash script for ``commands``, each between markers that carry its exit status."""
    parts = [f"__docs_mark() {{ printf '\\n{mark} %s\\n' \"$*\"; }}"]
    for index, command in enumerate(commands):
        parts += [f"__docs_mark begin {index}", command.rstrip("\n"), f"__docs_mark end {index} $?"]
    return "\n".join(parts) + "\n"


def split_output(output: str, mark: str) -> dict[int, Ran]:
    """Each block's part of the bash process's output, by the markers of ``script``."""
    marker = re.compile(rf"^{re.escape(mark)} (begin|end) (\d+)(?: (\d+))?$")
    ran: dict[int, Ran] = {}
    current: int | None = None
    lines: list[str] = []
    for line in output.splitlines(keepends=True):
        found = marker.match(line.rstrip("\n"))
        if found is None:
            if current is not None:
                lines.append(line)
        elif found[1] == "begin":
            current, lines = int(found[2]), []
        elif current is not None:
            # the end marker starts with a line break of its own: not the block's
            printed = "".join(lines)
            ran[current] = Ran(printed[:-1] if printed.endswith("\n") else printed, int(found[3]))
            current = None
    if current is not None:
        ran[current] = Ran("".join(lines), None)
    return ran


def shell_environment(
    listener_port: int, scratch: Path | None = None, root: Path = ROOT
) -> dict[str, str]:
    """The environment of a document's bash: the reader's, minus its ``TT_*`` settings (the
    documents' commands must not depend on them), with the project's virtualenv activated and
    ``TMPDIR`` at ``scratch``, so that what an example writes with ``mktemp`` goes away."""
    venv = root / ".venv"
    binaries = venv / "bin" if (venv / "bin").is_dir() else Path(sys.executable).parent
    env = {name: value for name, value in os.environ.items() if not name.startswith("TT_")}
    env["PATH"] = f"{binaries}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(binaries.parent)
    env["LISTENER_PORT"] = str(listener_port)
    if scratch is not None:
        env["TMPDIR"] = str(scratch)
    return env


def run_commands(
    commands: list[str],
    workdir: Path,
    env: Mapping[str, str],
    *,
    cwd: Path = ROOT,
    block_timeout: float = BLOCK_TIMEOUT_S,
) -> Run:
    """Run ``commands`` in one bash process, in order; kill everything it started afterwards."""
    mark = f"@@docs-{secrets.token_hex(8)}@@"
    path = workdir / "examples.sh"
    path.write_text(script(commands, mark))
    log = workdir / "examples.out"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", str(path)],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            stopped = _watch(process, log, mark, len(commands), block_timeout)
        finally:
            stop_group(process)
    return Run(split_output(log.read_text(errors="replace"), mark), stopped)


def _watch(
    process: subprocess.Popen[bytes], log: Path, mark: str, count: int, timeout: float
) -> str | None:
    """Wait until the last block has ended; why the run stopped before that, or None."""
    current, since = -1, time.monotonic()
    while True:
        exited = process.poll() is not None
        ran = split_output(log.read_text(errors="replace"), mark)
        if len(ran) == count and all(done.status is not None for done in ran.values()):
            return None
        if exited:
            return f"the shell exited (status {process.returncode})"
        started = max(ran, default=-1)
        if started != current:
            current, since = started, time.monotonic()
        if current >= 0 and time.monotonic() - since > timeout:
            return f"it did not finish within {timeout:g} s"
        time.sleep(POLL_S)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own and everything else in its process
    group (what a document started with ``&``): SIGTERM, then SIGKILL to what is left."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            if process.poll() is not None and not group_alive(process.pid):
                return
            time.sleep(POLL_S)
    process.wait()


def group_alive(group: int) -> bool:
    """Whether a process of ``group`` is still running (zombies do not count: nobody may be
    left to reap them). Reads /proc; where there is none, the group counts as gone."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


# --- checking -------------------------------------------------------------------------------------


def check(example: Example, ran: Ran | None, ports: tuple[int, int]) -> str | None:
    """What is wrong with one block's run, in a few words, or None."""
    if ran is None:
        return "it did not run"
    if ran.status is None:
        return "it did not finish"
    expected = example.expected
    if expected is None:
        return None if ran.status == 0 else f"it failed (exit status {ran.status})"
    wanted = localize(expected.text, *ports)
    if expected.kind == "text":
        return text_mismatch(wanted, ran.output)
    try:
        value = json.loads(wanted)
    except ValueError as error:
        return f"the expected json block (line {expected.line}) is not JSON: {error}"
    actual = last_json(ran.output)
    if actual is NOTHING:
        return "the output has no JSON in it"
    return json_mismatch(value, actual)


def _trimmed(text: str, indent: str = "    ") -> str:
    lines = [
        line if len(line) <= SHOWN_LINE_CHARS else line[: SHOWN_LINE_CHARS - 3] + "..."
        for line in text.rstrip().splitlines()
    ]
    if len(lines) > SHOWN_LINES:
        head, tail = lines[: SHOWN_LINES - 10], lines[-10:]
        lines = [*head, f"... ({len(lines) - len(head) - len(tail)} lines left out) ...", *tail]
    return "\n".join(indent + line for line in lines) if lines else f"{indent}(nothing)"


def failure(document: str, example: Example, ran: Ran | None, problem: str) -> str:
    """A message a docs writer can act on: where, what ran, what was expected, what came out."""
    parts = [f"{document}:{example.line}: {problem}", "  command:", _trimmed(example.command)]
    if example.expected is not None:
        parts += [
            f"  expected ({example.expected.kind}, line {example.expected.line}):",
            _trimmed(example.expected.text),
        ]
    if ran is not None:
        status = "did not finish" if ran.status is None else f"exit status {ran.status}"
        parts += [f"  output ({status}):", _trimmed(ran.output)]
    return "\n".join(parts)


@dataclass(frozen=True)
class Report:
    """A document's run: how many examples started, and one message per failure."""

    ran: int
    failures: list[str]


def run_document(
    document: Document,
    workdir: Path,
    *,
    root: Path = ROOT,
    block_timeout: float = BLOCK_TIMEOUT_S,
) -> Report:
    """Run a document's examples (not the skipped ones) against a server of its own."""
    examples = document.to_run
    scratch = workdir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    factory = ServerFactory(workdir)
    try:
        port, listener_port = free_port(), free_port()
        settings = {
            **SERVER_SETTINGS,
            "TT_BASE_URL": f"http://127.0.0.1:{port}",
            **resolve_settings(document.serve, root),
        }
        server = factory.serve(workdir / "docs.sqlite3", settings, port=port)
        # as for a reader, whose server and command line both use ./data/ unless told otherwise
        shell = shell_environment(listener_port, scratch, root)
        shell["TT_STORE"] = settings.get("TT_STORE", str(server.store))
        run = run_commands(
            [localize(example.command, port, listener_port) for example in examples],
            workdir,
            shell,
            cwd=root,
            block_timeout=block_timeout,
        )
    finally:
        factory.close()
    failures = []
    for index, example in enumerate(examples):
        ran = run.ran.get(index)
        if ran is None:
            left = len(examples) - index
            failures.append(
                f"{document.name}: {left} examples from line {example.line} on did not run"
            )
            break
        problem = check(example, ran, (port, listener_port))
        if ran.status is None and run.stopped:
            problem = run.stopped
        if problem:
            failures.append(failure(document.name, example, ran, problem))
    if failures:
        failures.append(f"(the server's log: {server.log_path})")
    return Report(len(run.ran), failures)


# --- the session's count --------------------------------------------------------------------------


@dataclass
class Tally:
    """What the documents test did over the session, for the summary line."""

    documents: int = 0
    examples: int = 0
    skipped: list[tuple[str, int, str]] = field(default_factory=list)

    def summary(self) -> Iterator[str]:
        """The count, then each skipped example with its reason: what the run did not check."""
        skipped = f"{len(self.skipped)} skipped:" if self.skipped else "none skipped"
        yield f"docs: {self.examples} examples run in {self.documents} documents, {skipped}"
        for document, line, reason in self.skipped:
            yield f"  {document}:{line}: {reason}"


TALLY = Tally()
