"""Trouble reports to a partner, live: two real servers on 127.0.0.1, each on its own SQLite file.

The operator's server raises a ticket at the partner's (another troubleticket server, as any
TMF621 v5 partner would be) for a partner repair activity, and mirrors what the partner does
with it — through the partner's hub events, or by polling when the partner sends none. A cancel
at the operator cancels the partner's ticket. A SIGKILL of the operator in the middle of a
report loses and duplicates nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.conftest import ServerFactory, ServerProcess

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PARTNER_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-fibreco"}
FAST = {"TT_DISPATCH_INTERVAL": "100ms", "TT_LOG_LEVEL": "warning"}
REFLECTED_WITHIN_S = 2.0


def partners_file(directory: Path, partner: ServerProcess, *, subscribe: bool) -> Path:
    path = directory / f"partners-{'events' if subscribe else 'poll'}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "self": {
                    "id": "operator-1",
                    "party": {
                        "role": "originator",
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "org-operator"},
                    },
                },
                "partners": {
                    "fibreco": {
                        "name": "FibreCo",
                        "baseUrl": partner.base,
                        "party": PARTNER_PARTY,
                        "events": {"subscribe": subscribe, "secretEnv": "FIBRECO_HUB_SECRET"},
                        "poll": {"interval": "300ms", "after": "1m"},
                    }
                },
            }
        )
    )
    return path


def operator_for(
    factory: ServerFactory,
    directory: Path,
    partner: ServerProcess,
    *,
    subscribe: bool,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    return factory.serve(
        directory / f"operator-{subscribe}.sqlite3",
        env={
            **FAST,
            "TT_PARTNERS": str(partners_file(directory, partner, subscribe=subscribe)),
            "FIBRECO_HUB_SECRET": SECRET,
            **(env or {}),
        },
    )


def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.patch(url, json=body, headers=MERGE_PATCH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def get(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def a_ticket(api: str) -> dict[str, Any]:
    return post(
        f"{api}/troubleTicket",
        {
            "@type": "TroubleTicket",
            "description": "No sync on the FTTH line",
            "severity": "Major",
            "ticketType": "incident",
            "status": "inProgress",
        },
    )


def a_partner_repair(ticket: dict[str, Any]) -> dict[str, Any]:
    return post(
        f"{ticket['href']}/recoveryActivity",
        {
            "@type": "RecoveryActivity",
            "activityType": "partnerRepair",
            "name": "Repair the access line",
            "assignee": {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "partner",
                "partyOrPartyRole": PARTNER_PARTY,
            },
        },
    )


def partner_tickets(partner: ServerProcess, correlation: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{partner.base}/troubleTicket", params={"externalIdentifier.id": correlation}, timeout=10
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def report_of(activity: dict[str, Any]) -> dict[str, Any]:
    return get(activity["href"])["partnerReport"]  # type: ignore[no-any-return]


def open_report(activity_href: str) -> dict[str, Any] | None:
    """The activity's partner report once it is open."""
    report: dict[str, Any] = get(activity_href)["partnerReport"]
    return report if report["state"] == "open" else None


# What the operator's activity and ticket show after a step at the partner.
Shows = Callable[[dict[str, Any], dict[str, Any]], bool]


def work_it_at_the_partner(
    operator_activity: dict[str, Any],
    find: Callable[[str], list[dict[str, Any]]],
    url_of: Callable[[str], str],
    change_at: Callable[[str, dict[str, Any]], Any],
) -> str:
    """The partner works the ticket through inProgress, pending with a question and resolved;
    after each step the operator's activity and ticket show it within two seconds. The
    partner's ticket is found by our correlation id with ``find``, its URL is ``url_of`` its
    id, and ``change_at`` sends a change there (in the partner's TMF621 version). Returns that
    URL."""
    correlation = report_of(operator_activity)["correlationId"]
    (theirs,) = eventually(lambda: find(correlation), "the partner ticket")
    ticket_url = operator_activity["troubleTicket"]["href"]
    steps: list[tuple[dict[str, Any], Shows | None]] = [
        ({"status": "acknowledged"}, None),
        ({"status": "inProgress"}, lambda a, t: a["state"] == "inProgress"),
        (
            {"status": "pending", "statusChangeReason": "Which ONT serial number?"},
            lambda a, t: any(
                x["jeopardyType"] == "informationRequired"
                and "Which ONT serial number?" in x["message"]
                for x in t.get("troubleTicketJeopardyAlert", [])
            ),
        ),
        ({"status": "inProgress"}, None),
        (
            {"status": "resolved", "statusChangeReason": "Replaced the splitter"},
            lambda a, t: (
                a["state"] == "completed"
                and a["partnerReport"]["acceptance"] == "pending"
                and a["stateChangeReason"] == "Resolved by FibreCo: Replaced the splitter"
                and t["activitySummary"]["byState"]["completed"] == 1
            ),
        ),
    ]
    theirs_url = url_of(theirs["id"])
    for change, shows in steps:
        change_at(theirs_url, change)
        if shows is None:
            continue
        changed = time.monotonic()

        def operator_shows(shows: Shows = shows) -> bool:
            return shows(get(operator_activity["href"]), get(ticket_url))

        eventually(operator_shows, f"the operator showing {change}", timeout=10)
        assert time.monotonic() - changed <= REFLECTED_WITHIN_S, change
    return theirs_url


def work_it_at_the_v5_partner(partner: ServerProcess, operator_activity: dict[str, Any]) -> str:
    return work_it_at_the_partner(
        operator_activity,
        partial(partner_tickets, partner),
        lambda theirs: f"{partner.base}/troubleTicket/{theirs}",
        lambda url, change: patch(url, {"@type": "TroubleTicket", **change}),
    )


def test_a_report_through_the_partners_events_and_a_cancel_that_reaches_it(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    partner = server_factory.serve(tmp_path / "partner.sqlite3", env=FAST)
    operator = operator_for(server_factory, tmp_path, partner, subscribe=True)

    ticket = a_ticket(operator.base)
    activity = a_partner_repair(ticket)
    correlation = f"{ticket['id']}/{activity['id']}"
    assert activity["partnerReport"]["state"] == "requested"
    (theirs,) = eventually(lambda: partner_tickets(partner, correlation), "the partner ticket")
    assert theirs["externalIdentifier"][0]["owner"] == "operator-1"
    assert theirs["relatedParty"][0]["partyOrPartyRole"]["id"] == "org-operator"
    report = eventually(
        lambda: (r := report_of(activity))["state"] == "open" and r, "the report opened"
    )
    assert report["partnerTicket"]["id"] == theirs["id"]
    (identifier,) = get(activity["href"])["externalIdentifier"]
    assert (identifier["owner"], identifier["id"]) == ("fibreco", theirs["id"])

    work_it_at_the_v5_partner(partner, activity)

    # notes travel both ways: the partner's to our activity, ours to the partner's ticket
    theirs_url = f"{partner.base}/troubleTicket/{theirs['id']}"
    their_note = {"@type": "Note", "author": "FibreCo NOC", "text": "Splitter replaced at 14:02"}
    patch(theirs_url, {"@type": "TroubleTicket", "note": [their_note]})
    eventually(
        lambda: their_note["text"] in [n["text"] for n in get(activity["href"]).get("note", [])],
        "the partner's note on our activity",
    )
    our_note = {"@type": "Note", "author": "Operator desk", "text": "Customer confirms sync"}
    notes = get(activity["href"])["note"]
    patch(activity["href"], {"@type": "RecoveryActivity", "note": [*notes, our_note]})
    eventually(
        lambda: any(n.get("text") == our_note["text"] for n in get(theirs_url)["note"]),
        "our note on the partner's ticket",
    )
    assert [n["text"] for n in get(activity["href"])["note"]].count(our_note["text"]) == 1
    close_then_cancel_another(
        operator, ticket, activity, theirs_url, partial(partner_tickets, partner)
    )


def close_then_cancel_another(
    operator: ServerProcess,
    ticket: dict[str, Any],
    activity: dict[str, Any],
    theirs_url: str,
    partner_tickets_of: Callable[[str], list[dict[str, Any]]],
) -> None:
    """Closing our ticket closes the partner's (``theirs_url``); a second report, cancelled at
    the operator, cancels the partner's ticket too (found by our correlation id with
    ``partner_tickets_of``)."""
    # our customer accepts our fix: that accepts the partner's, whose ticket closes
    patch(ticket["href"], {"@type": "TroubleTicket", "status": "resolved"})
    patch(ticket["href"], {"@type": "TroubleTicket", "status": "closed"})
    eventually(lambda: get(theirs_url)["status"] == "closed", "the partner ticket closed")
    eventually(lambda: report_of(activity)["state"] == "closed", "the report closed")

    second = a_ticket(operator.base)
    repair = a_partner_repair(second)
    eventually(lambda: report_of(repair)["state"] == "open", "the second report opened")
    patch(
        second["href"],
        {"@type": "TroubleTicket", "status": "cancelled", "statusChangeReason": "Customer moved"},
    )
    (cancelled,) = partner_tickets_of(f"{second['id']}/{repair['id']}")
    eventually(
        lambda: get(cancelled["href"])["status"] == "cancelled", "the partner ticket cancelled"
    )
    assert get(cancelled["href"])["statusChangeReason"] == "Customer moved"
    eventually(lambda: report_of(repair)["state"] == "cancelled", "the report cancelled")


def test_without_the_partners_events_the_report_is_polled(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    partner = server_factory.serve(tmp_path / "partner.sqlite3", env=FAST)
    operator = operator_for(server_factory, tmp_path, partner, subscribe=False)

    ticket = a_ticket(operator.base)
    activity = a_partner_repair(ticket)
    eventually(lambda: report_of(activity)["state"] == "open", "the report opened")

    work_it_at_the_v5_partner(partner, activity)


def test_a_sigkill_mid_report_loses_and_duplicates_nothing(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    partner = server_factory.serve(tmp_path / "partner.sqlite3", env=FAST)
    # a short lease: a report claimed by the killed process is taken over within seconds
    lease = {"TT_DELIVERY_LEASE": "2s", "TT_DELIVERY_TIMEOUT": "1s"}
    operator = operator_for(server_factory, tmp_path, partner, subscribe=True, env=lease)
    reports: list[tuple[str, str]] = []
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2):
        ticket = a_ticket(operator.base)
        activity = a_partner_repair(ticket)
        reports.append((f"{ticket['id']}/{activity['id']}", activity["href"]))
        time.sleep(delay)
        operator.kill()
        operator.restart(keep_port=True)

    for correlation, href in reports:
        (theirs,) = eventually(partial(partner_tickets, partner, correlation), correlation)
        report = eventually(partial(open_report, href), f"{correlation} open")
        assert report["partnerTicket"]["id"] == theirs["id"]
    time.sleep(1.0)
    for correlation, _href in reports:
        assert len(partner_tickets(partner, correlation)) == 1, correlation
