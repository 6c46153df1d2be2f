"""The runner end to end on documents written here: a real server, a real listener, bash.

What the project's documents will do, in small: pick an id with ``./scripts/field`` and use it
in a later block, show JSON and text output, ask the server for settings, subscribe a hub to
``examples/listener.py`` started in the background and read the event it received.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs.runner import group_alive, read_document, run_document

FENCE = "```"

PASSING = """
<!-- serve: TT_POLICY=examples/policy-fast.yaml TT_DEFAULT_PAGE_SIZE=1 -->
# A guide

<!-- skip: shows how to start a server; the runner starts one -->
'''sh
./scripts/serve
'''

'''sh
API=http://localhost:8080/tmf-api/troubleTicket/v5
JSON='Content-Type: application/json'
for description in "No dial tone" "No sync"; do
  ID=$(curl -s -X POST $API/troubleTicket -H "$JSON" -d '{"@type": "TroubleTicket",
    "description": "'"$description"'", "severity": "Major", "ticketType": "incident"}' \\
    | ./scripts/field id)
done
'''

'''sh
curl -s $API/troubleTicket/$ID
'''

'''json
{"id": "…", "href": "http://localhost:8080/tmf-api/troubleTicket/v5/troubleTicket/…",
 "description": "No sync", "status": "acknowledged",
 "statusChangeHistory": [{"status": "acknowledged", "statusChangeDate": "…"}]}
'''

The default page size of this document's server is 1:

'''sh
curl -si "$API/troubleTicket?fields=description"
'''

'''text
HTTP/1.1 200 OK
x-total-count: 2
x-result-count: 1
# the body follows the headers
# the server's JSON is compact
[{"id":"…","description":"No dial tone"}]
'''

'''sh
python3 examples/listener.py &
echo $! > PID_FILE
until curl -s http://localhost:8081/events > /dev/null; do sleep 0.1; done
curl -s -o /dev/null -w '%{http_code}\\n' -X POST $API/hub -H "$JSON" \\
  -d '{"@type": "Hub", "callback": "http://localhost:8081/events",
       "query": "eventType=TroubleTicketStatusChangeEvent"}'
curl -s -o /dev/null -X PATCH $API/troubleTicket/$ID \\
  -H 'Content-Type: application/merge-patch+json' \\
  -d '{"@type": "TroubleTicket", "status": "inProgress"}'
curl -s "http://localhost:8081/events?count=1"
'''

'''json
[{"eventType": "TroubleTicketStatusChangeEvent",
  "event": {"troubleTicket": {"description": "No sync", "status": "inProgress"}}}]
'''

Files an example writes go to a directory of the test's own; the command line sees the
server's store:

'''sh
DIR=$(mktemp -d)
echo "$DIR"
troubleticket export -o $DIR/tickets.jsonl
'''

'''text
SCRATCH/tmp.…
exported 2 troubleTicket, …
'''

<!-- skip: needs Keycloak -->
'''sh
curl -s https://sso.example.com/realms/operator/protocol/openid-connect/token
'''
"""


def test_a_document_that_holds(tmp_path: Path) -> None:
    pid_file = tmp_path / "listener.pid"
    text = (
        PASSING.replace("'''", FENCE)
        .replace("PID_FILE", str(pid_file))
        .replace("SCRATCH", str(tmp_path / "run" / "tmp"))
    )
    document = read_document(text, "scratch.md")
    assert document.problems == ()
    assert [example.skip for example in document.skipped] == [
        "shows how to start a server; the runner starts one",
        "needs Keycloak",
    ]

    report = run_document(document, tmp_path / "run")

    assert report.failures == []
    assert report.ran == 5
    listener_pid = int(pid_file.read_text())
    assert not group_alive(listener_pid)


FAILING = """
# A guide that drifted

'''sh
API=http://localhost:8080/tmf-api/troubleTicket/v5
curl -s $API/troubleTicket/nonexistent
'''

'''json
{"id": "nonexistent", "status": "acknowledged"}
'''

'''sh
curl -si $API/troubleTicket
'''

'''text
HTTP/1.1 201 Created
'''

'''sh
test -f no-such-file
'''

'''sh
echo still runs
'''
"""


def test_a_document_that_drifted(tmp_path: Path) -> None:
    text = FAILING.replace("'''", FENCE)
    report = run_document(read_document(text, "drifted.md"), tmp_path)

    assert report.ran == 4
    missing, created, failed, log = report.failures
    assert missing.startswith("drifted.md:4: $.id: missing (the object has @type, code, ")
    assert "  command:\n    API=http://localhost:8080/tmf-api/troubleTicket/v5\n" in missing
    assert (
        '  expected (json, line 9):\n    {"id": "nonexistent", "status": "acknowledged"}\n'
        in missing
    )
    assert '  output (exit status 0):\n    {"@type": "Error", "code": "notFound"' in missing
    assert created.startswith("drifted.md:13: no output line matches 'HTTP/1.1 201 Created'")
    assert "    HTTP/1.1 200 OK" in created
    assert failed.startswith("drifted.md:21: it failed (exit status 1)\n")
    assert log.startswith("(the server's log: ")
