"""The console in a real headless Chromium, against real ``troubleticket serve`` processes.

Three servers, each a process on 127.0.0.1 started by ``ServerFactory`` and stopped when its
tests end: one without authentication (everyone the operator) for the board, its live update,
the forms, the events and accessibility; one under ``TT_AUTH=jwt`` whose console signs people
in at a local OpenID Connect issuer (``oidc_issuer.py``, run by the tests in a thread); and one
for the screenshots, holding only what they show. Their service policy has SLA targets of
seconds, so that tickets are near or past breach while the tests run. One browser serves the
module; each test starts it on a blank page without cookies.

Needs Debian's ``chromium`` and ``chromium-driver`` (``browser.py``); skipped without them,
unless ``CONSOLE_BROWSER_REQUIRED=1``. With ``CONSOLE_SCREENSHOTS=1`` the screenshots are also
written to docs/images/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.chromium.webdriver import ChromiumDriver as Browser
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.console.browser import (
    Api,
    assert_no_page_problems,
    chromium,
    describe,
    fresh,
    party,
    run_axe,
    screenshot,
    shape,
    urgency,
    wait_until,
)
from tests.console.oidc_issuer import OidcIssuer
from tests.e2e.conftest import ServerFactory, ServerProcess, free_port
from tests.e2e.listener import Listener, Received

# Resolve targets of seconds for the urgent, of hours for the rest: the board's order and its
# jeopardy levels show within a test. Warning at half a target; the monitor looks four times a
# second.
POLICY: dict[str, Any] = {
    "sla": {
        "clocks": {
            "resolve": {
                "stopOn": ["resolved", "closed"],
                "targets": {"Critical": "4s", "High": "8s", "Medium": "30m", "Low": "2h"},
            }
        },
        "jeopardy": {"warning": 0.5, "breach": 1.0},
    },
    "monitor": {"interval": "250ms"},
}
FAST_DELIVERY = {
    "TT_DELIVERY_SCHEDULE": "0,200ms,200ms",
    "TT_DELIVERY_TIMEOUT": "2s",
    "TT_DISPATCH_INTERVAL": "100ms",
    "TT_LOG_LEVEL": "warning",
}
CONSOLE_SECRET = "browser-tests-console-key-0123456789"
ALPHA = "org-alpha"  # the issuer's partner user's party
BETA = "org-beta"
SERIOUS = ("serious", "critical")


def root_of(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"


def env_with_policy(directory: Path, **more: str) -> dict[str, str]:
    policy = directory / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    return {"TT_POLICY": str(policy), **FAST_DELIVERY, **more}


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture
def browser(chrome: Browser) -> Browser:
    """The module's browser on a blank page, without cookies or logged errors (each test
    checks at its end that the pages it opened logged none)."""
    fresh(chrome)
    return chrome


@pytest.fixture(scope="module")
def operator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("operator-server")
    factory = ServerFactory(directory)
    try:
        yield factory.serve(env=env_with_policy(directory))
    finally:
        factory.close()


@pytest.fixture
def api(operator_server: ServerProcess) -> Iterator[Api]:
    client = Api(operator_server.base)
    try:
        yield client
    finally:
        client.close()


@dataclass
class SignIn:
    """The server under ``TT_AUTH=jwt``, the issuer its console signs people in at, and the API
    as the issuer's operator."""

    server: ServerProcess
    issuer: OidcIssuer
    api: Api

    @property
    def root(self) -> str:
        return root_of(self.server)


@pytest.fixture(scope="module")
def sign_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignIn]:
    directory = tmp_path_factory.mktemp("sign-in-server")
    factory = ServerFactory(directory)
    with OidcIssuer() as issuer:
        port = free_port()
        env = env_with_policy(
            directory,
            TT_AUTH="jwt",
            TT_JWKS=issuer.jwks_url,
            TT_JWT_ISSUER=issuer.url,
            TT_JWT_AUDIENCE=issuer.audience,
            TT_JWT_PARTY_CLAIM=issuer.party_claim,
            TT_CONSOLE_CLIENT_ID=issuer.client_id,
            TT_CONSOLE_SECRET=CONSOLE_SECRET,
            TT_BASE_URL=f"http://127.0.0.1:{port}",
        )
        try:
            server = factory.serve(env=env, port=port)
            api = Api(server.base, issuer.access_token("jane"))
            try:
                yield SignIn(server, issuer, api)
            finally:
                api.close()
        finally:
            factory.close()


# -- helpers --------------------------------------------------------------------------------


def board_rows(browser: Browser) -> list[tuple[str, str]]:
    """(ticket id, seconds left) of the board's rows, in order."""
    rows = browser.find_elements(By.CSS_SELECTOR, "#board tr[data-ticket-id]")
    return [
        (row.get_attribute("data-ticket-id") or "", row.get_attribute("data-seconds-left") or "")
        for row in rows
    ]


def row_of(browser: Browser, ticket_id: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f'#board tr[data-ticket-id="{ticket_id}"]')


def open_board(browser: Browser, root: str, path: str = "/console/") -> None:
    browser.get(f"{root}{path}")
    wait_until(
        browser,
        lambda b: b.find_elements(By.ID, "board"),
        "the board's table",
    )


def add_note(browser: Browser, text: str) -> None:
    """Type a note into the open ticket page's form and send it; back on the ticket page."""
    form = browser.find_element(By.ID, "add-note")
    form.find_element(By.NAME, "text").send_keys(text)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(
        browser,
        lambda b: any(
            text in element.text
            for element in b.find_elements(By.CSS_SELECTOR, "#timeline .moment-note")
        ),
        f"the note {text!r} on the ticket's timeline",
    )


def sign_in_at_issuer(browser: Browser, issuer: OidcIssuer, username: str) -> None:
    """On the issuer's login form: choose ``username`` and press "Sign in"."""
    wait_until(
        browser,
        lambda b: (
            b.current_url.startswith(f"{issuer.url}/authorize") and b.find_elements(By.NAME, "user")
        ),
        "the issuer's login form",
    )
    Select(browser.find_element(By.NAME, "user")).select_by_value(username)
    button = browser.find_element(By.XPATH, "//button[normalize-space()='Sign in']")
    button.click()


def signed_in_as(browser: Browser) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, ".site-header .who strong").text)


def at(delta: timedelta) -> str:
    """A date-time ``delta`` from now, as the API writes them."""
    moment = datetime.now(UTC) + delta
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the board --------------------------------------------------------------------------------


def test_the_board_orders_tickets_by_time_to_breach(
    browser: Browser, api: Api, operator_server: ServerProcess
) -> None:
    low = api.create_ticket(description="Slow browsing in the evening", severity="Minor")
    critical = api.create_ticket(
        description="Core router down",
        severity="Critical",
        troubleTicketCharacteristic=urgency("High"),
    )
    medium = api.create_ticket(description="Intermittent packet loss", severity="Major")
    high = api.create_ticket(description="Leased line flapping", severity="Critical")
    made = {"Critical": critical, "High": high, "Medium": medium, "Low": low}
    assert {level: t["priority"] for level, t in made.items()} == {level: level for level in made}

    open_board(browser, root_of(operator_server))

    rows = board_rows(browser)
    seconds = [int(left) for _id, left in rows if left]
    assert len(seconds) == len(rows), f"a row without a live clock: {rows}"
    assert seconds == sorted(seconds), f"not by time to breach: {rows}"
    mine = [row_id for row_id, _left in rows if row_id in {t["id"] for t in made.values()}]
    assert mine == [made[level]["id"] for level in ("Critical", "High", "Medium", "Low")]
    first = browser.find_element(By.CSS_SELECTOR, "#board tr[data-ticket-id]")
    assert int(first.get_attribute("data-seconds-left") or "") == min(seconds)
    row = row_of(browser, critical["id"])
    assert row.find_element(By.CSS_SELECTOR, ".priority").text == "Critical"
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "acknowledged"
    assert row.find_element(By.CSS_SELECTOR, ".clock").text.startswith("resolve")
    link = row.find_element(By.CSS_SELECTOR, "a")
    assert link.get_attribute("href") == (
        f"{root_of(operator_server)}/console/tickets/{critical['id']}"
    )
    deadline = row.find_element(By.CSS_SELECTOR, ".deadline time").get_attribute("datetime")
    assert deadline == critical["slaClock"][0]["deadline"]
    for name in ("escalation", "jeopardy", "time-left", "assignee"):
        assert row.find_elements(By.CSS_SELECTOR, f".{name}"), f"no .{name} cell"

    link.click()
    wait_until(browser, lambda b: b.find_elements(By.ID, "ticket-title"), "the ticket's page")
    assert browser.find_element(By.ID, "ticket-title").text == "Core router down"
    assert_no_page_problems(browser)


def test_a_change_through_the_api_shows_on_the_open_board_without_a_reload(
    browser: Browser, api: Api, operator_server: ServerProcess
) -> None:
    ticket = api.create_ticket(description="Voice calls drop after a minute", severity="Minor")
    open_board(browser, root_of(operator_server))
    status = row_of(browser, ticket["id"]).find_element(By.CSS_SELECTOR, ".status")
    assert status.text == "acknowledged"
    # the stream is open, and has taken its first look at the board (just after its answer
    # began): what changes from now on is announced
    wait_until(browser, lambda b: b.execute_script("return window.__sseOpen"), "the event stream")
    time.sleep(0.5)
    browser.execute_script("window.__marker = 1;")

    started = time.monotonic()
    api.patch_ticket(ticket["id"], status="inProgress")

    def shown(b: Browser) -> bool:
        cell = row_of(b, ticket["id"]).find_element(By.CSS_SELECTOR, ".status")
        return bool(cell.text == "inProgress" and cell.get_attribute("data-status") == "inProgress")

    wait_until(browser, shown, "the new status on the open board", timeout=10)
    print(f"the board showed the change {time.monotonic() - started:.2f} s after the PATCH")
    assert browser.execute_script("return window.__marker") == 1, "the page was reloaded"
    assert_no_page_problems(browser)


# -- signing in -------------------------------------------------------------------------------


def test_signing_in_at_the_issuer_brings_the_person_back_to_the_board(
    browser: Browser, sign_in: SignIn
) -> None:
    browser.get(f"{sign_in.root}/console/")
    sign_in_at_issuer(browser, sign_in.issuer, "jane")

    wait_until(browser, lambda b: b.find_elements(By.ID, "board"), "the board after signing in")
    assert browser.current_url == f"{sign_in.root}/console/"
    assert signed_in_as(browser) == "Jane Operator"
    cookies = {cookie["name"]: cookie for cookie in browser.get_cookies()}
    assert cookies["tt_console"]["httpOnly"] is True
    assert cookies["tt_console"]["path"] == "/console"
    assert cookies["tt_console"].get("sameSite") == "Lax"
    assert "tt_console_sign_in" not in cookies  # the sign-in's state, used once
    assert "tt_console" not in browser.execute_script("return document.cookie")
    # the header of a signed-in page (who, and the sign-out form) is accessible too
    violations = run_axe(browser)
    assert not [v for v in violations if v.get("impact") in SERIOUS], describe(violations)
    assert_no_page_problems(browser)


def test_signing_out_ends_the_session_here_and_at_the_issuer(
    browser: Browser, sign_in: SignIn
) -> None:
    browser.get(f"{sign_in.root}/console/")
    sign_in_at_issuer(browser, sign_in.issuer, "jane")
    wait_until(browser, lambda b: b.find_elements(By.ID, "board"), "the board after signing in")
    logouts = len(sign_in.issuer.logouts)

    browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()

    wait_until(
        browser,
        lambda b: b.current_url.startswith(f"{sign_in.root}/console/signed-out"),
        "the signed-out page, by way of the issuer's end_session_endpoint",
    )
    assert browser.find_element(By.TAG_NAME, "h1").text == "Signed out"
    assert len(sign_in.issuer.logouts) == logouts + 1, "the issuer's session was not ended"
    assert "tt_console" not in {cookie["name"] for cookie in browser.get_cookies()}
    assert_no_page_problems(browser)
    browser.get(f"{sign_in.root}/console/")
    wait_until(
        browser,
        lambda b: b.current_url.startswith(f"{sign_in.issuer.url}/authorize"),
        "the issuer again, once signed out",
    )


def test_a_partner_sees_its_own_tickets_and_not_another_partners(
    browser: Browser, sign_in: SignIn
) -> None:
    ours = sign_in.api.create_ticket(
        description="Alpha: backhaul link down",
        severity="Major",
        relatedParty=[party(ALPHA, "customer", "Alpha Networks")],
    )
    theirs = sign_in.api.create_ticket(
        description="Beta: DSLAM unreachable",
        severity="Major",
        relatedParty=[party(BETA, "customer", "Beta Telecom")],
    )

    browser.get(f"{sign_in.root}/console/")
    sign_in_at_issuer(browser, sign_in.issuer, "alpha")
    wait_until(browser, lambda b: b.find_elements(By.ID, "board"), "the partner's board")
    assert signed_in_as(browser) == "Alpha Desk"
    shown = {row_id for row_id, _left in board_rows(browser)}
    assert ours["id"] in shown
    assert theirs["id"] not in shown
    assert "Beta: DSLAM unreachable" not in browser.find_element(By.ID, "board").text

    browser.get(f"{sign_in.root}/console/tickets/{theirs['id']}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    error = browser.find_element(By.ID, "error")
    assert error.get_attribute("role") == "alert"
    assert "DSLAM" not in browser.find_element(By.TAG_NAME, "main").text
    assert not browser.find_elements(By.ID, "ticket-title")

    browser.get(f"{sign_in.root}/console/tickets/{ours['id']}")
    assert browser.find_element(By.ID, "ticket-title").text == "Alpha: backhaul link down"
    # the browser logs the 404 of the other's page itself
    assert_no_page_problems(browser, expected=(f"/console/tickets/{theirs['id']}",))


# -- actions and events -----------------------------------------------------------------------


def test_a_note_from_the_console_makes_the_event_a_note_through_the_api_makes(
    browser: Browser, api: Api, operator_server: ServerProcess
) -> None:
    with Listener() as listener:
        hub = api.subscribe(f"{listener.url}/events")
        try:
            fields = {"description": "Set-top box reboots", "severity": "Minor"}
            a = api.create_ticket(**fields)
            b = api.create_ticket(**fields)

            browser.get(f"{root_of(operator_server)}/console/tickets/{a['id']}")
            add_note(browser, "Customer confirmed the reboots happen at 03:00")
            noted = {
                "@type": "Note",
                "author": "operator",
                "date": at(timedelta()),
                "text": "Customer confirmed the reboots happen at 03:00",
            }
            api.patch_ticket(b["id"], note=[noted])

            def with_note(received: list[Received], ticket_id: str) -> list[Received]:
                return [
                    r
                    for r in received
                    if r.event["event"].get("troubleTicket", {}).get("id") == ticket_id
                    and r.event["event"]["troubleTicket"].get("note")
                ]

            seen = listener.wait_for(
                lambda received: (
                    bool(with_note(received, a["id"])) and bool(with_note(received, b["id"]))
                ),
                what="the events of both notes",
            )
        finally:
            api.unsubscribe(hub)

    (from_console,) = with_note(seen, a["id"])
    (from_api,) = with_note(seen, b["id"])
    assert from_console.event_type == "TroubleTicketAttributeValueChangeEvent"
    assert from_api.event_type == from_console.event_type
    assert sorted(from_console.event) == sorted(from_api.event)
    assert sorted(from_console.event["event"]) == sorted(from_api.event["event"])
    console_ticket = from_console.event["event"]["troubleTicket"]
    api_ticket = from_api.event["event"]["troubleTicket"]
    assert shape(console_ticket) == shape(api_ticket)
    (console_note,) = console_ticket["note"]
    assert console_note["text"] == "Customer confirmed the reboots happen at 03:00"
    assert console_note["author"] == "operator"
    assert from_console.headers["content-type"] == from_api.headers["content-type"]
    assert_no_page_problems(browser)


# -- accessibility ----------------------------------------------------------------------------


def test_the_pages_have_no_serious_accessibility_violations(
    browser: Browser, api: Api, operator_server: ServerProcess
) -> None:
    root = root_of(operator_server)
    ticket = api.create_ticket(
        name="Business park without service",
        description="All lines of the business park are down since the storm",
        severity="Critical",
        relatedParty=[party("team-field", "assignee", "Field operations")],
        note=[
            {
                "@type": "Note",
                "author": "NOC",
                "date": at(-timedelta(minutes=5)),
                "text": "Power outage at the street cabinet",
            }
        ],
    )
    first = api.plan_activity(
        ticket["id"],
        name="Restore power",
        activityType="dispatchTechnician",
        plannedStartDate=at(timedelta(minutes=5)),
        plannedEndDate=at(timedelta(hours=1)),
    )
    api.plan_activity(
        ticket["id"],
        name="Check the line cards",
        activityType="diagnose",
        dependsOn=[first["id"]],
        plannedStartDate=at(timedelta(hours=1)),
        plannedEndDate=at(timedelta(hours=2)),
    )
    pages = {
        "board": "/console/",
        "ticket": f"/console/tickets/{ticket['id']}",
        "major incidents": "/console/major-incidents",
        "not found": "/console/tickets/no-such-ticket",
    }
    serious: dict[str, list[dict[str, Any]]] = {}
    for name, path in pages.items():
        browser.get(f"{root}{path}")
        violations = run_axe(browser)
        print(f"axe on the {name} page ({path}): {len(violations)} violation(s)")
        if violations:
            print(describe(violations))
        worst = [v for v in violations if v.get("impact") in SERIOUS]
        if worst:
            serious[name] = violations
    assert not serious, "serious or critical accessibility violations:\n" + "\n".join(
        f"{name} page:\n{describe(violations)}" for name, violations in serious.items()
    )
    assert_no_page_problems(browser, expected=("/console/tickets/no-such-ticket",))


# -- screenshots ------------------------------------------------------------------------------


@pytest.fixture
def pictures_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own for the screenshots: only the tickets they show."""
    factory = ServerFactory(tmp_path)
    try:
        yield factory.serve(env=env_with_policy(tmp_path))
    finally:
        factory.close()


def test_screenshots_of_the_board_and_a_ticket(
    browser: Browser, tmp_path: Path, pictures_server: ServerProcess
) -> None:
    server = pictures_server
    api = Api(server.base)
    root = root_of(server)
    noc = party("team-noc", "assignee", "NOC")
    field = party("team-field", "assignee", "Field operations")
    try:
        outage = api.create_ticket(
            name="Fibre cut at the Westend street cabinet",
            description="Roadworks cut the feeder cable; 240 customers without service",
            severity="Critical",
            troubleTicketCharacteristic=urgency("High"),
            relatedParty=[field],
            note=[
                {
                    "@type": "Note",
                    "author": "NOC",
                    "date": at(-timedelta(seconds=2)),
                    "text": "Alarm from the OLT: 240 ONTs lost signal at once",
                }
            ],
        )
        mobile = api.create_ticket(
            name="Mobile data outage at Harbour Point",
            description="Cell site HP-12 carries no data traffic",
            severity="Critical",
            relatedParty=[noc],
        )
        api.create_ticket(
            name="Packet loss on the Northgate leased line",
            description="Customer measures 2 % loss at peak hours",
            severity="Major",
            relatedParty=[noc],
        )
        api.create_ticket(
            name="Slow browsing in the evening",
            description="Single customer, VDSL line, speed test attached",
            severity="Minor",
        )
        api.create_ticket(
            name="Email delivery delayed",
            description="Outbound mail queues for up to ten minutes",
            severity="Minor",
            status="inProgress",
        )
        # the mobile outage held in warning (its clock paused), the fibre cut breached
        api.wait_for_ticket(
            mobile["id"],
            lambda t: t["slaClock"][0]["jeopardy"] == "warning",
            "the mobile outage in warning",
        )
        api.patch_ticket(
            mobile["id"], status="pending", statusChangeReason="Waiting for access to the mast"
        )
        api.wait_for_ticket(
            outage["id"],
            lambda t: t["slaClock"][0]["jeopardy"] == "breach",
            "the fibre cut breached",
        )
        api.patch_ticket(
            outage["id"],
            escalationLevel=1,
            escalationReason="240 customers affected; field manager informed",
        )
        splice = api.plan_activity(
            outage["id"],
            name="Dispatch the splicing crew",
            activityType="dispatchTechnician",
            plannedStartDate=at(-timedelta(minutes=10)),
            plannedEndDate=at(timedelta(hours=2)),
        )
        api.plan_activity(
            outage["id"],
            name="Splice the feeder cable",
            activityType="configurationChange",
            dependsOn=[splice["id"]],
            plannedStartDate=at(timedelta(hours=2)),
            plannedEndDate=at(timedelta(hours=5)),
        )

        open_board(browser, root)
        rows = board_rows(browser)
        assert rows[0][0] == outage["id"]
        jeopardy = {
            row.find_element(By.CSS_SELECTOR, ".jeopardy").get_attribute("data-jeopardy")
            for row in browser.find_elements(By.CSS_SELECTOR, "#board tr[data-ticket-id]")
        }
        assert {"breach", "warning", "none"} <= jeopardy
        screenshot(browser, "console-board.png", tmp_path)

        browser.get(f"{root}/console/tickets/{outage['id']}")
        start = browser.find_element(
            By.CSS_SELECTOR, f'form.complete-activity[data-activity-id="{splice["id"]}"] button'
        )
        start.click()
        wait_until(
            browser,
            lambda b: b.find_elements(By.CSS_SELECTOR, '.activity-state[data-state="inProgress"]'),
            "the activity started",
        )
        add_note(browser, "Splicing crew on site, first fibres joined")
        assert browser.find_element(By.ID, "ticket-title").text == outage["name"]
        assert browser.find_elements(By.CSS_SELECTOR, "#clocks tr[data-clock]")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#activities tr[data-activity-id]")) == 2
        screenshot(browser, "console-ticket.png", tmp_path)
        assert_no_page_problems(browser)
    finally:
        api.close()
