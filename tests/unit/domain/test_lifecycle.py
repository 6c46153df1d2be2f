"""The trouble ticket lifecycle, checked against a transition table written out here by hand."""

from __future__ import annotations

import pytest

from troubleticket.domain.errors import InvalidRequest, InvalidTransition, ReasonRequired
from troubleticket.domain.lifecycle import (
    CREATE_PATHS,
    INITIAL_STATUS,
    REASON_REQUIRED,
    TRANSITIONS,
    TicketStatus,
    allowed_from,
    check_transition,
    is_final,
)

# Every status, in the order TicketStatus declares them.
STATUSES = [
    "acknowledged",
    "inProgress",
    "pending",
    "held",
    "resolved",
    "rejected",
    "cancelled",
    "closed",
]

# The expected lifecycle, independent of the TRANSITIONS table under test.
EXPECTED_TRANSITIONS: dict[str, set[str]] = {
    "acknowledged": {"inProgress", "pending", "held", "rejected", "cancelled"},
    "inProgress": {"pending", "held", "resolved", "cancelled"},
    "pending": {"inProgress", "cancelled"},
    "held": {"inProgress", "cancelled"},
    "resolved": {"closed", "inProgress"},
    "rejected": {"closed"},
    "cancelled": set(),
    "closed": set(),
}
NEEDS_REASON = {"cancelled", "rejected"}

ALLOWED_PAIRS = [
    pytest.param(src, dst, id=f"{src}->{dst}")
    for src in STATUSES
    for dst in STATUSES
    if dst in EXPECTED_TRANSITIONS[src]
]
FORBIDDEN_PAIRS = [
    pytest.param(src, dst, id=f"{src}->{dst}")
    for src in STATUSES
    for dst in STATUSES
    if dst not in EXPECTED_TRANSITIONS[src]
]


def test_the_status_enum_has_exactly_the_eight_tmf621_statuses_in_order() -> None:
    assert [s.value for s in TicketStatus] == STATUSES


def test_every_ticket_starts_acknowledged() -> None:
    assert INITIAL_STATUS is TicketStatus.ACKNOWLEDGED


def test_the_matrix_covers_all_64_pairs_with_16_allowed() -> None:
    assert len(ALLOWED_PAIRS) == 16
    assert len(ALLOWED_PAIRS) + len(FORBIDDEN_PAIRS) == 64


@pytest.mark.parametrize(("src", "dst"), ALLOWED_PAIRS)
def test_an_allowed_transition_is_accepted(src: str, dst: str) -> None:
    check_transition(TicketStatus(src), TicketStatus(dst), "Customer asked for it")


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN_PAIRS)
def test_a_forbidden_transition_is_refused_naming_both_statuses(src: str, dst: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(TicketStatus(src), TicketStatus(dst), "Customer asked for it")

    error = caught.value
    assert error.from_status == src
    assert error.to_status == dst
    assert f"from status {src!r} to {dst!r}" in str(error)
    assert error.code == "invalidStatusTransition"
    assert set(error.allowed) == EXPECTED_TRANSITIONS[src]


def test_a_refusal_from_a_final_status_says_it_is_final() -> None:
    with pytest.raises(InvalidTransition, match="none, it is a final status"):
        check_transition(TicketStatus.CLOSED, TicketStatus.IN_PROGRESS, None)


def test_a_refusal_lists_the_statuses_that_are_allowed_instead() -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(TicketStatus.PENDING, TicketStatus.RESOLVED, None)
    assert caught.value.allowed == ["inProgress", "cancelled"]
    assert "allowed from 'pending': inProgress, cancelled" in str(caught.value)


def test_a_forbidden_transition_is_reported_before_a_missing_reason() -> None:
    # closed -> cancelled is not in the table; the missing reason is not the problem.
    with pytest.raises(InvalidTransition):
        check_transition(TicketStatus.CLOSED, TicketStatus.CANCELLED, None)


class TestReasons:
    REASON_PAIRS = [
        pytest.param(src, dst, id=f"{src}->{dst}")
        for src in STATUSES
        for dst in sorted(EXPECTED_TRANSITIONS[src] & NEEDS_REASON)
    ]
    NO_REASON_PAIRS = [
        pytest.param(src, dst, id=f"{src}->{dst}")
        for src in STATUSES
        for dst in sorted(EXPECTED_TRANSITIONS[src] - NEEDS_REASON)
    ]
    BLANK_REASONS = [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("\t\n", id="whitespace"),
    ]

    def test_the_reason_tables_cover_every_allowed_pair(self) -> None:
        assert len(self.REASON_PAIRS) == 5
        assert len(self.REASON_PAIRS) + len(self.NO_REASON_PAIRS) == len(ALLOWED_PAIRS)

    @pytest.mark.parametrize("reason", BLANK_REASONS)
    @pytest.mark.parametrize(("src", "dst"), REASON_PAIRS)
    def test_cancelling_or_rejecting_without_a_reason_is_refused(
        self, src: str, dst: str, reason: str | None
    ) -> None:
        with pytest.raises(ReasonRequired) as caught:
            check_transition(TicketStatus(src), TicketStatus(dst), reason)
        assert caught.value.status == dst
        assert repr(dst) in str(caught.value)
        assert caught.value.code == "statusChangeReasonRequired"

    def test_a_missing_reason_is_an_invalid_request(self) -> None:
        with pytest.raises(InvalidRequest):
            check_transition(TicketStatus.ACKNOWLEDGED, TicketStatus.REJECTED, None)

    @pytest.mark.parametrize(("src", "dst"), REASON_PAIRS)
    def test_cancelling_or_rejecting_with_a_reason_is_accepted(self, src: str, dst: str) -> None:
        check_transition(TicketStatus(src), TicketStatus(dst), "Duplicate of TT-7")

    @pytest.mark.parametrize("reason", BLANK_REASONS)
    @pytest.mark.parametrize(("src", "dst"), NO_REASON_PAIRS)
    def test_other_targets_do_not_need_a_reason(
        self, src: str, dst: str, reason: str | None
    ) -> None:
        check_transition(TicketStatus(src), TicketStatus(dst), reason)


@pytest.mark.parametrize("status", STATUSES)
def test_only_cancelled_and_closed_are_final(status: str) -> None:
    assert is_final(TicketStatus(status)) is (status in {"cancelled", "closed"})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("acknowledged", ["inProgress", "pending", "held", "rejected", "cancelled"]),
        ("inProgress", ["pending", "held", "resolved", "cancelled"]),
        ("pending", ["inProgress", "cancelled"]),
        ("held", ["inProgress", "cancelled"]),
        ("resolved", ["inProgress", "closed"]),
        ("rejected", ["closed"]),
        ("cancelled", []),
        ("closed", []),
    ],
)
def test_allowed_from_lists_targets_in_enum_order(status: str, expected: list[str]) -> None:
    assert allowed_from(TicketStatus(status)) == expected


@pytest.mark.parametrize("status", list(TicketStatus))
def test_every_status_has_a_create_path_of_allowed_steps_that_ends_there(
    status: TicketStatus,
) -> None:
    steps = (INITIAL_STATUS, *CREATE_PATHS[status])
    assert steps[-1] is status
    for before, after in zip(steps, steps[1:], strict=False):
        assert after in TRANSITIONS[before]
    # only the last step may need a reason: the one the request's statusChangeReason explains
    assert not REASON_REQUIRED.intersection(steps[:-1])
