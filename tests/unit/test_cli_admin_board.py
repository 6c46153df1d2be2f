"""``troubleticket tickets at-risk``: the jeopardy board of open tickets, most overdue first.

Tickets are made through the ticket service under a policy of hours (acknowledge 1 h, resolve
10 h, warning at 75 %), at instants before the real now (the command reads the real clock), and
the SLA monitor then records their jeopardy as of now — except for one ticket made after its
pass, whose warning is due but not recorded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import a_ticket
from tests.conftest import FrozenClock
from tests.unit.cli_environment import logging_as_found, no_tt_environment  # noqa: F401 (autouse)
from troubleticket.admin import board as admin_board
from troubleticket.admin.board import BOARD_COLUMNS, at_risk, span
from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap import runtime
from troubleticket.bootstrap.files import load_policy
from troubleticket.bootstrap.services import ticket_service
from troubleticket.cli import main
from troubleticket.config import Settings
from troubleticket.context import NO_CONTEXT
from troubleticket.domain.managed_ticket import ManagedTicket
from troubleticket.domain.policy_file import parse_policy
from troubleticket.store.port import Collection, ListQuery, Page, Store
from troubleticket.store.sqlite import SqliteStore

HOURS = {"Critical": "1h", "High": "1h", "Medium": "1h", "Low": "1h"}
POLICY: dict[str, Any] = {
    "sla": {
        "clocks": {
            "acknowledge": {"stopOn": ["inProgress", "resolved", "closed"], "targets": HOURS},
            "resolve": {
                "stopOn": ["resolved", "closed"],
                "targets": {level: "10h" for level in HOURS},
            },
        },
        "jeopardy": {"warning": 0.75, "breach": 1.0},
    },
    "escalation": {
        "rules": [
            {
                "clock": "resolve",
                "on": "breach",
                "raiseLevelTo": 2,
                "assignTo": {
                    "role": "supervisor",
                    "partyOrPartyRole": {
                        "@type": "PartyRoleRef",
                        "id": "pr-duty",
                        "name": "Duty manager",
                    },
                },
            }
        ]
    },
}
# Half a minute of slack on each side, so that the seconds the command takes to start do not
# change a time left shown in minutes.
SLACK = timedelta(seconds=30)


@dataclass
class Board:
    path: Path
    policy: Path
    ids: dict[str, str]  # by role in the test

    def argv(self, *more: str) -> list[str]:
        return [
            "tickets",
            "at-risk",
            "--store",
            str(self.path),
            "--policy",
            str(self.policy),
            *more,
        ]


@pytest.fixture
def board(tmp_path: Path) -> Board:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(POLICY))
    path = tmp_path / "tt.sqlite3"
    settings = Settings(store=str(path), policy=str(policy_file))
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    store = SqliteStore(path)
    run = runtime(settings, store, clock=clock, environ={})
    ids: dict[str, str] = {}

    def made(name: str, age: timedelta, status: str = "inProgress") -> str:
        clock.now = now - age
        ids[name] = run.tickets.create(a_ticket(status=status), context=NO_CONTEXT).doc["id"]
        return ids[name]

    def changed(name: str, status: str, ago: timedelta) -> None:
        clock.now = now - ago
        run.tickets.patch(
            ids[name], {"@type": "TroubleTicket", "status": status}, context=NO_CONTEXT
        )

    made("overdue_ack", timedelta(hours=4) + SLACK, status="acknowledged")  # ack -3h
    made("breached", timedelta(hours=12) + SLACK)  # resolve -2h, escalated
    made("warned", timedelta(hours=8) - SLACK)  # resolve +2h, warning
    made("soon", timedelta(hours=2) - SLACK)  # resolve +8h
    made("calm", timedelta(hours=1) - SLACK)  # resolve +9h
    made("late_ack_then_worked", timedelta(hours=3) - SLACK, status="acknowledged")
    changed("late_ack_then_worked", "inProgress", timedelta(hours=1))  # ack stopped, breached
    made("resolved", timedelta(hours=12))
    changed("resolved", "resolved", timedelta(hours=1))  # resolve breached, then stopped
    clock.now = now
    monitor = SlaMonitor(store, run.tickets, clock=clock)
    while monitor.run_once():
        pass
    # after the monitor's pass: its acknowledge warning (at 45 min) is due, not recorded
    made("unrecorded", timedelta(minutes=50) - SLACK, status="acknowledged")  # ack +10m
    store.close()
    return Board(path, policy_file, ids)


def cells(line: str) -> list[str]:
    return re.split(r" {2,}", line.strip())


def table(out: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = [cells(line) for line in out.splitlines()]
    return header, rows


class TestTheBoard:
    def test_tickets_in_jeopardy_or_due_most_overdue_first(
        self, board: Board, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(board.argv()) == 0

        captured = capsys.readouterr()
        header, rows = table(captured.out)
        assert header == list(BOARD_COLUMNS)
        ids = board.ids
        shown = [[row[0], *row[2:6], *row[7:]] for row in rows]
        assert shown == [
            [ids["overdue_ack"], "acknowledged", "0", "acknowledge", "breach", "-3h00m"],
            [ids["breached"], "inProgress", "2", "resolve", "breach", "-2h00m", "Duty manager"],
            [ids["unrecorded"], "acknowledged", "0", "acknowledge", "none (due)", "10m"],
            [ids["warned"], "inProgress", "0", "resolve", "warning", "2h00m"],
        ]
        assert captured.err == "4 tickets at risk\n"

    def test_within_adds_the_running_clocks_due_in_that_time(
        self, board: Board, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(board.argv("--within", "8h30m")) == 0

        captured = capsys.readouterr()
        _, rows = table(captured.out)
        ids = board.ids
        assert [row[0] for row in rows] == [
            ids["overdue_ack"],
            ids["breached"],
            ids["unrecorded"],
            ids["warned"],
            ids["late_ack_then_worked"],  # its stopped acknowledge clock does not count
            ids["soon"],
        ]
        assert [row[4:8:3] for row in rows[-2:]] == [["resolve", "7h00m"], ["resolve", "8h00m"]]
        assert captured.err == "6 tickets at risk\n"

    def test_json_lines_and_a_limit(self, board: Board, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(board.argv("--json", "--limit", "2")) == 0

        captured = capsys.readouterr()
        first, second = [json.loads(line) for line in captured.out.splitlines()]
        assert first["id"] == board.ids["overdue_ack"]
        assert -3 * 3600 - 90 < first["secondsLeft"] < -3 * 3600
        assert {k: v for k, v in second.items() if k not in ("secondsLeft", "deadline")} == {
            "id": board.ids["breached"],
            "priority": "Low",
            "status": "inProgress",
            "escalationLevel": 2,
            "clock": "resolve",
            "jeopardy": "breach",
            "checkDue": False,
            "assignee": {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "supervisor",
                "partyOrPartyRole": {
                    "@type": "PartyRoleRef",
                    "id": "pr-duty",
                    "name": "Duty manager",
                },
            },
        }
        assert captured.err == "4 tickets at risk, the 2 most overdue shown\n"

    def test_a_store_that_does_not_exist_exits_2_and_is_not_created(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "none.sqlite3"

        assert main(["tickets", "at-risk", "--store", str(missing)]) == 2

        assert "TT_STORE names no existing SQLite file" in capsys.readouterr().err
        assert not missing.exists()

    @pytest.mark.parametrize("within", ["soon", "0", "-1h"])
    def test_a_window_that_is_no_duration_is_a_usage_error(
        self, within: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["tickets", "at-risk", "--within", within])

        assert exited.value.code == 2
        assert "--within: " in capsys.readouterr().err


class TestReadingTheStore:
    class Watched(SqliteStore):
        """Records the ticket listings it is asked for."""

        queries: list[ListQuery]

        def list(self, collection: Collection, query: ListQuery) -> Page:
            if collection == Collection.TROUBLE_TICKET:
                self.queries.append(query)
            return super().list(collection, query)

    def test_a_page_at_a_time_filtered_on_open_statuses_and_jeopardy(
        self, board: Board, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(admin_board, "BOARD_PAGE", 2)
        store = self.Watched(board.path)
        store.queries = []
        policy = load_policy(Settings(policy=str(board.policy)))
        try:
            found = at_risk(store, policy, now=datetime.now(UTC), limit=3)
        finally:
            store.close()

        assert [t.id for t in found.tickets] == [
            board.ids["overdue_ack"],
            board.ids["breached"],
            board.ids["unrecorded"],
        ]
        assert found.total == 4
        assert len(store.queries) >= 3  # paged
        assert {q.limit for q in store.queries} == {2}
        statuses, pressing = store.queries[0].where.groups
        assert {c.value for c in statuses.comparisons} == {
            "acknowledged",
            "inProgress",
            "pending",
            "held",
        }
        assert {(c.path, c.op.value) for c in pressing.comparisons} == {
            (("slaClock", "jeopardy"), "eq"),
            (("slaNextCheck",), "lte"),
        }

    def test_a_policy_warning_beyond_the_target_filters_on_deadlines_too(
        self, board: Board
    ) -> None:
        late_warning = {
            **POLICY,
            "sla": {**POLICY["sla"], "jeopardy": {"warning": 1.5, "breach": 2}},
        }
        store = self.Watched(board.path)
        store.queries = []
        try:
            at_risk(store, parse_policy(late_warning), now=datetime.now(UTC))
        finally:
            store.close()

        (_, pressing) = store.queries[0].where.groups
        assert (("slaClock", "deadline"), "lte") in {
            (c.path, c.op.value) for c in pressing.comparisons
        }


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-4332, "-1h12m"), (2100, "35m"), (40, "40s"), (-40, "-40s"), (97200, "1d03h"), (0, "0s")],
)
def test_time_left_is_shown_in_its_two_largest_units(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


def test_the_board_reads_every_store_alike(store: Store) -> None:
    """The same board from SQLite and MongoDB: the filter on array elements and on the indexed
    ``slaNextCheck`` means the same in each."""
    now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    clock = FrozenClock(now - timedelta(hours=12))
    policy = parse_policy(POLICY)
    tickets = ticket_service(Settings(store="unused"), store, ManagedTicket(policy), clock=clock)
    breached = tickets.create(a_ticket(status="inProgress"), context=NO_CONTEXT).doc[
        "id"
    ]  # resolve -2h
    clock.now = now - timedelta(hours=8)
    warned = tickets.create(a_ticket(status="inProgress"), context=NO_CONTEXT).doc[
        "id"
    ]  # resolve +2h
    clock.now = now - timedelta(hours=2)
    soon = tickets.create(a_ticket(status="inProgress"), context=NO_CONTEXT).doc[
        "id"
    ]  # resolve +8h
    clock.now = now
    monitor = SlaMonitor(store, tickets, clock=clock)
    while monitor.run_once():
        pass

    board = at_risk(store, policy, now=now)
    wider = at_risk(store, policy, now=now, within=9 * 3600)

    assert [(t.id, t.jeopardy, t.seconds_left) for t in board.tickets] == [
        (breached, "breach", -7200.0),
        (warned, "warning", 7200.0),
    ]
    assert [t.id for t in wider.tickets] == [breached, warned, soon]
