"""The audit trail's pure part: what a write changed, and the record of it."""

from __future__ import annotations

from datetime import UTC, datetime

from troubleticket.context import NO_CONTEXT, Context
from troubleticket.domain.audit import AUDIT, audit_record, changed_attributes, with_record

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def test_a_create_names_every_attribute_it_set_sorted() -> None:
    assert changed_attributes(None, {"status": "acknowledged", "@type": "TroubleTicket"}) == [
        "@type",
        "status",
    ]


def test_an_update_names_what_differs_and_not_what_it_is_told_to_ignore() -> None:
    before = {"status": "acknowledged", "name": "a", "lastUpdate": "1", AUDIT: [{"x": 1}]}
    after = {"status": "inProgress", "name": "a", "lastUpdate": "2", "note": [{"text": "n"}]}

    assert changed_attributes(before, after, ignore={"lastUpdate"}) == ["note", "status"]


def test_an_attribute_removed_is_a_change() -> None:
    assert changed_attributes({"name": "a", "status": "x"}, {"status": "x"}) == ["name"]


def test_the_items_of_an_itemized_list_are_named_by_id() -> None:
    before = {"work": [{"id": "a", "state": "planned"}, {"id": "b", "state": "planned"}]}
    after = {
        "work": [
            {"id": "a", "state": "inProgress"},
            {"id": "b", "state": "planned"},
            {"id": "c", "state": "planned"},
        ]
    }

    assert changed_attributes(before, after, itemized="work") == ["work/a", "work/c"]
    assert changed_attributes(after, {"work": []}, itemized="work") == [
        "work/a",
        "work/b",
        "work/c",
    ]


def test_a_record_names_who_how_and_what() -> None:
    context = Context(
        actor="svc-alpha",
        party={"@type": "PartyRef", "id": "org-alpha"},
        scope="troubleTicket:write",
        request_id="r-1",
    )

    assert audit_record("update", ["status"], context=context, now=NOW) == {
        "@type": "AuditRecord",
        "date": "2026-12-04T09:30:00.000Z",
        "action": "update",
        "actor": "svc-alpha",
        "party": "org-alpha",
        "scope": "troubleTicket:write",
        "requestId": "r-1",
        "changedAttributes": ["status"],
    }
    anonymous = audit_record("create", [], context=NO_CONTEXT, now=NOW)
    assert anonymous["actor"] is None and "party" not in anonymous and "scope" not in anonymous


def test_records_are_appended_to_the_trail() -> None:
    created = audit_record("create", [], context=NO_CONTEXT, now=NOW)
    updated = audit_record("update", ["status"], context=NO_CONTEXT, now=NOW)
    first = with_record({"id": "t"}, created)
    second = with_record(first, updated)

    assert second[AUDIT] == [created, updated]
    assert first[AUDIT] == [created]  # the earlier document is not changed
