"""The docs runner itself, on small Markdown strings and plain bash: no server needed.

What a writer relies on: which block is an example and which its expected output, skips and
serve lines, the hosts replaced, the JSON containment and text matching rules, one shell for a
document's blocks, and a background process not outliving its document.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.docs.runner import (
    NOTHING,
    ROOT,
    Example,
    Expected,
    Ran,
    Tally,
    check,
    failure,
    group_alive,
    json_mismatch,
    last_json,
    localize,
    read_document,
    resolve_settings,
    run_commands,
    shell_environment,
    text_mismatch,
)

FENCE = "```"


def doc(text: str) -> str:
    """Markdown written with ''' for fences, so that it can sit in a Python string."""
    return textwrap.dedent(text).lstrip("\n").replace("'''", FENCE)


# --- reading a document ---------------------------------------------------------------------------


def test_sh_blocks_are_examples_in_order_with_their_lines() -> None:
    document = read_document(
        doc("""
            # Title

            '''sh
            echo one
            '''

            '''yaml
            not: run
            '''

            '''sh
            echo two
            echo three
            '''
            """),
        "guide.md",
    )
    assert [(e.line, e.command) for e in document.examples] == [
        (3, "echo one\n"),
        (11, "echo two\necho three\n"),
    ]
    assert document.problems == ()


def test_the_block_right_after_is_the_expected_output() -> None:
    document = read_document(
        doc("""
            '''sh
            curl -s $API/troubleTicket/$ID
            '''


            '''json
            {"status": "acknowledged"}
            '''

            '''sh
            troubleticket --help
            '''
            '''text
            usage: troubleticket …
            '''
            """),
        "guide.md",
    )
    first, second = document.examples
    assert first.expected == Expected("json", '{"status": "acknowledged"}\n', 6)
    assert second.expected == Expected("text", "usage: troubleticket …\n", 13)


@pytest.mark.parametrize(
    "between",
    ["Which prints:\n", "<!-- a comment -->\n"],
    ids=["prose", "comment"],
)
def test_a_block_after_other_text_is_not_the_expected_output(between: str) -> None:
    text = (
        doc("""
        '''sh
        echo '{}'
        '''
        """)
        + between
        + doc("""
        '''json
        {}
        '''
        """)
    )
    (example,) = read_document(text, "guide.md").examples
    assert example.expected is None


def test_a_yaml_block_after_is_not_an_expected_output() -> None:
    (example,) = read_document(
        doc("""
        '''sh
        cat examples/policy.yaml
        '''

        '''yaml
        monitor: {interval: 1s}
        '''
        """),
        "guide.md",
    ).examples
    assert example.expected is None


def test_skip_comments_above_a_block() -> None:
    document = read_document(
        doc("""
            <!-- skip: needs Keycloak -->
            '''sh
            curl https://sso.example.com/token
            '''
            '''json
            {"access_token": "…"}
            '''

            <!-- skip: needs a real
                 MongoDB replica set -->

            <!-- serve: TT_LOG_LEVEL=debug --> <!-- a note -->
            '''sh
            TT_STORE=mongodb://db1/tt ./scripts/serve
            '''

            <!-- skip: far above -->
            Some prose.

            '''sh
            echo runs
            '''
            """),
        "guide.md",
    )
    keycloak, mongo, runs = document.examples
    assert keycloak.skip == "needs Keycloak"
    assert keycloak.expected is not None
    assert mongo.skip == "needs a real MongoDB replica set"
    assert runs.skip is None
    assert document.to_run == [runs]
    assert document.skipped == [keycloak, mongo]


def test_a_skip_beside_another_comment_on_its_line() -> None:
    (example,) = read_document(
        doc("""
            <!-- skip: needs Docker --> <!-- serve: TT_LOG_LEVEL=debug -->
            '''sh
            docker compose up
            '''
            """),
        "guide.md",
    ).examples
    assert example.skip == "needs Docker"


def test_a_comment_inside_a_code_block_is_no_skip() -> None:
    (example,) = read_document(
        doc("""
            '''html
            <!-- skip: only an example of HTML -->
            '''
            '''sh
            echo runs
            '''
            """),
        "guide.md",
    ).examples
    assert example.skip is None


def test_serve_lines_anywhere_later_ones_win() -> None:
    document = read_document(
        doc("""
            <!-- serve: TT_POLICY=examples/policy-fast.yaml TT_LOG_LEVEL=debug -->
            Text.
            <!-- serve: TT_LOG_LEVEL=warning TT_DELIVERY_SCHEDULE="0,1s,1s" -->
            """),
        "guide.md",
    )
    assert document.serve == {
        "TT_POLICY": "examples/policy-fast.yaml",
        "TT_LOG_LEVEL": "warning",
        "TT_DELIVERY_SCHEDULE": "0,1s,1s",
    }


def test_convention_mistakes_are_problems() -> None:
    document = read_document(
        doc("""
            <!-- serve: TT_POLICY examples/policy.yaml -->

            '''bash
            curl -s localhost:8080/tmf-api/troubleTicket/v5/troubleTicket
            '''
            """),
        "guide.md",
    )
    name, value, fence = document.problems
    assert name == "guide.md:1: a serve: setting is NAME=value, not 'TT_POLICY'"
    assert value == "guide.md:1: a serve: setting is NAME=value, not 'examples/policy.yaml'"
    assert fence.startswith("guide.md:3: a 'bash' block: write sh")


def test_fences_in_list_items_tildes_and_longer_fences() -> None:
    document = read_document(
        doc("""
            1. Start:

               '''sh
               echo indented
                 echo more
               '''

            ~~~sh
            echo tildes
            ~~~

            ''''markdown
            '''sh
            echo only shown
            '''
            ''''
            """),
        "guide.md",
    )
    assert [e.command for e in document.examples] == [
        "echo indented\n  echo more\n",
        "echo tildes\n",
    ]


def test_hosts_are_replaced() -> None:
    text = 'curl http://localhost:8080/x -d \'{"callback": "http://localhost:8081/events"}\''
    assert localize(text, 40001, 40002) == (
        'curl http://127.0.0.1:40001/x -d \'{"callback": "http://127.0.0.1:40002/events"}\''
    )


def test_setting_values_naming_repository_files_become_absolute(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "policy.yaml").write_text("{}")
    settings = {
        "TT_POLICY": "examples/policy.yaml",
        "TT_EGRESS_ALLOW": "127.0.0.0/8",
        "TT_DISPATCH_INTERVAL": "100ms",
        "TT_STORE": "mongodb://localhost/tt",
        "TT_PARTNERS": "examples/absent.yaml",
    }
    assert resolve_settings(settings, tmp_path) == {
        **settings,
        "TT_POLICY": str(tmp_path / "examples" / "policy.yaml"),
    }


# --- matching outputs -----------------------------------------------------------------------------


def test_last_json_after_headers() -> None:
    output = 'HTTP/1.1 201 Created\r\nlocation: http://x/1\r\n\r\n{"id": "1", "note": [{"a": 1}]}'
    assert last_json(output) == {"id": "1", "note": [{"a": 1}]}


def test_last_json_is_the_last_of_several() -> None:
    assert last_json('{"id": "1"}\n[1, 2]\nsome words\n') == [1, 2]
    assert last_json('{"id": "1"}{"id": "2"}') == {"id": "2"}


def test_last_json_skips_braces_that_are_not_json() -> None:
    assert last_json('link: <…?after={x}>; rel="next"\n{"ok": true}\nnot {json') == {"ok": True}


def test_last_json_scalar_line() -> None:
    assert last_json('{"total": 3}\n3\n') == 3
    assert last_json('"acknowledged"\n') == "acknowledged"


def test_last_json_none() -> None:
    assert last_json("") is NOTHING
    assert last_json("curl: (7) Failed to connect\n") is NOTHING


ACTUAL = {
    "id": "8f1c",
    "href": "http://127.0.0.1:40001/tmf-api/troubleTicket/v5/troubleTicket/8f1c",
    "status": "acknowledged",
    "severity": "Major",
    "progress": 50,
    "late": False,
    "name": None,
    "note": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
}


@pytest.mark.parametrize(
    "expected",
    [
        {"status": "acknowledged"},
        {"id": "…", "href": "…/troubleTicket/…", "progress": 50.0, "late": False, "name": None},
        {"note": [{"text": "a"}, {"text": "b"}, {"text": "c"}]},
        {"note": [{"text": "a"}, "…"]},
        {"note": ["…", {"text": "b"}, "…"]},
        {"note": [{}, {}, {}]},
        {"note": "…"},
        {},
    ],
)
def test_json_contained(expected: object) -> None:
    assert json_mismatch(expected, ACTUAL) is None


@pytest.mark.parametrize(
    ("expected", "problem"),
    [
        ({"status": "inProgress"}, '$.status: expected "inProgress", got "acknowledged"'),
        ({"missing": "…"}, "$.missing: missing (the object has id, href"),
        ({"note": [{"text": "a"}]}, "$.note: expected 1 elements, got 3"),
        ({"note": [{"text": "a"}, {}, {}, {}, "…"]}, "$.note: expected at least 4 elements"),
        ({"note": [{"text": "b"}, "…"]}, '$.note[0].text: expected "b", got "a"'),
        ({"href": "https://…"}, '$.href: expected "https://…", got "http://127.0.0.1'),
        ({"progress": "50"}, '$.progress: expected "50", got 50'),
        ({"late": 0}, "$.late: expected 0, got false"),
        ({"name": "…x"}, '$.name: expected "…x", got null'),
        ({"status": {"id": "1"}}, '$.status: expected an object, got "acknowledged"'),
        ({"@type": "TroubleTicket"}, "$['@type']: missing"),
        ([ACTUAL], "$: expected an array, got {"),
    ],
)
def test_json_not_contained(expected: object, problem: str) -> None:
    found = json_mismatch(expected, ACTUAL)
    assert found is not None and found.startswith(problem), found


def test_an_ellipsis_string_matches_anything_even_null() -> None:
    assert json_mismatch({"name": "…"}, ACTUAL) is None
    assert json_mismatch("…", None) is None


OUTPUT = """\
HTTP/1.1 200 OK
x-total-count: 2
x-result-count: 2
link: <http://127.0.0.1:40001/x?offset=0&limit=20>; rel="first"

[{"id": "1"}]
"""


@pytest.mark.parametrize(
    "expected",
    [
        "HTTP/1.1 200 OK\nx-result-count: 2\n",
        '  x-total-count: 2  \n\n\nlink: <…>; rel="first"\n',
        "# a comment, not checked\nHTTP/1.1 200 …\n",
        "…\n…\n…\n",
        "",
    ],
)
def test_text_matched(expected: str) -> None:
    assert text_mismatch(expected, OUTPUT) is None


@pytest.mark.parametrize(
    ("expected", "problem"),
    [
        ("HTTP/1.1 404 Not Found\n", "no output line matches 'HTTP/1.1 404 Not Found'"),
        ("x-result-count: 2\nx-total-count: 2\n", "no output line after output line 3 matches"),
        ("x-total-count: …0\n", "no output line matches 'x-total-count: …0'"),
        ("HTTP/1.1\n", "no output line matches 'HTTP/1.1'"),
    ],
)
def test_text_not_matched(expected: str, problem: str) -> None:
    found = text_mismatch(expected, OUTPUT)
    assert found is not None and found.startswith(problem), found


PORTS = (40001, 40002)


def test_check_without_expected_output_wants_success() -> None:
    example = Example(3, "false\n")
    assert check(example, Ran("", 0), PORTS) is None
    assert check(example, Ran("", 1), PORTS) == "it failed (exit status 1)"
    assert check(example, Ran("", None), PORTS) == "it did not finish"


def test_check_with_expected_output_looks_at_the_output_only() -> None:
    expected = Expected("json", '{"href": "http://localhost:8080/tmf-api/…"}', 7)
    example = Example(3, "curl -s ...; false\n", expected)
    output = '{"href": "http://127.0.0.1:40001/tmf-api/troubleTicket/v5/troubleTicket/1"}'
    assert check(example, Ran(output, 1), PORTS) is None
    assert check(example, Ran("nothing", 0), PORTS) == "the output has no JSON in it"
    broken = Example(3, "true\n", Expected("json", '{"a": 1, …}', 7))
    problem = check(broken, Ran("{}", 0), PORTS)
    assert problem is not None and problem.startswith("the expected json block (line 7) is not")


def test_a_failure_names_document_line_command_expected_and_output() -> None:
    example = Example(12, "curl -s $API/troubleTicket/$ID\n", Expected("json", '{"a": 1}\n', 16))
    output = "\n".join(f"line {n}" for n in range(100))
    message = failure("docs/guide.md", example, Ran(output, 0), "$.a: missing")
    assert message.startswith("docs/guide.md:12: $.a: missing\n  command:\n")
    assert "    curl -s $API/troubleTicket/$ID" in message
    assert '  expected (json, line 16):\n    {"a": 1}' in message
    assert "  output (exit status 0):\n    line 0\n" in message
    assert "(70 lines left out)" in message and "    line 99" in message


def test_tally_summary() -> None:
    tally = Tally(documents=9, examples=87)
    assert list(tally.summary()) == ["docs: 87 examples run in 9 documents, none skipped"]
    tally.skipped += [("README.md", 3, "needs Keycloak"), ("docs/b.md", 20, "needs MongoDB")]
    assert list(tally.summary()) == [
        "docs: 87 examples run in 9 documents, 2 skipped:",
        "  README.md:3: needs Keycloak",
        "  docs/b.md:20: needs MongoDB",
    ]


# --- one shell per document -----------------------------------------------------------------------


def run(tmp_path: Path, *commands: str, timeout: float = 30.0) -> list[Ran]:
    result = run_commands(list(commands), tmp_path, shell_environment(40002), block_timeout=timeout)
    return [result.ran[index] for index in sorted(result.ran)]


def test_blocks_share_one_shell_and_report_each_status(tmp_path: Path) -> None:
    first, second, third = run(
        tmp_path,
        'ID=$(echo \'{"id": "8f1c"}\' | ./scripts/field id)\nsay() { echo "said $*"; }\n',
        'echo "id is $ID"; say hello\necho oops >&2\n',
        'printf "no newline at the end"\ntest -n ""\n',
    )
    assert first == Ran("", 0)
    assert second.output.split() == ["id", "is", "8f1c", "said", "hello", "oops"]
    assert second.status == 0
    assert third.output == "no newline at the end"
    assert third.status == 1


def test_the_shell_runs_in_the_repository_with_the_virtualenv(tmp_path: Path) -> None:
    (ran,) = run(tmp_path, 'pwd; command -v troubleticket; echo "$LISTENER_PORT"; env | grep ^TT_')
    lines = ran.output.split()
    assert lines[0] == str(ROOT)
    assert lines[1].endswith("/bin/troubleticket")
    assert lines[2] == "40002"
    assert not any(line.startswith("TT_") for line in lines)


def test_a_block_that_hangs_stops_the_document(tmp_path: Path) -> None:
    result = run_commands(
        ["echo started", "sleep 30", "echo never"],
        tmp_path,
        shell_environment(40002),
        block_timeout=0.5,
    )
    assert result.stopped == "it did not finish within 0.5 s"
    assert result.ran == {0: Ran("started\n", 0), 1: Ran("", None)}


def test_a_block_that_exits_the_shell(tmp_path: Path) -> None:
    result = run_commands(["echo bye; exit 3", "echo never"], tmp_path, shell_environment(40002))
    assert result.stopped == "the shell exited (status 3)"
    assert result.ran == {0: Ran("bye\n", None)}


def test_background_processes_end_with_the_document(tmp_path: Path) -> None:
    pid_file = tmp_path / "sleeper.pid"
    (ran,) = run(tmp_path, f"sleep 300 &\necho $! > {pid_file}\n")
    assert ran.status == 0
    pid = int(pid_file.read_text())
    assert not _running(pid)
    assert not group_alive(pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_environment_keeps_the_readers_path_after_the_virtualenv() -> None:
    env = shell_environment(40002)
    first, _, rest = env["PATH"].partition(os.pathsep)
    assert first.endswith("bin") and rest == os.environ.get("PATH", "")
