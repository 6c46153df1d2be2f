"""The coordination console over HTTP, in process, on every store: the board and its order, its
filters and fragment, a ticket's page, the actions and what they record, who may see and do
what, and how the console is mounted and protected.

Callers are given by a ``ConsoleAuth`` injected through ``create_app``'s console options, so no
sign-in is needed; tickets are made and compared through the API.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.api.assertions import BASE_URL, MERGE_PATCH, patch
from tests.builders import TICKETS, a_ticket
from tests.conftest import LOCAL_NETWORKS, FrozenClock
from tests.console.dom import Element, parse
from tests.tokens import Issuer
from troubleticket.api.middleware import CONSOLE_CSP
from troubleticket.api.security import ACTIVITIES, ADMIN, HUBS, OPERATION_SCOPES, READ, WRITE
from troubleticket.app import create_app
from troubleticket.background.monitor import SlaMonitor
from troubleticket.bootstrap import runtime
from troubleticket.cli.parser import SETTING_FLAGS, build_parser
from troubleticket.cli.processes import shared_console_secret
from troubleticket.config import Settings
from troubleticket.console import ConsoleOptions
from troubleticket.console.auth import Caller, CsrfTokens
from troubleticket.context import Context
from troubleticket.notify.outbox import DEAD, DELIVERED, PENDING, new_delivery
from troubleticket.store.port import Collection, ListQuery, Store

if TYPE_CHECKING:
    import httpx
    from connexion import AsyncApp
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.testclient import TestClient

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALPHA_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"}
VENDOR = Path(__file__).resolve().parents[2] / "src/troubleticket/console/static/vendor"

# Targets of seconds on one clock only: a ticket in progress has no live clock.
POLICY = {
    "sla": {
        "clocks": {
            "acknowledge": {
                "stopOn": ["inProgress", "resolved", "closed"],
                "targets": {"Critical": "60s", "High": "120s", "Medium": "300s", "Low": "600s"},
            }
        },
        "jeopardy": {"warning": 0.75, "breach": 1.0},
    },
}

ALL_SCOPES = frozenset(OPERATION_SCOPES.values())
OPERATOR = Caller(Context(actor="operator"), ALL_SCOPES, "operator", "session-operator")
READER = Caller(Context(actor="reader"), frozenset({READ}), "reader", "session-reader")
ALPHA = Caller(
    Context(actor="alpha-desk", party=ALPHA_PARTY),
    frozenset({READ, WRITE, ACTIVITIES, HUBS}),
    "Alpha desk",
    "session-alpha",
)


class FixedAuth:
    """Whoever the test says is looking (``who``); forms carry the console's own tokens."""

    def __init__(self) -> None:
        self.who = OPERATOR
        self.csrf: CsrfTokens | None = None

    def bind(self, csrf: CsrfTokens) -> FixedAuth:
        self.csrf = csrf
        return self

    async def caller(self, request: Request) -> Caller | Response:
        return self.who

    def routes(self) -> list[BaseRoute]:
        return []

    def csrf_token(self, caller: Caller) -> str:
        assert self.csrf is not None
        return self.csrf.token(caller)


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    partners = tmp_path / "partners.yaml"
    alpha = {
        "name": "Alpha Networks",
        "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
        "party": ALPHA_PARTY,
        "events": {"subscribe": False, "secretEnv": "HUB_SECRET"},
    }
    partners.write_text(yaml.safe_dump({"partners": {"alpha": alpha}}))
    return Settings(
        store=str(tmp_path / "console.sqlite3"),
        base_url=BASE_URL,
        dispatch="off",
        policy=str(policy),
        partners=str(partners),
        trusted_gateway=True,  # the API twin's requests name their actor, as the console's do
        egress_allow=LOCAL_NETWORKS,
    )


@pytest.fixture
def auth() -> FixedAuth:
    return FixedAuth()


@pytest.fixture
def console_app(
    console_settings: Settings, store: Store, clock: FrozenClock, auth: FixedAuth
) -> AsyncApp:
    return create_app(
        console_settings,
        store=store,
        clock=clock,
        environ={"HUB_SECRET": SECRET},
        console_options=ConsoleOptions(auth=auth.bind),
    )


@pytest.fixture
def monitor(console_settings: Settings, store: Store, clock: FrozenClock) -> SlaMonitor:
    """The SLA monitor on the app's store (the server's loops do not run in these tests)."""
    run = runtime(console_settings, store, clock=clock, environ={"HUB_SECRET": SECRET})
    return SlaMonitor(store, run.tickets, clock=clock)


@pytest.fixture
def web(console_app: AsyncApp) -> Iterator[TestClient]:
    with console_app.test_client(follow_redirects=False) as client:
        yield client


# -- helpers ------------------------------------------------------------------------------


def ticket(web: TestClient, **overrides: Any) -> dict[str, Any]:
    """A ticket made through the API as the operator."""
    response = web.post(TICKETS, json=a_ticket(**overrides), headers={"X-TT-Actor": "operator"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def read(web: TestClient, ticket_id: str) -> dict[str, Any]:
    response = web.get(f"{TICKETS}/{ticket_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def page(web: TestClient, url: str, status: int = 200) -> Element:
    response = web.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


def board_rows(root: Element) -> list[tuple[str, str]]:
    """(ticket id, seconds left) of each row of the board, in order."""
    table = root.by_id("board")
    return [
        (row.get("data-ticket-id") or "", row.get("data-seconds-left") or "")
        for row in table.find_all("tr")
        if row.get("data-ticket-id") is not None
    ]


def cells(row: Element) -> list[str]:
    """The texts of a table row's cells."""
    return [cell.text for cell in row.find_all(where=lambda e: e.tag in ("th", "td"))]


def labelled(root: Element, control: Element) -> bool:
    """Whether a form control has a label: one naming its id."""
    control_id = control.get("id")
    return bool(control_id) and bool(
        root.find_all("label", where=lambda label: label.get("for") == control_id)
    )


def csrf_of(web: TestClient, ticket_id: str) -> str:
    form = page(web, f"/console/tickets/{ticket_id}").by_id("actions").find("form")
    assert form is not None, "no action form on the page"
    field = form.one("input", name="csrf")
    return field.get("value") or ""


def post(
    web: TestClient, ticket_id: str, action: str, fields: dict[str, Any], csrf: str | None = ""
) -> httpx.Response:
    """Post a console form; ``csrf=""``: the token of the page, ``None``: none at all."""
    data = dict(fields)
    if csrf == "":
        csrf = csrf_of(web, ticket_id)
    if csrf is not None:
        data["csrf"] = csrf
    return web.post(  # type: ignore[no-any-return]
        f"/console/tickets/{ticket_id}/{action}", data=data
    )


def events_of(store: Store, ticket_id: str) -> list[dict[str, Any]]:
    """The outbox records of a ticket's events and its activities', in order."""
    while store.relay_events():  # MongoDB keeps them in the document until relayed
        pass
    records = store.list(Collection.EVENT, ListQuery(limit=10_000)).items
    mine = [r for r in records if r["resourceKey"] == f"troubleTicket/{ticket_id}"]
    return sorted(mine, key=lambda r: r["orderKey"])


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and lengths kept, scalars by type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


# -- the board ----------------------------------------------------------------------------


class TestTheBoard:
    def test_rows_are_ordered_by_time_to_breach_with_breached_first_and_no_clock_last(
        self, web: TestClient, clock: FrozenClock
    ) -> None:
        low = ticket(web, severity="Minor")  # Low: 600 s to acknowledge
        medium = ticket(web, severity="Major")  # Medium: 300 s
        working = ticket(web, severity="Major", status="inProgress")  # acknowledged: no clock
        critical = ticket(
            web,
            severity="Critical",
            troubleTicketCharacteristic=[
                {"@type": "StringCharacteristic", "name": "urgency", "value": "High"}
            ],
        )  # Critical: 60 s
        clock.advance(seconds=90)

        root = page(web, "/console/")

        assert board_rows(root) == [
            (critical["id"], "-30"),
            (medium["id"], "210"),
            (low["id"], "510"),
            (working["id"], ""),
        ]
        first = root.by_id("board").one("tr", data_ticket_id=critical["id"])
        assert first.one("a").get("href") == f"/console/tickets/{critical['id']}"
        cells = {name: first.one("td", cls=name).text for name in ("status", "priority")}
        assert cells == {"status": "acknowledged", "priority": "Critical"}
        assert first.one("td", cls="escalation").text == "0"
        assert first.one("td", cls="clock").text == "acknowledge (running)"
        assert first.one("td", cls="jeopardy").text == "none"
        assert (
            first.one("td", cls="deadline").one("time").get("datetime")
            == (critical["slaClock"][0]["deadline"])
        )
        assert first.one("td", cls="time-left").text == "30s overdue"
        last = root.by_id("board").one("tr", data_ticket_id=working["id"])
        assert last.one("td", cls="clock").text == "no live clock"
        assert last.one("td", cls="time-left").text == ""

    def test_jeopardy_and_the_assignee_are_written_out(
        self, web: TestClient, clock: FrozenClock, store: Store
    ) -> None:
        assigned = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "assignee",
            "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "team-noc", "name": "NOC"},
        }
        found = ticket(web, severity="Minor", relatedParty=[assigned])
        clock.advance(seconds=500)  # past 75 % of 600 s
        response = patch(
            web, f"{TICKETS}/{found['id']}", {"@type": "TroubleTicket", "name": "Line down"}
        )
        assert response.status_code == 200, response.text

        row = page(web, "/console/").by_id("board").one("tr", data_ticket_id=found["id"])

        assert row.one("td", cls="jeopardy").text == "warning"
        assert "jeopardy-warning" in row.classes
        assert row.one("td", cls="assignee").text == "NOC"
        assert row.one("a").text == "Line down"

    def test_the_filters_select_status_priority_party_and_type(self, web: TestClient) -> None:
        low = ticket(web, severity="Minor")
        medium = ticket(web, severity="Major", ticketType="complaint")
        working = ticket(web, severity="Major", status="inProgress")
        theirs = ticket(
            web,
            severity="Minor",
            relatedParty=[
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "customer",
                    "partyOrPartyRole": ALPHA_PARTY,
                }
            ],
        )
        resolved = ticket(web, severity="Minor", status="resolved")

        def ids(query: str) -> set[str]:
            return {row_id for row_id, _left in board_rows(page(web, f"/console/?{query}"))}

        assert ids("") == {low["id"], medium["id"], working["id"], theirs["id"]}
        assert resolved["id"] not in ids("")
        assert ids("status=inProgress") == {working["id"]}
        assert ids("priority=Low") == {low["id"], theirs["id"]}
        assert ids("party=org-alpha") == {theirs["id"]}
        assert ids("ticketType=complaint") == {medium["id"]}
        assert ids("priority=Medium&status=acknowledged") == {medium["id"]}

        form = page(web, "/console/?priority=Low").by_id("filters")
        selected = form.one("select", name="priority").find("option", selected="")
        assert selected is not None and selected.get("value") == "Low"
        controls = form.find_all(where=lambda e: e.tag in ("input", "select"))
        assert {c.get("name") for c in controls} == {"status", "priority", "party", "ticketType"}
        assert all(labelled(form, control) for control in controls)

    def test_a_status_that_is_not_open_is_refused(self, web: TestClient) -> None:
        root = page(web, "/console/?status=closed", status=400)

        assert "status must be one of" in root.by_id("error").text
        assert root.by_id("error").get("role") == "alert"
        assert not root.has_id("board")

    def test_the_board_is_capped_with_how_many_more(
        self, web: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("troubleticket.console.reads.BOARD_ROWS", 2)
        made = [ticket(web, severity="Minor") for _ in range(3)]

        root = page(web, "/console/")

        assert len(board_rows(root)) == 2
        assert "1 more" in root.by_id("board-live").text
        assert {row for row, _left in board_rows(root)} <= {t["id"] for t in made}

    def test_the_fragment_is_the_table_alone_wired_to_the_stream(self, web: TestClient) -> None:
        low = ticket(web, severity="Minor")
        ticket(web, severity="Major")

        response = web.get("/console/board?priority=Low")
        live = page(web, "/console/?priority=Low").by_id("board-live")

        assert response.status_code == 200
        assert "<html" not in response.text
        assert board_rows(parse(response.text)) == [(low["id"], "600")]
        assert live.get("hx-ext") == "sse"
        assert re.fullmatch(
            r"/console/events\?priority=Low&seen=[0-9a-f]{16}", live.get("sse-connect") or ""
        )
        assert live.get("hx-get") == "/console/board?priority=Low"
        assert "sse:board" in (live.get("hx-trigger") or "")
        assert live.has_id("board")

    def test_the_charts_count_open_tickets_by_priority_and_breaches_per_day(
        self, web: TestClient, clock: FrozenClock, monitor: SlaMonitor
    ) -> None:
        ticket(web, severity="Minor")
        clock.advance(days=1)
        late = ticket(web, severity="Major")
        clock.advance(seconds=400)  # past its 300 s
        ticket(web, severity="Minor")
        monitor.run_once()

        charts = page(web, "/console/").by_id("charts")
        burn = charts.by_id("burn-down")
        breaches = charts.by_id("breaches")

        assert burn.tag == "svg" and burn.get("role") == "img"
        assert burn.one("title").text == "Open tickets per day by priority"
        assert "today: Critical 0, High 0, Medium 1, Low 2" in burn.one("desc").text
        tables = charts.find_all("table", cls="figures")
        rows = [cells(row) for row in tables[0].find_all("tr")]
        assert rows[0] == ["Day", "Critical", "High", "Medium", "Low"]
        assert rows[-2][1:] == ["0", "0", "0", "1"]  # yesterday: the first ticket
        assert rows[-1][1:] == ["0", "0", "1", "2"]
        assert breaches.tag == "svg"
        # the first ticket's acknowledge clock breached yesterday, 600 s after it was made
        assert "2 in all, 1 today" in breaches.one("desc").text
        per_day = [cells(row) for row in tables[1].find_all("tr")]
        assert [row[1] for row in per_day[-3:]] == ["0", "1", "1"]
        assert read(web, late["id"])["troubleTicketJeopardyAlert"][-1]["jeopardyType"] == "breach"


# -- a ticket's page ----------------------------------------------------------------------


def activity(web: TestClient, ticket_id: str, **body: Any) -> dict[str, Any]:
    response = web.post(
        f"{TICKETS}/{ticket_id}/recoveryActivity",
        json={"@type": "RecoveryActivity", "activityType": "diagnose", **body},
        headers={"X-TT-Actor": "operator"},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class TestATicketsPage:
    def test_the_header_timeline_and_clocks(
        self, web: TestClient, clock: FrozenClock, monitor: SlaMonitor
    ) -> None:
        made = ticket(web, name="Line down", severity="Minor")
        clock.advance(seconds=30)
        note = {"@type": "Note", "author": "jane", "date": "2026-11-20T08:00:30.000Z", "text": "Hi"}
        changed = patch(web, f"{TICKETS}/{made['id']}", {"@type": "TroubleTicket", "note": [note]})
        assert changed.status_code == 200, changed.text
        clock.advance(seconds=600)
        monitor.run_once()  # the acknowledge clock's warning and breach
        escalated = patch(
            web,
            f"{TICKETS}/{made['id']}",
            {"@type": "TroubleTicket", "escalationLevel": 2, "escalationReason": "Called twice"},
            headers={"X-TT-Actor": "jane"},
        )
        assert escalated.status_code == 200, escalated.text

        root = page(web, f"/console/tickets/{made['id']}")

        assert root.one("html").get("lang") == "en"
        assert root.by_id("ticket-title").tag == "h1"
        assert root.by_id("ticket-title").text == "Line down"
        status = root.one(data_status="acknowledged", id="ticket-status")
        assert status.text == "acknowledged"
        assert root.one("dd", cls="escalation").text == "2"
        assert root.one("dd", cls="priority").text == "Low"
        kinds = [m.get("data-kind") for m in root.by_id("timeline").find_all("li")]
        assert kinds == [
            "status",
            "priority",
            "audit",
            "note",
            "audit",
            "jeopardy",
            "jeopardy",
            "escalation",
            "audit",
        ]
        moments = root.by_id("timeline").find_all("li")
        assert "Hi" in moments[3].text and "jane" in moments[3].text
        assert "Escalated to level 2 (from 0)" in moments[7].text
        assert "Called twice" in moments[7].text
        clock_row = root.by_id("clocks").one("tr", data_clock="acknowledge")
        assert clock_row.one("td", cls="jeopardy").text == "breach"
        assert clock_row.one("td", cls="clock-state").text == "running"  # until it stops
        assert clock_row.one("td", cls="time-left").text == "30s overdue"
        assert root.by_id("clocks").find("caption") is not None

    def test_the_audit_trail_needs_the_audit_scope(self, web: TestClient, auth: FixedAuth) -> None:
        made = ticket(web)
        auth.who = replace(OPERATOR, scopes=ALL_SCOPES - {ADMIN})

        root = page(web, f"/console/tickets/{made['id']}")

        kinds = {m.get("data-kind") for m in root.by_id("timeline").find_all("li")}
        assert kinds == {"status", "priority"}

    def test_activities_their_gantt_and_partner_reports(self, web: TestClient) -> None:
        made = ticket(web, status="inProgress")
        first = activity(
            web,
            made["id"],
            name="Line test",
            activityType="diagnose",
            plannedStartDate="2026-11-20T09:00:00Z",
            plannedEndDate="2026-11-20T10:00:00Z",
        )
        second = activity(
            web,
            made["id"],
            name="Replace ONT",
            dependsOn=[first["id"]],
            plannedStartDate="2026-11-20T10:00:00Z",
            plannedEndDate="2026-11-20T12:00:00Z",
        )
        activity(
            web,
            made["id"],
            name="Repair the access line",
            activityType="partnerRepair",
            assignee={
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "partner",
                "partyOrPartyRole": ALPHA_PARTY,
            },
        )

        section = page(web, f"/console/tickets/{made['id']}").by_id("activities")

        rows = section.one("table", cls="activities").find_all("tr", where=has_activity)
        assert [row.one("th").text for row in rows] == [
            "Line test",
            "Replace ONT",
            "Repair the access line",
        ]
        assert rows[1].find_all("td")[6].text == "Line test"  # depends on
        gantt = section.by_id("gantt")
        assert gantt.get("role") == "img"
        assert len(gantt.find_all("rect", cls="gantt-bar")) == 2  # the third is not scheduled
        assert len(gantt.find_all("path", cls="dependency")) == 1
        assert "Replace ONT waits for Line test" in section.one("ul", cls="dependencies").text
        assert "Repair the access line: planned, not scheduled" in gantt.one("desc").text
        assert "waits for Repair the access line" in section.one("p", cls="summary").text
        assert second["state"] == "planned"
        reports = page(web, f"/console/tickets/{made['id']}").by_id("partner-reports")
        report = reports.one("table").find_all("tr")[1]
        assert cells(report) == [
            "Repair the access line",
            "Alpha Networks",
            "not created yet",
            "",
            "requested",
            "never",
        ]

    def test_deliveries_are_counted_and_the_latest_listed(
        self, web: TestClient, store: Store, clock: FrozenClock
    ) -> None:
        made = ticket(web)
        other = ticket(web)
        (created,) = events_of(store, made["id"])
        for number, state in enumerate((DELIVERED, DELIVERED, PENDING, DEAD)):
            delivery = new_delivery(
                delivery_id=f"delivery-{number}", hub_id="hub-1", event=created, now=clock()
            )
            store.insert(Collection.DELIVERY, {**delivery, "state": state, "attempts": number})
        (theirs,) = events_of(store, other["id"])
        store.insert(
            Collection.DELIVERY,
            new_delivery(delivery_id="delivery-x", hub_id="hub-1", event=theirs, now=clock()),
        )

        section = page(web, f"/console/tickets/{made['id']}").by_id("deliveries")

        counts = {name: section.one("dd", cls=name).text for name in ("delivered", "dead")}
        assert counts == {"delivered": "2", "dead": "1"}
        assert section.one("dd", cls="retrying").text == "1"  # pending after 2 attempts
        assert section.one("dd", cls="waiting").text == "0"
        assert len(section.one("table").find_all("tr")) == 1 + 4

    def test_deliveries_need_the_hub_scope(self, web: TestClient, auth: FixedAuth) -> None:
        made = ticket(web)
        auth.who = replace(OPERATOR, scopes=ALL_SCOPES - {HUBS})

        section = page(web, f"/console/tickets/{made['id']}").by_id("deliveries")

        assert not section.find_all("dd")
        assert "who may manage hubs" in section.text

    def test_a_major_incident_shows_its_children_and_is_listed(self, web: TestClient) -> None:
        parent = ticket(web, name="Fibre cut", ticketType="majorIncident", severity="Critical")
        child = ticket(
            web,
            name="No sync",
            troubleTicketRelationship=[
                {
                    "@type": "TroubleTicketRelationship",
                    "id": parent["id"],
                    "relationshipType": "isChildOf",
                }
            ],
        )

        section = page(web, f"/console/tickets/{parent['id']}").by_id("major-incident")
        listing = page(web, "/console/major-incidents").by_id("major-incidents")

        assert section.one("dd", cls="children-total").text == "1"
        assert section.one("dd", cls="children-open").text == "1"
        link = section.one("table").one("a")
        assert (link.get("href"), link.text) == (f"/console/tickets/{child['id']}", "No sync")
        assert section.one("p", cls="cascade").get("data-cascade-state") == ""
        row = listing.one("tr", data_ticket_id=parent["id"])
        assert row.one("td", cls="children-open").text == "1"
        assert row.one("a").get("href") == f"/console/tickets/{parent['id']}"
        child_page = page(web, f"/console/tickets/{child['id']}")
        assert not child_page.has_id("major-incident")
        assert child_page.one("p", cls="crumbs").find("a", href=f"/console/tickets/{parent['id']}")

    def test_a_missing_ticket_is_a_404_page(self, web: TestClient) -> None:
        root = page(web, "/console/tickets/nothing-here", status=404)

        assert root.by_id("error").get("role") == "alert"
        assert "notFound" in root.by_id("error").text
        assert root.one("main").get("id") == "main"

    def test_landmarks_skip_link_and_labelled_controls(self, web: TestClient) -> None:
        made = ticket(web, status="inProgress")
        activity(web, made["id"], name="Line test")

        for url in ("/console/", f"/console/tickets/{made['id']}", "/console/major-incidents"):
            root = page(web, url)
            assert root.one("html").get("lang") == "en"
            assert root.one("header") and root.one("nav").get("aria-label")
            assert root.one("main").get("id") == "main"
            skip = root.find_all("a")[0]
            assert skip.get("href") == "#main" and "skip-link" in skip.classes
            for table in root.find_all("table"):
                assert table.find("caption") is not None, table.attrs
                assert all(th.get("scope") in ("col", "row") for th in table.find_all("th"))
            for control in root.find_all(where=is_control):
                assert labelled(root, control) or control.tag == "button", control.attrs
            for svg in root.find_all("svg"):
                assert svg.find("title") is not None and svg.find("desc") is not None


def has_activity(row: Element) -> bool:
    return row.get("data-activity-id") is not None


def is_control(element: Element) -> bool:
    if element.tag in ("select", "textarea"):
        return True
    return element.tag == "input" and element.get("type") != "hidden"


# -- actions ------------------------------------------------------------------------------


def twins(web: TestClient, **overrides: Any) -> tuple[str, str]:
    """Two tickets alike: one for the console, one for the API."""
    return ticket(web, **overrides)["id"], ticket(web, **overrides)["id"]


def api(web: TestClient, method: str, url: str, body: Any, media: str = MERGE_PATCH) -> None:
    if method == "PATCH":
        response = patch(web, url, body, media_type=media, headers={"X-TT-Actor": "operator"})
    else:
        response = web.post(url, json=body, headers={"X-TT-Actor": "operator"})
    assert response.status_code in (200, 201), response.text


def assert_same_records(store: Store, console_id: str, api_id: str) -> list[str]:
    """The two tickets recorded the same events, alike in shape; their types."""
    ours, theirs = events_of(store, console_id), events_of(store, api_id)
    assert [r["eventType"] for r in ours] == [r["eventType"] for r in theirs]
    for mine, twin in zip(ours, theirs, strict=True):
        assert shape(mine["body"]) == shape(twin["body"]), mine["eventType"]
        assert mine["orderKey"] == twin["orderKey"]
    return [r["eventType"] for r in ours]


class TestActions:
    def test_a_note_is_the_api_s_json_patch(
        self, web: TestClient, store: Store, clock: FrozenClock
    ) -> None:
        mine, twin = twins(web)

        answer = post(web, mine, "notes", {"text": "Customer called back"})
        note = {"@type": "Note", "author": "operator", "date": "2026-11-20T08:00:00.000Z"}
        note["text"] = "Customer called back"
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}",
            [{"op": "add", "path": "/note", "value": [note]}],
            "application/json-patch+json",
        )

        assert answer.status_code == 303
        assert answer.headers["location"] == f"/console/tickets/{mine}"
        assert read(web, mine)["note"] == [note]
        assert (
            assert_same_records(store, mine, twin)[-1] == "TroubleTicketAttributeValueChangeEvent"
        )
        second = post(web, mine, "notes", {"text": "And again"})
        assert second.status_code == 303
        assert [n["text"] for n in read(web, mine)["note"]] == ["Customer called back", "And again"]

    def test_moving_the_status_escalating_and_cancelling(
        self, web: TestClient, store: Store
    ) -> None:
        mine, twin = twins(web)

        moved = post(web, mine, "status", {"status": "inProgress", "reason": "On it"})
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}",
            {"@type": "TroubleTicket", "status": "inProgress", "statusChangeReason": "On it"},
        )
        escalated = post(web, mine, "escalate", {"level": "2", "reason": "VIP"})
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}",
            {"@type": "TroubleTicket", "escalationLevel": 2, "escalationReason": "VIP"},
        )
        cancelled = post(web, mine, "cancel", {"reason": "Duplicate"})
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}",
            {"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "Duplicate"},
        )

        assert [a.status_code for a in (moved, escalated, cancelled)] == [303, 303, 303]
        after = read(web, mine)
        assert after["status"] == "cancelled"
        assert after["escalation"][-1]["reason"] == "VIP"
        assert after["escalation"][-1]["actor"] == "operator"
        assert after["statusChangeHistory"][1]["statusChangeReason"] == "On it"
        types = assert_same_records(store, mine, twin)
        assert "TroubleTicketStatusChangeEvent" in types
        assert "TroubleTicketEscalationEvent" in types
        audit = web.get(f"{TICKETS}/{mine}/auditRecord").json()
        twin_audit = web.get(f"{TICKETS}/{twin}/auditRecord").json()
        assert [(r["action"], r["actor"], r["changedAttributes"]) for r in audit] == [
            (r["action"], r["actor"], r["changedAttributes"]) for r in twin_audit
        ]

    def test_planning_starting_and_completing_activities(
        self, web: TestClient, store: Store
    ) -> None:
        mine, twin = twins(web, status="inProgress")
        planned = {
            "name": "Line test",
            "activityType": "diagnose",
            "plannedStartDate": "2026-11-20T09:00",
            "plannedEndDate": "2026-11-20T10:30",
            "mandatory": "on",
        }

        answer = post(web, mine, "activities", planned)
        first = web.get(f"{TICKETS}/{mine}/recoveryActivity").json()[0]
        second_answer = post(
            web,
            mine,
            "activities",
            {
                "name": "Re-provision",
                "activityType": "configurationChange",
                "dependsOn": first["id"],
            },
        )
        body = {
            "@type": "RecoveryActivity",
            "name": "Line test",
            "activityType": "diagnose",
            "plannedStartDate": "2026-11-20T09:00:00.000Z",
            "plannedEndDate": "2026-11-20T10:30:00.000Z",
            "mandatory": True,
        }
        api(web, "POST", f"{TICKETS}/{twin}/recoveryActivity", body)
        twin_first = web.get(f"{TICKETS}/{twin}/recoveryActivity").json()[0]
        api(
            web,
            "POST",
            f"{TICKETS}/{twin}/recoveryActivity",
            {
                "@type": "RecoveryActivity",
                "name": "Re-provision",
                "activityType": "configurationChange",
                "dependsOn": [twin_first["id"]],
                "mandatory": False,
            },
        )

        assert (answer.status_code, second_answer.status_code) == (303, 303)
        assert first["plannedEndDate"] == "2026-11-20T10:30:00.000Z"
        assert first["mandatory"] is True
        assert_same_records(store, mine, twin)

        forms = page(web, f"/console/tickets/{mine}").find_all("form", cls="complete-activity")
        assert [f.get("data-action") for f in forms] == ["start", "start"]
        started = web.post(forms[0].get("action") or "", data=form_fields(forms[0]))
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}/recoveryActivity/{twin_first['id']}",
            {"@type": "RecoveryActivity", "state": "inProgress"},
        )
        forms = page(web, f"/console/tickets/{mine}").find_all("form", cls="complete-activity")
        assert forms[0].get("data-action") == "complete"
        completed = web.post(forms[0].get("action") or "", data=form_fields(forms[0]))
        api(
            web,
            "PATCH",
            f"{TICKETS}/{twin}/recoveryActivity/{twin_first['id']}",
            {"@type": "RecoveryActivity", "state": "completed"},
        )

        assert (started.status_code, completed.status_code) == (303, 303)
        states = [a["state"] for a in web.get(f"{TICKETS}/{mine}/recoveryActivity").json()]
        assert states == ["completed", "planned"]
        types = assert_same_records(store, mine, twin)
        assert types.count("RecoveryActivityStateChangeEvent") == 2
        assert types.count("RecoveryActivityCreateEvent") == 2

    def test_a_rule_refusal_is_the_page_with_the_api_s_status_and_message(
        self, web: TestClient, store: Store
    ) -> None:
        mine, twin = twins(web)
        before = read(web, mine)

        answer = post(web, mine, "status", {"status": "resolved"})
        from_api = patch(web, f"{TICKETS}/{twin}", {"@type": "TroubleTicket", "status": "resolved"})

        assert answer.status_code == from_api.status_code == 409
        error = parse(answer.text).by_id("error")
        assert error.get("role") == "alert"
        assert from_api.json()["message"] in error.text
        assert from_api.json()["code"] in error.text
        assert parse(answer.text).by_id("ticket-title").text == before["description"]
        assert read(web, mine) == before
        assert len(events_of(store, mine)) == 1

    def test_a_blank_required_field_is_refused_with_nothing_changed(self, web: TestClient) -> None:
        made = ticket(web)
        before = read(web, made["id"])

        answers = [
            post(web, made["id"], "notes", {"text": "  "}),
            post(web, made["id"], "escalate", {"level": "1", "reason": ""}),
            post(web, made["id"], "escalate", {"level": "eleven", "reason": "x"}),
            post(web, made["id"], "cancel", {}),
            post(
                web,
                made["id"],
                "activities",
                {"name": "x", "activityType": "diagnose", "dependsOn": "not-an-activity"},
            ),
        ]

        assert [a.status_code for a in answers] == [400] * 5
        assert all(parse(a.text).by_id("error").get("role") == "alert" for a in answers)
        assert read(web, made["id"]) == before

    def test_an_action_on_a_missing_ticket_is_404(self, web: TestClient) -> None:
        made = ticket(web)
        token = csrf_of(web, made["id"])

        answer = post(web, "nothing-here", "notes", {"text": "x"}, csrf=token)

        assert answer.status_code == 404
        assert "notFound" in parse(answer.text).by_id("error").text


def form_fields(form: Element) -> dict[str, str]:
    return {
        field.get("name") or "": field.get("value") or ""
        for field in form.find_all("input")
        if field.get("name")
    }


# -- who may see and do what --------------------------------------------------------------


class TestWhoMay:
    def test_a_partner_sees_only_its_tickets(self, web: TestClient, auth: FixedAuth) -> None:
        customer = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "customer",
            "partyOrPartyRole": ALPHA_PARTY,
        }
        theirs = ticket(web, severity="Minor", relatedParty=[customer])
        ours = ticket(web, severity="Critical")
        auth.who = ALPHA

        rows = board_rows(page(web, "/console/"))
        fragment = board_rows(parse(web.get("/console/board").text))
        other = web.get(f"/console/tickets/{ours['id']}")
        missing = web.get("/console/tickets/no-such-ticket")
        own = page(web, f"/console/tickets/{theirs['id']}")

        assert [row for row, _left in rows] == [theirs["id"]]
        assert [row for row, _left in fragment] == [theirs["id"]]
        assert other.status_code == missing.status_code == 404
        assert other.text.replace(ours["id"], "?") == missing.text.replace("no-such-ticket", "?")
        assert own.by_id("ticket-title").text == "No dial tone"
        assert {m.get("data-kind") for m in own.by_id("timeline").find_all("li")} == {
            "status",
            "priority",
        }  # no audit trail: the operator's
        assert not own.by_id("deliveries").find_all("dd")  # the operator's too
        assert "partner" in own.one("header").text

    def test_a_partners_action_on_anothers_ticket_is_404_with_nothing_changed(
        self, web: TestClient, auth: FixedAuth
    ) -> None:
        customer = {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "customer",
            "partyOrPartyRole": ALPHA_PARTY,
        }
        theirs = ticket(web, relatedParty=[customer])
        ours = ticket(web)
        before = read(web, ours["id"])
        auth.who = ALPHA
        token = csrf_of(web, theirs["id"])

        answer = post(web, ours["id"], "notes", {"text": "Not mine"}, csrf=token)
        own = post(web, theirs["id"], "notes", {"text": "Mine"}, csrf=token)

        assert answer.status_code == 404
        assert own.status_code == 303
        assert read(web, ours["id"]) == before
        assert read(web, theirs["id"])["note"][0]["author"] == "Alpha desk"

    def test_a_read_only_caller_sees_no_action_and_may_not_post(
        self, web: TestClient, auth: FixedAuth, store: Store
    ) -> None:
        made = ticket(web, status="inProgress")
        activity(web, made["id"], name="Line test")
        operator_token = csrf_of(web, made["id"])
        before = read(web, made["id"])
        records = len(events_of(store, made["id"]))
        auth.who = READER

        root = page(web, f"/console/tickets/{made['id']}")
        token = CsrfTokens(b"unused").token(READER)  # not the console's: replaced below
        del token
        reader_token = auth.csrf_token(READER)
        answers = [
            post(web, made["id"], "notes", {"text": "x"}, csrf=reader_token),
            post(web, made["id"], "status", {"status": "pending"}, csrf=reader_token),
            post(web, made["id"], "escalate", {"level": "3", "reason": "x"}, csrf=reader_token),
            post(web, made["id"], "cancel", {"reason": "x"}, csrf=reader_token),
            post(
                web, made["id"], "activities", {"name": "x", "activityType": "y"}, csrf=reader_token
            ),
        ]

        assert root.by_id("actions").find_all("form") == []
        assert root.find_all("form", cls="complete-activity") == []
        assert "You may not change this ticket" in root.by_id("actions").text
        assert [a.status_code for a in answers] == [403] * 5
        assert all("forbidden" in parse(a.text).by_id("error").text for a in answers)
        assert read(web, made["id"]) == before
        assert len(events_of(store, made["id"])) == records
        assert operator_token != reader_token

    def test_a_caller_with_notes_but_not_activities_sees_only_its_forms(
        self, web: TestClient, auth: FixedAuth
    ) -> None:
        made = ticket(web, status="inProgress")
        activity(web, made["id"], name="Line test")
        auth.who = replace(OPERATOR, scopes=frozenset({READ, WRITE}))

        root = page(web, f"/console/tickets/{made['id']}")

        forms = {f.get("id") for f in root.by_id("actions").find_all("form")}
        assert forms == {"add-note", "move-status", "escalate", "cancel"}
        assert root.find_all("form", cls="complete-activity") == []
        answer = post(web, made["id"], "activities", {"name": "x", "activityType": "diagnose"})
        assert answer.status_code == 403

    def test_every_form_carries_the_token(self, web: TestClient) -> None:
        made = ticket(web, status="inProgress")
        activity(web, made["id"], name="Line test")

        root = page(web, f"/console/tickets/{made['id']}")

        forms = root.find_all("form", where=lambda f: f.get("method") == "post")
        assert {f.get("id") for f in forms} >= {
            "add-note",
            "move-status",
            "escalate",
            "cancel",
            "plan-activity",
        }
        assert len(root.find_all("form", cls="complete-activity")) == 1
        assert all(f.one("input", name="csrf").get("type") == "hidden" for f in forms)
        assert root.by_id("add-note").one("textarea").get("name") == "text"
        assert root.by_id("move-status").one("select").get("name") == "status"
        assert root.by_id("move-status").one("input", type="text").get("name") == "reason"
        escalate = {f.get("name") for f in root.by_id("escalate").find_all("input")}
        assert escalate == {"csrf", "level", "reason"}
        assert {f.get("name") for f in root.by_id("cancel").find_all("input")} == {
            "csrf",
            "reason",
        }

    @pytest.mark.parametrize("token", [None, "", "0" * 64])
    def test_a_missing_or_wrong_token_is_403_with_nothing_changed(
        self, web: TestClient, store: Store, token: str | None
    ) -> None:
        made = ticket(web)
        before = read(web, made["id"])
        fields: dict[str, str] = {"text": "Forged"}
        if token is not None:
            fields["csrf"] = token

        answer = web.post(f"/console/tickets/{made['id']}/notes", data=fields)

        assert answer.status_code == 403
        assert parse(answer.text).by_id("error").get("role") == "alert"
        assert read(web, made["id"]) == before
        assert len(events_of(store, made["id"])) == 1

    def test_a_form_that_is_not_a_form_is_refused(self, web: TestClient) -> None:
        made = ticket(web)

        answer = web.post(
            f"/console/tickets/{made['id']}/notes",
            content=b'{"text": "x"}',
            headers={"content-type": "application/json"},
        )

        assert answer.status_code == 415


# -- mounting and protection --------------------------------------------------------------


class TestMounting:
    def test_console_pages_have_their_own_csp_and_are_not_cached(self, web: TestClient) -> None:
        made = ticket(web)

        for url in (
            "/console/",
            "/console/board",
            f"/console/tickets/{made['id']}",
            "/console/static/console.css",
            "/console/static/vendor/htmx.min.js",
        ):
            response = web.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-security-policy"] == CONSOLE_CSP
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-request-id"]
        api_answer = web.get(f"{TICKETS}/{made['id']}")
        assert api_answer.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        assert "'self'" in CONSOLE_CSP and "'unsafe-inline'" not in CONSOLE_CSP

    def test_console_without_a_slash_goes_to_the_board(self, web: TestClient) -> None:
        answer = web.get("/console")

        assert answer.status_code == 308
        assert answer.headers["location"] == "/console/"

    def test_the_pages_load_only_local_scripts_and_styles(self, web: TestClient) -> None:
        root = page(web, "/console/")

        scripts = [s.get("src") for s in root.find_all("script")]
        assert scripts == [
            "/console/static/vendor/htmx.min.js",
            "/console/static/vendor/sse.min.js",
        ]
        assert all(not s.text for s in root.find_all("script"))  # nothing inline
        assert [link.get("href") for link in root.find_all("link")] == [
            "/console/static/console.css"
        ]
        assert root.find_all("style") == []
        assert root.find_all(where=lambda e: "style" in e.attrs) == []

    def test_with_the_console_off_it_is_not_there(
        self, console_settings: Settings, store: Store, clock: FrozenClock
    ) -> None:
        app = create_app(
            replace(console_settings, console=False),
            store=store,
            clock=clock,
            environ={"HUB_SECRET": SECRET},
        )
        with app.test_client() as client:
            assert client.get("/console/").status_code == 404
            assert client.get("/console").status_code == 404
            assert client.get("/console/static/console.css").status_code == 404
            assert client.get(TICKETS).status_code == 200

    def test_under_jwt_without_a_client_id_the_console_is_off_with_a_warning(
        self, tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        issuer = Issuer.create(tmp_path)
        settings = issuer.settings(Settings(store=str(tmp_path / "jwt.sqlite3"), dispatch="off"))

        with caplog.at_level(logging.WARNING, logger="troubleticket.console"):
            app = create_app(settings, store=store)
        with app.test_client() as client:
            answer = client.get("/console/")

        assert answer.status_code == 404
        assert answer.json()["code"] == "notFound"  # the API's answer: no console there
        assert any("TT_CONSOLE_CLIENT_ID" in r.getMessage() for r in caplog.records)

    def test_under_jwt_people_sign_in_and_may_leave_for_the_issuer(
        self, tmp_path: Path, store: Store
    ) -> None:
        issuer = Issuer.create(tmp_path)
        plain = Settings(store=str(tmp_path / "jwt.sqlite3"), dispatch="off")
        settings = replace(issuer.settings(plain), console_client_id="troubleticket-console")

        app = create_app(settings, store=store)
        with app.test_client(follow_redirects=False) as client:
            page_answer = client.get("/console/board?priority=Low")
            htmx_answer = client.get("/console/board", headers={"HX-Request": "true"})
            stream_answer = client.get("/console/events")

        assert page_answer.status_code == 302
        assert page_answer.headers["location"].startswith("/console/login?next=")
        assert (htmx_answer.status_code, htmx_answer.headers["hx-refresh"]) == (200, "true")
        assert stream_answer.status_code == 204  # an event source does not come back
        csp = page_answer.headers["content-security-policy"]
        assert csp == CONSOLE_CSP.replace(
            "form-action 'self'", "form-action 'self' https://sso.example.com"
        )

    def test_under_none_everyone_is_the_operator_with_every_scope(
        self, console_settings: Settings, store: Store, clock: FrozenClock
    ) -> None:
        app = create_app(console_settings, store=store, clock=clock, environ={"HUB_SECRET": SECRET})
        with app.test_client(follow_redirects=False) as client:
            made = client.post(TICKETS, json=a_ticket()).json()
            root = parse(client.get(f"/console/tickets/{made['id']}").text)
            token = root.by_id("add-note").one("input", name="csrf").get("value")
            answer = client.post(
                f"/console/tickets/{made['id']}/notes", data={"text": "Hello", "csrf": token}
            )

            assert "operator" in root.one("header").text
            assert {f.get("id") for f in root.by_id("actions").find_all("form")} >= {
                "add-note",
                "plan-activity",
            }
            assert answer.status_code == 303
            assert client.get(f"{TICKETS}/{made['id']}").json()["note"][0]["text"] == "Hello"

    def test_the_form_key_is_the_configured_secret(
        self, console_settings: Settings, store: Store, clock: FrozenClock
    ) -> None:
        settings = replace(console_settings, console_secret="a-shared-secret-for-every-worker")
        tokens = []
        for _ in range(2):  # two processes of one run: the same key
            app = create_app(settings, store=store, clock=clock, environ={"HUB_SECRET": SECRET})
            with app.test_client() as client:
                made = client.post(TICKETS, json=a_ticket()).json()
                root = parse(client.get(f"/console/tickets/{made['id']}").text)
                tokens.append(root.by_id("add-note").one("input", name="csrf").get("value"))

        assert tokens[0] == tokens[1]
        expected = CsrfTokens(b"a-shared-secret-for-every-worker").token(
            Caller(Context(actor="operator"), frozenset(), "operator", "operator")
        )
        assert tokens[0] == expected


class TestSettings:
    def test_serve_with_workers_shares_one_console_secret(self) -> None:
        shared = shared_console_secret(Settings(workers=4))

        assert shared.console_secret is not None and len(shared.console_secret) >= 32
        assert shared.environment()["TT_CONSOLE_SECRET"] == shared.console_secret
        assert Settings.from_env(shared.environment()).console_secret == shared.console_secret
        assert shared_console_secret(Settings(workers=4)).console_secret != shared.console_secret
        given = Settings(workers=4, console_secret="given")
        assert shared_console_secret(given).console_secret == "given"
        assert shared_console_secret(Settings()).console_secret is None
        assert shared_console_secret(Settings(workers=4, console=False)).console_secret is None

    @pytest.mark.parametrize(("flag", "expected"), [("off", False), ("on", True)])
    def test_the_console_flag_mirrors_tt_console(self, flag: str, expected: bool) -> None:
        args = build_parser().parse_args(["serve", "--console", flag])

        settings = Settings().with_overrides(
            {name: getattr(args, name, None) for name in SETTING_FLAGS}
        )

        assert "console" in SETTING_FLAGS
        assert settings.console is expected
        assert Settings.from_env({"TT_CONSOLE": "0"}).console is False


def test_the_vendored_scripts_are_the_ones_recorded() -> None:
    recorded = (VENDOR / "README.md").read_text(encoding="utf-8")

    for name in ("htmx.min.js", "sse.min.js"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        row = next(line for line in recorded.splitlines() if line.startswith(f"| `{name}`"))
        assert f"`{digest}`" in row, name
    assert re.search(r"\| `htmx.min.js` .*\| 2\.0\.\d+ \|", recorded)
    assert re.search(r"\| `sse.min.js` .*\| 2\.2\.\d+ \|", recorded)
    assert (VENDOR / "LICENSE-htmx.org.txt").read_text().startswith("Zero-Clause BSD")
    assert "BSD Zero Clause License" in (VENDOR / "LICENSE-htmx-ext-sse.txt").read_text()
