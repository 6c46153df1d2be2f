"""What the operator's verbs of the ``troubleticket`` command do: list and replay deliveries,
show the tickets whose SLAs are at risk, and check a configuration without serving it.

Framework-free: each function takes the store or the services it works on and returns data (or
rows of text for a table); ``cli.py`` parses the arguments and prints. The services are the ones
the API uses — ``HubService`` and ``PartnerDirectory`` for deliveries, the composition root's
loaders for the configuration — so a verb means what the matching API operation means.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from troubleticket.app import (
    egress_policy,
    load_partners,
    load_policy,
    served_contract,
    store_location,
)
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.documents import timestamp
from troubleticket.domain.errors import TroubleTicketError
from troubleticket.domain.lifecycle import TicketStatus
from troubleticket.domain.policy import DEFAULT_POLICY, Policy
from troubleticket.domain.sla import CLOCKS, LEVEL, NEXT_CHECK
from troubleticket.services.hubs import MAX_REPLAY_DELIVERIES, HubService
from troubleticket.services.outbox import DEAD, DELIVERED, DELIVERING, PENDING
from troubleticket.services.partners import PartnerDirectory, refused_partner_urls
from troubleticket.store.port import Collection, ListQuery, Page, Store
from troubleticket.store.query import AnyOf, Comparison, Filter, Op, SortKey, instant
from troubleticket.types import JSON, NO_CONTEXT

# -- deliveries --------------------------------------------------------------------------------

# The order of a listing of deliveries (the API's), and the order dead ones are replayed in.
OLDEST_FIRST = (SortKey(("createdAt",)),)

DELIVERY_COLUMNS = (
    "ID",
    "TARGET",
    "EVENT TYPE",
    "RESOURCE",
    "STATE",
    "ATTEMPTS",
    "NEXT ATTEMPT / LAST ERROR",
    "CREATED",
)
# The longest last error a table shows (the whole one is in --json).
SHOWN_ERROR = 60


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose deliveries: one hub's, one partner's (its lanes), or, naming neither, all."""

    hub: str | None = None
    partner: str | None = None

    def __str__(self) -> str:
        if self.hub is not None:
            return f"hub {self.hub}"
        if self.partner is not None:
            return f"partner {self.partner}"
        return "all hubs and partners"


@dataclass(frozen=True, slots=True)
class Listing:
    """Deliveries as the API shows them, newest first; ``more``: the limit cut some off."""

    items: list[JSON]
    more: bool


@dataclass(frozen=True, slots=True)
class DeadReplay:
    """What ``replay --dead`` did: the new deliveries, and the dead ones it left alone
    because they were replayed before (their replay is the one to look at)."""

    made: list[str]
    skipped: int


class ReplayStopped(Exception):
    """A replay was refused; ``made`` holds the deliveries made by earlier batches, which stay."""

    def __init__(self, message: str, made: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.made = made


class DeliveryAdmin:
    """List and replay deliveries, through the services the API's ``/hub/{id}/delivery`` and
    ``/partner/{id}/delivery`` use; ``partners`` is needed only for a partner's scope."""

    def __init__(
        self, store: Store, hubs: HubService, partners: PartnerDirectory | None = None
    ) -> None:
        self._store = store
        self._hubs = hubs
        self._partners = partners

    def _directory(self) -> PartnerDirectory:
        if self._partners is None:
            raise ValueError("a partner's deliveries need the partner directory")
        return self._partners

    def _page(self, scope: Scope, query: ListQuery) -> Page:
        """One page of the scope's deliveries as the API shows them (newest first unless
        ``query`` sorts otherwise).

        Raises:
            NotFound: no such hub or partner.
        """
        if scope.hub is not None:
            return self._hubs.deliveries(scope.hub, query, NO_CONTEXT)
        if scope.partner is not None:
            return self._directory().deliveries(scope.partner, query, NO_CONTEXT)
        return self._hubs.deliveries_to(None, query)

    def latest(
        self, scope: Scope = Scope(), *, states: Sequence[str] = (), limit: int = 50
    ) -> Listing:
        """The newest ``limit`` deliveries of the scope, in any of ``states`` (all if none).

        Raises:
            NotFound: no such hub or partner.
        """
        page = self._page(scope, ListQuery(where=_in_states(states), limit=limit, count=False))
        return Listing(page.items, more=page.next_cursor is not None)

    def replay(self, delivery_ids: Sequence[str], scope: Scope = Scope()) -> list[str]:
        """Make the named deliveries again (each to its own hub or partner lane, which must be
        the scope's when one is named); returns the ids of the new deliveries.

        Only dead or delivered deliveries are made again, as the API's replay says; the new
        delivery is pending, names the original in ``replayOf`` and carries the same event.

        Raises:
            ReplayStopped: one is unknown (to the scope), not finished, or its event is gone;
                the batches before it (of ``MAX_REPLAY_DELIVERIES``) stay made.
        """
        unique = list(dict.fromkeys(delivery_ids))
        made: list[str] = []
        for start in range(0, len(unique), MAX_REPLAY_DELIVERIES):
            made.extend(
                self._replay_batch(unique[start : start + MAX_REPLAY_DELIVERIES], scope, made)
            )
        return made

    def replay_dead(
        self, scope: Scope = Scope(), *, batch: int = MAX_REPLAY_DELIVERIES
    ) -> DeadReplay:
        """Make every dead delivery of the scope again, oldest first, a batch at a time.

        One replayed before is skipped: its replay says how that went (and is itself made
        again here if it died too), so running this twice sends nothing twice.

        Raises:
            NotFound: no such hub or partner.
            ReplayStopped: a batch was refused (see ``replay``).
        """
        batch = min(batch, MAX_REPLAY_DELIVERIES)
        replayed = self._replayed(scope)
        made: list[str] = []
        skipped = 0
        after: str | None = None
        dead = _in_states((DEAD,))
        while True:
            page = self._page(
                scope,
                ListQuery(where=dead, sort=OLDEST_FIRST, limit=batch, after=after, count=False),
            )
            fresh = [d["id"] for d in page.items if d["id"] not in replayed]
            skipped += len(page.items) - len(fresh)
            if fresh:
                # New deliveries are pending: they never join the dead ones being paged through.
                made.extend(self._replay_batch(fresh, scope, made))
            if page.next_cursor is None or not page.items:
                return DeadReplay(made, skipped)
            after = page.next_cursor

    def _replayed(self, scope: Scope) -> set[str]:
        """The ids of the scope's deliveries some delivery is a replay of."""
        has_original = Filter((AnyOf((Comparison(("replayOf",), Op.REGEX, ""),)),))
        originals: set[str] = set()
        after: str | None = None
        while True:
            page = self._page(
                scope, ListQuery(where=has_original, limit=1000, after=after, count=False)
            )
            originals.update(d["replayOf"] for d in page.items)
            if page.next_cursor is None or not page.items:
                return originals
            after = page.next_cursor

    def _replay_batch(self, ids: list[str], scope: Scope, made: list[str]) -> list[str]:
        body: JSON = {"delivery": ids}
        try:
            if scope.hub is not None:
                result = self._hubs.replay(scope.hub, body, NO_CONTEXT)
            elif scope.partner is not None:
                result = self._directory().replay(scope.partner, body, NO_CONTEXT)
            else:
                result = self._hubs.replay_to(self._targets(ids), body, "The store")
        except TroubleTicketError as exc:
            raise ReplayStopped(exc.message, list(made)) from None
        return list(result["replayed"])

    def _targets(self, ids: list[str]) -> tuple[str, ...]:
        """Where the named deliveries went (hubs, partner lanes): each replay goes there."""
        found = (self._store.get(Collection.DELIVERY, i) for i in ids)
        return tuple(dict.fromkeys(s.doc["hubId"] for s in found if s is not None))


def _in_states(states: Sequence[str]) -> Filter:
    if not states:
        return Filter()
    return Filter((AnyOf(tuple(Comparison(("state",), Op.EQ, s) for s in states)),))


def delivery_row(delivery: JSON) -> tuple[str, ...]:
    """A delivery as a row of ``DELIVERY_COLUMNS``."""
    state = delivery.get("state", "")
    error = delivery.get("lastError")
    if state in (PENDING, DELIVERING):
        outlook = f"next {delivery.get('nextAttemptAt', '')}"
        if error:
            outlook += f" after: {error}"
    elif state == DELIVERED:
        outlook = f"delivered {delivery.get('deliveredAt', '')}"
    else:
        outlook = error or ""
    if len(outlook) > SHOWN_ERROR:
        outlook = outlook[: SHOWN_ERROR - 3] + "..."
    return (
        str(delivery["id"]),
        str(delivery.get("hubId", "")),
        str(delivery.get("eventType", "")),
        str((delivery.get("resource") or {}).get("id", "")),
        str(state),
        str(delivery.get("attempts", 0)),
        outlook,
        str(delivery.get("createdAt", "")),
    )


# -- the jeopardy board ------------------------------------------------------------------------

# The statuses under which SLA clocks run or pause; resolved, closed, cancelled and rejected
# tickets have their clocks stopped (met, breached or cancelled).
OPEN_STATUSES = (
    TicketStatus.ACKNOWLEDGED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.PENDING,
    TicketStatus.HELD,
)
LIVE_CLOCKS = ("running", "paused")
IN_JEOPARDY = ("warning", "breach")
# The role a ticket's assignee has among its related parties (beside those escalation assigns).
ASSIGNEE_ROLE = "assignee"
BOARD_PAGE = 500

BOARD_COLUMNS = (
    "ID",
    "PRIORITY",
    "STATUS",
    "ESC",
    "CLOCK",
    "JEOPARDY",
    "DEADLINE",
    "TIME LEFT",
    "ASSIGNEE",
)


@dataclass(frozen=True, slots=True)
class AtRisk:
    """One ticket of the board, by its worst live clock (the least time left)."""

    id: str
    priority: str | None
    status: str
    escalation_level: int
    clock: str
    jeopardy: str  # as the SLA monitor last recorded it
    deadline: str
    seconds_left: float  # negative: overdue
    assignee: JSON | None  # the related party the ticket is assigned to
    check_due: bool  # a threshold is due that the SLA monitor has not recorded yet

    def as_json(self) -> JSON:
        shown: JSON = {
            "id": self.id,
            "priority": self.priority,
            "status": self.status,
            "escalationLevel": self.escalation_level,
            "clock": self.clock,
            "jeopardy": self.jeopardy,
            "deadline": self.deadline,
            "secondsLeft": round(self.seconds_left, 3),
            "checkDue": self.check_due,
        }
        if self.assignee is not None:
            shown["assignee"] = self.assignee
        return shown

    def row(self) -> tuple[str, ...]:
        """The ticket as a row of ``BOARD_COLUMNS``."""
        return (
            self.id,
            self.priority or "",
            self.status,
            str(self.escalation_level),
            self.clock,
            f"{self.jeopardy} (due)" if self.check_due else self.jeopardy,
            self.deadline,
            span(self.seconds_left),
            party_name(self.assignee),
        )


@dataclass(frozen=True, slots=True)
class Board:
    """The ``limit`` tickets most at risk, most overdue first, of ``total`` at risk."""

    tickets: list[AtRisk]
    total: int


def at_risk(
    store: Store,
    policy: Policy = DEFAULT_POLICY,
    *,
    now: datetime,
    within: float = 0.0,
    limit: int = 20,
) -> Board:
    """The open tickets whose SLAs need attention: a live clock in jeopardy (warning or breach),
    a running clock whose deadline falls within ``within`` seconds (or is past), or a threshold
    the SLA monitor has yet to record; sorted by time left, most overdue first.

    The store is read a page at a time; only the ``limit`` most urgent are kept. Its filter
    selects the open statuses (indexed) and, of those, the tickets with a clock in jeopardy or
    whose ``slaNextCheck`` (indexed; the earliest threshold of a running clock) falls within
    the window: a running clock reaches its warning threshold before its deadline, so every
    deadline within the window is found by it. ``slaNextCheck`` alone would not do: a clock past
    its breach has no next threshold, and a paused clock none either.

    Of the policy only two things are read: the warning share (beyond 1.0 a deadline can come
    before its warning, and the deadlines are then filtered on too) and the roles escalation
    assigns a ticket to (who the assignee is).
    """
    horizon = timestamp(now + timedelta(seconds=within))
    alternatives = [
        *(Comparison((CLOCKS, "jeopardy"), Op.EQ, level) for level in IN_JEOPARDY),
        Comparison((NEXT_CHECK,), Op.LTE, horizon),
    ]
    if policy.sla.warning > 1:
        alternatives.append(Comparison((CLOCKS, "deadline"), Op.LTE, horizon))
    where = Filter(
        (
            AnyOf(tuple(Comparison(("status",), Op.EQ, s.value) for s in OPEN_STATUSES)),
            AnyOf(tuple(alternatives)),
        )
    )
    roles = _assignee_roles(policy)
    found = [0]

    def candidates() -> Iterator[AtRisk]:
        for ticket in _pages(store, where):
            item = _at_risk(ticket, now, horizon, roles)
            if item is not None:
                found[0] += 1
                yield item

    worst = heapq.nsmallest(limit, candidates(), key=lambda t: (t.seconds_left, t.id))
    return Board(worst, found[0])


def _pages(store: Store, where: Filter) -> Iterator[JSON]:
    after: str | None = None
    while True:
        page = store.list(
            Collection.TROUBLE_TICKET,
            ListQuery(where=where, limit=BOARD_PAGE, after=after, count=False),
        )
        yield from page.items
        if page.next_cursor is None or not page.items:
            return
        after = page.next_cursor


def _at_risk(ticket: JSON, now: datetime, horizon: str, roles: tuple[str, ...]) -> AtRisk | None:
    live = [
        clock
        for clock in ticket.get(CLOCKS) or []
        if isinstance(clock, Mapping)
        and clock.get("state") in LIVE_CLOCKS
        and isinstance(clock.get("deadline"), str)
        and instant(clock["deadline"]) is not None
    ]
    if not live:
        return None
    pressing = [
        clock
        for clock in live
        if clock.get("jeopardy") in IN_JEOPARDY
        or (clock["state"] == "running" and _at_or_before(clock["deadline"], horizon))
    ]
    next_check = ticket.get(NEXT_CHECK)
    check_due = isinstance(next_check, str) and _at_or_before(next_check, timestamp(now))
    if not pressing and not check_due:
        return None
    worst = min(pressing or live, key=lambda clock: _moment(clock["deadline"]))
    return AtRisk(
        id=str(ticket["id"]),
        priority=ticket.get("priority"),
        status=str(ticket.get("status", "")),
        escalation_level=int(ticket.get(LEVEL, 0) or 0),
        clock=str(worst.get("name", "")),
        jeopardy=str(worst.get("jeopardy", "none")),
        deadline=str(worst["deadline"]),
        seconds_left=(_moment(worst["deadline"]) - now).total_seconds(),
        assignee=_assignee(ticket, roles),
        check_due=check_due,
    )


def _moment(stamp: str) -> datetime:
    moment = instant(stamp)
    assert moment is not None, stamp
    return moment


def _at_or_before(stamp: str, limit: str) -> bool:
    moment, bound = instant(stamp), instant(limit)
    return moment is not None and bound is not None and moment <= bound


def _assignee_roles(policy: Policy) -> tuple[str, ...]:
    """The roles a ticket's assignee may have: ``assignee``, and those escalation rules assign
    (the later rule, usually on breach, last: its party is the one in charge)."""
    assigned = [r.assign_to.get("role") for r in policy.escalation if r.assign_to is not None]
    return tuple(dict.fromkeys([ASSIGNEE_ROLE, *(r for r in assigned if isinstance(r, str))]))


def _assignee(ticket: JSON, roles: tuple[str, ...]) -> JSON | None:
    """The related party in charge: of the assignee roles, the one listed latest."""
    parties = [
        party
        for party in ticket.get("relatedParty") or []
        if isinstance(party, Mapping) and party.get("role") in roles
    ]
    if not parties:
        return None
    return dict(max(parties, key=lambda party: roles.index(party["role"])))


def party_name(party: JSON | None) -> str:
    """A related party as people call it: its name, else its id."""
    if party is None:
        return ""
    ref = party.get("partyOrPartyRole")
    if not isinstance(ref, Mapping):
        return str(party.get("role", ""))
    return str(ref.get("name") or ref.get("partyName") or ref.get("id") or "")


def span(seconds: float) -> str:
    """A time left as people read it: ``2d03h``, ``1h12m``, ``35m``, ``40s``; ``-`` overdue."""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{secs}s"


# -- the configuration check -------------------------------------------------------------------

OK = "ok"
PROBLEM = "error"
UNCHECKED = "skipped"

# The settings each check depends on: a check whose setting is unusable is not made.
_DEPENDS = {
    "exposure": ("host", "auth", "auth_insecure"),
    "store": ("store",),
    "policy": ("policy",),
    "partners": ("partners", "egress_allow"),
    "auth": (
        "auth",
        "jwks",
        "jwt_issuer",
        "jwt_audience",
        "jwt_algorithms",
        "jwt_leeway",
        "jwt_roles_claim",
        "jwt_party_claim",
        "token_url",
        "scopes",
    ),
}
_VARIABLE = re.compile(r"TT_[A-Z0-9_]+")
_FIELDS = frozenset(f.name for f in fields(Settings))


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the check: ``outcome`` is ``ok``, ``error`` or ``skipped``."""

    section: str
    outcome: str
    text: str


def check_config(
    flags: Mapping[str, str | None], environ: Mapping[str, str] = os.environ
) -> list[Finding]:
    """Check everything ``serve`` checks before it listens, without opening the store: the
    settings (variables and ``flags``), the exposure rule, the store location, the policy, the
    partner registry (its secrets and URLs too) and the served contract with its tokens.

    Every check is made, whatever the others found; each problem is one finding (a file with
    several problems gives one per problem). A check that needs a setting that cannot be used
    is reported as skipped.
    """
    settings, unusable, findings = _settings(flags, environ)
    checks = (
        ("exposure", _exposure),
        ("store", _store),
        ("policy", _policy),
        ("partners", lambda s: _partners(s, environ)),
        ("auth", _auth),
    )
    for section, check in checks:
        spoilt = sorted(name for name in _DEPENDS[section] if name in unusable)
        if settings is None or spoilt:
            named = ", ".join(f"TT_{name.upper()}" for name in spoilt) or "the settings"
            findings.append(Finding(section, UNCHECKED, f"not checked: {named} unusable"))
            continue
        try:
            findings.append(Finding(section, OK, check(settings)))
        except ConfigError as exc:
            findings.extend(Finding(section, PROBLEM, line) for line in _lines(str(exc)))
    return findings


def _settings(
    flags: Mapping[str, str | None], environ: Mapping[str, str]
) -> tuple[Settings | None, set[str], list[Finding]]:
    """The settings, with every unusable one reported and left at its default."""
    variables = {f"TT_{name.upper()}" for name in _FIELDS}
    env = {name: value for name, value in environ.items() if name in variables}
    given = {name: value for name, value in flags.items() if value is not None}
    findings: list[Finding] = []
    unusable: set[str] = set()
    # Settings stop at their first problem (its message names the variable first): the
    # variable is reported, left out, and the rest read again.
    for _ in range(len(_FIELDS) + 1):
        try:
            settings = Settings.from_env(env).with_overrides(given)
        except ConfigError as exc:
            findings.extend(Finding("settings", PROBLEM, line) for line in _lines(str(exc)))
            named = _VARIABLE.match(str(exc))
            variable = named.group(0) if named else ""
            field = variable[3:].lower()
            if field not in _FIELDS or field in unusable:
                return None, unusable, findings
            unusable.add(field)
            env.pop(variable, None)
            given.pop(field, None)
            continue
        if not findings:
            flagged = f", {len(given)} from flags" if given else ""
            summary = f"{len(env)} from the environment{flagged}, the rest default"
            findings.append(Finding("settings", OK, summary))
        return settings, unusable, findings
    return None, unusable, findings


def _lines(message: str) -> list[str]:
    """A message as lines of the report: one listing several problems (``head:`` then one
    indented line each, as the policy's and the partners' do) gives a line per problem, each
    with the head; any other (a YAML parser's) is joined into one line."""
    head, *rest = message.split("\n")
    if rest and head.endswith(":") and all(line.startswith("  ") for line in rest):
        return [f"{head} {line.strip()}" for line in rest if line.strip()]
    return [" ".join(line.strip() for line in message.split("\n") if line.strip())]


def _exposure(settings: Settings) -> str:
    settings.check_exposure()
    listening = f"listens on {settings.host}:{settings.port}"
    if settings.auth == "jwt":
        return f"{listening}, bearer tokens required"
    if settings.auth_insecure:
        return f"{listening} without authentication (TT_AUTH_INSECURE=1: a gateway in front)"
    return f"{listening} (loopback) without authentication"


def _store(settings: Settings) -> str:
    """The store location, parsed as ``open_store`` parses it, opening nothing."""
    parsed = store_location(settings.store)
    if parsed.kind == "mongodb":
        if not parsed.hosts:
            return "MongoDB (an SRV record, looked up on start; not contacted)"
        return f"MongoDB at {', '.join(parsed.hosts)} (not contacted)"
    location = parsed.target
    if location == ":memory:":
        return "SQLite in memory (nothing is kept after the server stops)"
    file = Path(location)
    if file.is_file():
        if not os.access(file, os.R_OK | os.W_OK):
            raise ConfigError(f"TT_STORE: the SQLite file {file} cannot be read and written")
        return f"SQLite file {file}"
    if file.exists():
        raise ConfigError(f"TT_STORE: {file} is not a file")
    # serve creates the file, and the directories above it: the nearest one there must let it
    existing = next(d for d in file.absolute().parents if d.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"TT_STORE: {file} cannot be created: {existing} is not writable")
    return f"SQLite file {file} (not there yet: created on start)"


def _policy(settings: Settings) -> str:
    policy = load_policy(settings)
    source = "built-in" if settings.policy is None else settings.policy
    clocks = ", ".join(clock.name for clock in policy.sla.clocks)
    rules = len(policy.escalation)
    return (
        f"{source} ({len(policy.priority.levels)} priorities, {len(policy.sla.clocks)} clocks: "
        f"{clocks}; {rules} escalation rule{'' if rules == 1 else 's'})"
    )


def _partners(settings: Settings, environ: Mapping[str, str]) -> str:
    registry, _secrets = load_partners(settings, environ)
    refused = refused_partner_urls(registry, egress_policy(settings))
    if refused:
        raise ConfigError(
            "TT_PARTNERS: partner URLs refused (TT_EGRESS_ALLOW may name internal networks):\n"
            + "\n".join(f"  {reason}" for reason in refused)
        )
    if not registry.partners:
        return "none"
    return f"{len(registry.partners)} ({', '.join(registry.partners)})"


def _auth(settings: Settings) -> str:
    contract = served_contract(settings)
    if settings.auth != "jwt":
        return "none: every request is trusted"
    where = "fetched when a token comes" if "://" in (settings.jwks or "") else "read"
    return (
        f"jwt, issuer {settings.jwt_issuer}, audience {settings.jwt_audience}, JWKS "
        f"{settings.jwks} ({where}), {len(contract.scopes)} operations each need a scope"
    )
