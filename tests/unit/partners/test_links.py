"""PartnerLinks: our listeners registered as hubs at a partner that sends events, once."""

from __future__ import annotations

from collections.abc import Callable

from tests.unit.partners.conftest import BASE_URL, SECRET, Operator
from troubleticket.partners.links import PartnerLinks
from troubleticket.store.port import Collection

LISTENERS = f"{BASE_URL}/tmf-api/troubleTicket/v5"


def links(operator: Operator) -> PartnerLinks:
    assert operator.run.links is not None
    return operator.run.links


def test_each_listener_is_registered_with_the_secret_and_the_hubs_kept(
    operator: Operator,
) -> None:
    assert links(operator).run_once() == 1

    assert operator.partner.requests() == ["POST /hub", "POST /hub"]
    assert [s.body for s in operator.partner.seen] == [
        {
            "@type": "Hub",
            "callback": f"{LISTENERS}/listener/troubleTicketStatusChangeEvent",
            "query": "eventType=TroubleTicketStatusChangeEvent",
            "secret": SECRET,
        },
        {
            "@type": "Hub",
            "callback": f"{LISTENERS}/listener/troubleTicketAttributeValueChangeEvent",
            "query": "eventType=TroubleTicketAttributeValueChangeEvent",
            "secret": SECRET,
        },
    ]
    kept = operator.store.get(Collection.PARTNER, "fibreco")
    assert kept is not None
    assert kept.doc["registeredAt"] == "2026-11-20T08:00:00.000Z"
    assert [(h["id"], h["query"]) for h in kept.doc["hub"]] == [
        ("hub-1", "eventType=TroubleTicketStatusChangeEvent"),
        ("hub-2", "eventType=TroubleTicketAttributeValueChangeEvent"),
    ]


def test_a_partner_registered_at_is_not_registered_at_again(
    operator_with: Callable[..., Operator],
) -> None:
    first = operator_with()
    assert links(first).run_once() == 1
    first.partner.clear()

    assert links(first).run_once() == 0
    # another process on the same store finds the registration too
    assert links(operator_with()).run_once() == 0
    assert first.partner.requests() == []


def test_a_partner_that_appends_the_listener_path_gets_one_hub_for_both_events(
    operator_with: Callable[..., Operator],
) -> None:
    operator = operator_with(events={"subscribe": True, "appendEventListenerPath": True})

    assert links(operator).run_once() == 1

    (hub,) = [s.body for s in operator.partner.seen]
    assert hub == {
        "@type": "Hub",
        "callback": LISTENERS,
        "query": "eventType=TroubleTicketStatusChangeEvent,TroubleTicketAttributeValueChangeEvent",
        "appendEventListenerPath": True,
    }


def test_a_partner_that_sends_no_events_is_left_alone(
    operator_with: Callable[..., Operator],
) -> None:
    operator = operator_with(events={"subscribe": False})

    assert links(operator).run_once() == 0

    assert operator.partner.requests() == []
    assert operator.store.get(Collection.PARTNER, "fibreco") is None


def test_a_refused_registration_is_tried_again_on_the_next_pass(operator: Operator) -> None:
    operator.partner.fail("POST /hub", 503)

    assert links(operator).run_once() == 0
    assert operator.store.get(Collection.PARTNER, "fibreco") is None

    assert links(operator).run_once() == 1
    kept = operator.store.get(Collection.PARTNER, "fibreco")
    assert kept is not None and len(kept.doc["hub"]) == 2


def test_a_registration_refused_half_way_takes_back_the_hub_it_made(operator: Operator) -> None:
    operator.partner.fail("POST /hub", 503, after=1)

    assert links(operator).run_once() == 0
    assert operator.partner.requests() == ["POST /hub", "POST /hub", "DELETE /hub/hub-1"]
    assert operator.partner.hubs == []

    assert links(operator).run_once() == 1
    assert [hub["query"] for hub in operator.partner.hubs] == [
        "eventType=TroubleTicketStatusChangeEvent",
        "eventType=TroubleTicketAttributeValueChangeEvent",
    ]
