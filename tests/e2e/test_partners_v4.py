"""Trouble reports to a partner that speaks TMF621 v4, live: two real servers on 127.0.0.1.

The partner is another troubleticket server, registered with its v4 root as ``baseUrl`` and
``api: v4``: the operator's server raises the ticket there, and hears back, through v4 alone —
the partner's v4 events at the operator's v4 listeners (signed with the secret it was given), or
polling when it sends none. Each step done at the partner is done through its v4 root too.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.conftest import ServerFactory, ServerProcess
from tests.e2e.test_partners import (
    FAST,
    PARTNER_PARTY,
    SECRET,
    a_partner_repair,
    a_ticket,
    close_then_cancel_another,
    eventually,
    get,
    patch,
    report_of,
    work_it_at_the_partner,
)

V4_ROOT = "/tmf-api/troubleTicket/v4"


def v4_root(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}{V4_ROOT}"


def partners_file(directory: Path, partner: ServerProcess, *, subscribe: bool) -> Path:
    path = directory / f"partners-v4-{'events' if subscribe else 'poll'}.yaml"
    fibreco: dict[str, Any] = {
        "name": "FibreCo",
        "baseUrl": v4_root(partner),
        "api": "v4",
        "party": PARTNER_PARTY,
        "events": {"subscribe": subscribe, "secretEnv": "FIBRECO_HUB_SECRET"},
        "poll": {"interval": "300ms", "after": "1m"},
    }
    operator_party = {
        "role": "originator",
        "partyOrPartyRole": {"@type": "PartyRef", "id": "org-operator"},
    }
    document = {
        "self": {"id": "operator-1", "party": operator_party},
        "partners": {"fibreco": fibreco},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def operator_for(
    factory: ServerFactory, directory: Path, partner: ServerProcess, *, subscribe: bool
) -> ServerProcess:
    return factory.serve(
        directory / f"operator-v4-{subscribe}.sqlite3",
        env={
            **FAST,
            "TT_PARTNERS": str(partners_file(directory, partner, subscribe=subscribe)),
            "FIBRECO_HUB_SECRET": SECRET,
        },
    )


def update(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """A v4 ``TroubleTicket_Update`` (plain JSON: the attributes named replace the current)."""
    response = requests.patch(url, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def listed(url: str) -> list[dict[str, Any]]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def v4_tickets(partner: ServerProcess, correlation: str) -> list[dict[str, Any]]:
    """The partner's tickets carrying our correlation id, read through its v4 root."""
    response = requests.get(
        f"{v4_root(partner)}/troubleTicket", params={"externalId": correlation}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def work_it_at_the_v4_partner(partner: ServerProcess, operator_activity: dict[str, Any]) -> str:
    """The partner works the ticket through its v4 root (``work_it_at_the_partner``); returns
    the partner ticket's v4 URL."""
    return work_it_at_the_partner(
        operator_activity,
        partial(v4_tickets, partner),
        lambda theirs: f"{v4_root(partner)}/troubleTicket/{theirs}",
        update,
    )


def test_a_report_at_a_v4_partner_through_its_signed_v4_events(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    partner = server_factory.serve(tmp_path / "partner.sqlite3", env=FAST)
    operator = operator_for(server_factory, tmp_path, partner, subscribe=True)

    # our v4 listeners are registered at the partner's v4 root, one hub per event type
    hubs = eventually(lambda: get(f"{operator.base}/partner/fibreco").get("hub"), "the hubs")
    assert sorted(hub["callback"].rsplit("/tmf-api/", 1)[1] for hub in hubs) == [
        "troubleTicket/v4/listener/troubleTicketAttributeValueChangeEvent",
        "troubleTicket/v4/listener/troubleTicketStatusChangeEvent",
    ]

    ticket = a_ticket(operator.base)
    activity = a_partner_repair(ticket)
    correlation = f"{ticket['id']}/{activity['id']}"
    (theirs,) = eventually(lambda: v4_tickets(partner, correlation), "the partner ticket")
    # made in the v4 form, read at the partner through v4 and v5 alike
    assert theirs["externalId"] == correlation
    assert theirs["relatedParty"] == [
        {"id": "org-operator", "role": "originator", "@referredType": "Party"}
    ]
    assert theirs["href"].endswith(f"{V4_ROOT}/troubleTicket/{theirs['id']}")
    as_v5 = get(f"{partner.base}/troubleTicket/{theirs['id']}")
    assert as_v5["externalIdentifier"][0]["id"] == correlation
    assert as_v5["relatedParty"][0]["partyOrPartyRole"]["id"] == "org-operator"
    assert as_v5["name"] == "Repair the access line"
    report = eventually(
        lambda: (r := report_of(activity))["state"] == "open" and r, "the report opened"
    )
    assert report["partnerTicket"]["id"] == theirs["id"]
    assert report["partnerTicket"]["href"] == theirs["href"]

    theirs_url = work_it_at_the_v4_partner(partner, activity)

    # an event not signed with the secret the partner was given is refused
    forged = {
        "eventId": "forged-1",
        "eventType": "TroubleTicketStatusChangeEvent",
        "event": {"troubleTicket": {"id": theirs["id"], "status": "cancelled"}},
    }
    refused = requests.post(
        f"{v4_root(operator)}/listener/troubleTicketStatusChangeEvent", json=forged, timeout=10
    )
    assert refused.status_code == 401, refused.text
    assert get(activity["href"])["state"] == "completed"

    # notes travel both ways: the partner's to our activity, ours to the partner's ticket
    their_note = {"author": "FibreCo NOC", "text": "Splitter replaced at 14:02"}
    update(theirs_url, {"note": [*get(theirs_url).get("note", []), their_note]})
    eventually(
        lambda: their_note["text"] in [n["text"] for n in get(activity["href"]).get("note", [])],
        "the partner's note on our activity",
    )
    our_note = {"@type": "Note", "author": "Operator desk", "text": "Customer confirms sync"}
    notes = get(activity["href"])["note"]
    patch(activity["href"], {"@type": "RecoveryActivity", "note": [*notes, our_note]})
    eventually(
        lambda: [n.get("text") for n in get(theirs_url)["note"]].count(our_note["text"]) == 1,
        "our note on the partner's ticket",
    )
    assert [n["text"] for n in get(theirs_url)["note"]].count(their_note["text"]) == 1
    assert [n["text"] for n in get(activity["href"])["note"]].count(our_note["text"]) == 1

    close_then_cancel_another(operator, ticket, activity, theirs_url, partial(v4_tickets, partner))

    # nothing was refused on the way: every event of the partner taken by our v4 listeners,
    # every request to the partner done
    def all_delivered(url: str) -> bool:
        return all(d["state"] == "delivered" for d in listed(url))

    for hub in hubs:
        deliveries = f"{partner.base}/hub/{hub['id']}/delivery"
        eventually(partial(all_delivered, deliveries), f"the deliveries of hub {hub['id']}")
    requests_made = listed(f"{operator.base}/partner/fibreco/delivery")
    assert {r["eventType"] for r in requests_made} >= {
        "PartnerTicketCreate",
        "PartnerTicketNote",
        "PartnerTicketClose",
        "PartnerTicketCancel",
    }
    assert all(
        r["state"] == "delivered" for r in requests_made if r["eventType"] != "PartnerTicketPoll"
    ), requests_made


def test_without_the_v4_partners_events_the_report_is_polled(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    partner = server_factory.serve(tmp_path / "partner.sqlite3", env=FAST)
    operator = operator_for(server_factory, tmp_path, partner, subscribe=False)

    ticket = a_ticket(operator.base)
    activity = a_partner_repair(ticket)
    eventually(lambda: report_of(activity)["state"] == "open", "the report opened")
    assert "hub" not in get(f"{operator.base}/partner/fibreco")

    theirs_url = work_it_at_the_v4_partner(partner, activity)

    patch(ticket["href"], {"@type": "TroubleTicket", "status": "resolved"})
    patch(ticket["href"], {"@type": "TroubleTicket", "status": "closed"})
    eventually(lambda: get(theirs_url)["status"] == "closed", "the partner ticket closed")
    eventually(lambda: report_of(activity)["state"] == "closed", "the report closed")
