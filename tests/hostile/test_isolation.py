"""Partner A against partner B (and the operator), over every operation of the served contract.

The operations come from the contract the server serves, not from a list kept here: each one
whose path addresses a ticket, an activity, a hub (its deliveries and replays), an audit trail, a
partner or a specification needs a recipe below — which resources of others it is aimed at, and
with what body — or the test named after it fails with "no recipe for <operationId>". Aimed at
another party's resource, as org-alpha holding every scope, each must be 404 (or 403 where
docs/security.md documents it: the audit trail, the partner directory, specification writes).
The same request on alpha's own resource must succeed, so a 404 is the isolation's doing and not
a bad body's. Afterwards the others' resources are as they were, and alpha's lists show none of
them.

The v4 root's operations (``ServedContract.v4``, the same tickets and hubs) are held to the same:
each one addressing a resource needs a recipe in ``V4_RECIPES``, and alpha's v4 lists show only
its own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.hostile.client import Answer, Deployment, tmf_error_problems
from tests.hostile.conftest import ACTIVITY, TICKET, Tenants, assigned_to
from troubleticket.api.contract import V4_API_ROOT
from troubleticket.app import served_contract
from troubleticket.config import Settings

METHODS = ("get", "post", "patch", "put", "delete")
METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}
OTHERS = ("beta", "operator")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SUCCESS = frozenset({200, 201, 202, 204})
NOT_FOUND = frozenset({404})
OPERATORS_ONLY = frozenset({403, 404})
DELIVERIES_WITHIN_S = 5.0

EXEMPT_PREFIXES = {
    "/listener/": "partners' hubs post events there without a token; each is checked by its "
    "signature (docs/security.md), and none addresses a resource by id",
}
EXEMPT = {
    "retrieveTroubleTicketSpecification": "specifications are the operator's catalogue, "
    "readable by every caller with troubleTicket:read; no party owns one",
    "listTroubleTicketSpecification": "the catalogue again: see retrieveTroubleTicketSpecification",
}
COLLECTIONS = {
    "listTroubleTicket": "test_lists_show_only_the_partners_own",
    "listRecoveryActivity": "test_lists_show_only_the_partners_own",
    "createTroubleTicket": "test_planting.py (a partner cannot name another party)",
    "createHub": "a hub is its registrant's: the hubGet, hubDelete, listHubDelivery and "
    "createHubReplay recipes aim at others' hubs",
    "listPartner": "test_operator_only_collections",
    "createTroubleTicketSpecification": "test_operator_only_collections",
}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str

    def fill(self, values: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"{self.operation_id}: nothing for {{{name}}} in {self.path}")
            return values[name]

        return re.sub(r"\{([^}]+)\}", value, self.path)


def operations_of(spec: dict[str, Any]) -> list[Operation]:
    found = [
        Operation(operation["operationId"], method, path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    # reads first, deletes last, and an activity's delete before its ticket's
    return sorted(
        found,
        key=lambda op: (
            METHOD_ORDER[op.method],
            -op.path.count("/") if op.method == "delete" else 0,
            op.path,
        ),
    )


OPERATIONS = operations_of(served_contract(Settings()).spec)
_V4_SPEC = served_contract(Settings()).v4
assert _V4_SPEC is not None, "the v4 root is served by default"
V4_OPERATIONS = operations_of(_V4_SPEC)


@dataclass(frozen=True)
class Target:
    """The path values of one aim, and what else a body may name (a delivery of the hub)."""

    owner: str
    values: dict[str, str]
    deliveries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attempt:
    body: Callable[[Target], Any] | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Recipe:
    aim: str  # ticket, activity, activity_by_id, hub, partner, specification
    attempts: tuple[Attempt, ...] = (Attempt(),)
    refused: frozenset[int] = NOT_FOUND
    control: bool = True  # the same on alpha's own resource succeeds
    note: str = ""


def fixed(document: Any) -> Callable[[Target], Any]:
    return lambda _target: document


REPLAY_SINCE = {"@type": "EventReplay", "since": "2024-05-02T08:00:00Z"}

RECIPES: dict[str, Recipe] = {
    "retrieveTroubleTicket": Recipe("ticket"),
    "patchTroubleTicket": Recipe(
        "ticket",
        (
            Attempt(fixed({"@type": "TroubleTicket", "description": "alpha was here"}), MERGE),
            Attempt(
                fixed([{"op": "replace", "path": "/description", "value": "alpha was here"}]),
                JSON_PATCH,
            ),
        ),
    ),
    "deleteTroubleTicket": Recipe("ticket"),
    "listTroubleTicketAuditRecord": Recipe(
        "ticket", refused=OPERATORS_ONLY, control=False, note="the audit trail is the operator's"
    ),
    "listTroubleTicketRecoveryActivity": Recipe("ticket"),
    "createTroubleTicketRecoveryActivity": Recipe(
        "ticket", (Attempt(fixed({**ACTIVITY, "name": "Planted by alpha"})),)
    ),
    "retrieveTroubleTicketRecoveryActivity": Recipe("activity"),
    "patchTroubleTicketRecoveryActivity": Recipe(
        "activity",
        (
            Attempt(fixed({"@type": "RecoveryActivity", "description": "alpha was here"}), MERGE),
            Attempt(
                fixed([{"op": "add", "path": "/description", "value": "alpha was here"}]),
                JSON_PATCH,
            ),
        ),
    ),
    "deleteTroubleTicketRecoveryActivity": Recipe("activity"),
    "retrieveRecoveryActivity": Recipe("activity_by_id"),
    "hubGet": Recipe("hub"),
    "hubDelete": Recipe("hub"),
    "listHubDelivery": Recipe("hub"),
    "createHubReplay": Recipe(
        "hub",
        (
            Attempt(fixed(REPLAY_SINCE)),
            Attempt(lambda t: {"@type": "EventReplay", "delivery": list(t.deliveries[:2])}),
        ),
    ),
    "retrievePartner": Recipe(
        "partner", refused=OPERATORS_ONLY, control=False, note="the directory is the operator's"
    ),
    "listPartnerDelivery": Recipe("partner", refused=OPERATORS_ONLY, control=False),
    "createPartnerReplay": Recipe(
        "partner",
        (Attempt(fixed({"@type": "EventReplay", "delivery": ["d-1"]})),),
        refused=OPERATORS_ONLY,
        control=False,
    ),
    "patchTroubleTicketSpecification": Recipe(
        "specification",
        (Attempt(fixed({"@type": "TroubleTicketSpecification", "description": "alpha"}), MERGE),),
        refused=OPERATORS_ONLY,
        control=False,
        note="a partner's request does not change specifications",
    ),
    "deleteTroubleTicketSpecification": Recipe(
        "specification", refused=OPERATORS_ONLY, control=False
    ),
}


# The v4 root: the same tickets and hubs, in the v4 form (no @type required, JSON bodies).
V4_RECIPES: dict[str, Recipe] = {
    "retrieveTroubleTicket": Recipe("ticket"),
    "patchTroubleTicket": Recipe(
        "ticket",
        (
            Attempt(fixed({"description": "alpha was here"})),
            Attempt(fixed({"description": "alpha was here"}), MERGE),
            Attempt(fixed({"status": "cancelled", "statusChangeReason": "alpha"})),
        ),
    ),
    "deleteTroubleTicket": Recipe("ticket"),
    "unregisterListener": Recipe("hub"),
}
V4_COLLECTIONS = {
    "listTroubleTicket": "test_v4_lists_show_only_the_partners_own",
    "createTroubleTicket": "tests/api/test_v4.py (a partner cannot name another party at v4)",
    "registerListener": "a hub is its registrant's: the unregisterListener recipe aims at "
    "others' hubs",
}


def deliveries_of(deployment: Deployment, hub: str, state: str | None = None) -> tuple[str, ...]:
    selected = f"&state={state}" if state else ""
    answer = deployment.send("GET", f"/hub/{hub}/delivery?limit=1000&fields=id{selected}")
    assert answer.status == 200, answer.describe()
    return tuple(sorted(delivery["id"] for delivery in answer.json()))


def aims(recipe: Recipe, tenants: Tenants) -> list[Target]:
    """The others' resources (and mixes of alpha's and others') an operation is aimed at."""
    owned = tenants.owned
    alpha = owned["alpha"]
    targets: list[Target] = []
    for other in OTHERS:
        theirs = owned[other]
        if recipe.aim == "ticket":
            targets.append(Target(other, {"id": theirs.ticket}))
        elif recipe.aim == "activity":
            targets += [
                Target(other, {"id": theirs.ticket, "activityId": theirs.ticket_activity}),
                Target(
                    f"{other} via alpha's ticket",
                    {"id": alpha.ticket, "activityId": theirs.ticket_activity},
                ),
                Target(
                    f"alpha's via {other}'s ticket",
                    {"id": theirs.ticket, "activityId": alpha.ticket_activity},
                ),
            ]
        elif recipe.aim == "activity_by_id":
            targets.append(Target(other, {"id": theirs.ticket_activity}))
        elif recipe.aim == "hub":
            delivered = deliveries_of(tenants.deployment, theirs.hub, "delivered")
            targets.append(Target(other, {"id": theirs.hub}, delivered))
    if recipe.aim == "partner":
        targets += [
            Target("operator", {"id": tenants.partner}),
            Target("nobody", {"id": "no-such-partner"}),
        ]
    elif recipe.aim == "specification":
        targets.append(Target("operator", {"id": tenants.specification}))
    assert targets, f"recipe aim {recipe.aim!r} names no resources"
    return targets


def own_target(recipe: Recipe, tenants: Tenants) -> Target:
    """Fresh resources of alpha's (an operation may delete them) for the control request; its
    hub has the deliveries of the ticket's events."""
    deployment = tenants.deployment
    subscribed = {"@type": "Hub", "callback": tenants.callback}
    hub = deployment.created("/hub", subscribed, identity="alpha")["id"]
    ticket = deployment.created("/troubleTicket", TICKET, identity="alpha")["id"]
    activity = deployment.created(
        f"/troubleTicket/{ticket}/recoveryActivity", assigned_to("org-alpha"), identity="alpha"
    )["id"]
    values = {
        "ticket": {"id": ticket},
        "activity": {"id": ticket, "activityId": activity},
        "activity_by_id": {"id": activity},
        "hub": {"id": hub},
    }[recipe.aim]
    delivered: tuple[str, ...] = ()
    deadline = time.monotonic() + DELIVERIES_WITHIN_S
    while recipe.aim == "hub" and not delivered and time.monotonic() < deadline:
        time.sleep(0.1)
        delivered = deliveries_of(deployment, hub, "delivered")
    return Target("alpha", values, delivered)


def send(
    tenants: Tenants,
    operation: Operation,
    attempt: Attempt,
    target: Target,
    root: str | None = None,
) -> Answer:
    body = attempt.body(target) if attempt.body is not None else None
    if root is None:
        return tenants.deployment.call(
            operation.method.upper(),
            operation.fill(target.values),
            body,
            identity="alpha",
            content_type=attempt.content_type,
        )
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = attempt.content_type
    return tenants.deployment.send(
        operation.method.upper(),
        operation.fill(target.values),
        identity="alpha",
        body=None if body is None else json.dumps(body).encode(),
        headers=headers,
        root=root,
    )


@dataclass
class Snapshot:
    """What the operator sees of beta's and its own resources."""

    versions: dict[str, str | None] = field(default_factory=dict)
    listed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def take(cls, tenants: Tenants) -> Snapshot:
        deployment = tenants.deployment
        snapshot = cls()
        for other in OTHERS:
            theirs = tenants.owned[other]
            paths = [
                f"/troubleTicket/{ticket}" for ticket in (theirs.ticket, *theirs.extra_tickets)
            ] + [
                f"/troubleTicket/{theirs.ticket}/recoveryActivity/{theirs.ticket_activity}",
                f"/hub/{theirs.hub}",
            ]
            for path in paths:
                answer = deployment.send("GET", path)
                snapshot.versions[path] = (
                    f"{answer.status} {answer.headers.get('etag')}"
                    if path.startswith("/troubleTicket")
                    else f"{answer.status} {answer.text}"
                )
            listing = deployment.send(
                "GET", f"/troubleTicket/{theirs.ticket}/recoveryActivity?fields=id"
            )
            snapshot.listed[f"activities of {other}'s ticket"] = (
                listing.status,
                sorted(item["id"] for item in listing.json()) if listing.status == 200 else None,
            )
            audit = deployment.send("GET", f"/troubleTicket/{theirs.ticket}/auditRecord")
            snapshot.listed[f"audit trail of {other}'s ticket"] = (
                audit.status,
                len(audit.json()) if audit.status == 200 else None,
            )
        snapshot.listed["deliveries to beta's hub"] = deliveries_of(
            deployment, tenants.owned["beta"].hub
        )
        spec = deployment.send("GET", f"/troubleTicketSpecification/{tenants.specification}")
        snapshot.versions["specification"] = f"{spec.status} {spec.headers.get('etag')}"
        return snapshot


@pytest.fixture(scope="module")
def before(tenants: Tenants) -> Snapshot:
    return Snapshot.take(tenants)


def test_enumeration_is_the_served_contract(tenants: Tenants) -> None:
    answer = tenants.deployment.send("GET", "/openapi.json", identity="anonymous")
    if answer.status == 401:
        answer = tenants.deployment.send("GET", "/openapi.json")
    assert answer.status == 200, answer.describe()
    served = {(op.operation_id, op.method, op.path) for op in operations_of(answer.json())}
    assert served == {(op.operation_id, op.method, op.path) for op in OPERATIONS}


def test_every_operation_is_accounted_for() -> None:
    """Each operation has a recipe, or is a collection covered by a named test, or exempt."""
    missing = [
        op.operation_id
        for op in OPERATIONS
        if op.operation_id not in RECIPES
        and op.operation_id not in COLLECTIONS
        and op.operation_id not in EXEMPT
        and not any(op.path.startswith(prefix) for prefix in EXEMPT_PREFIXES)
    ]
    assert not missing, "\n".join(f"no recipe for {operation_id}" for operation_id in missing)
    addressed = [op for op in OPERATIONS if "{" in op.path]
    unaddressed = [op.operation_id for op in addressed if op.operation_id in COLLECTIONS]
    assert not unaddressed, f"operations with path parameters listed as collections: {unaddressed}"


def test_tenants_setup_is_what_the_recipes_assume(tenants: Tenants) -> None:
    """Beta's hub has delivered deliveries (the replay recipe names two), and every resource
    exists."""
    delivered = deliveries_of(tenants.deployment, tenants.owned["beta"].hub, "delivered")
    assert delivered, "beta's hub has no deliveries to name in a replay"
    for owner, owned in tenants.owned.items():
        answer = tenants.deployment.send("GET", f"/troubleTicket/{owned.ticket}")
        assert answer.status == 200, f"{owner}: {answer.describe()}"


@pytest.mark.parametrize(
    "operation",
    [op for op in OPERATIONS if "{" in op.path],
    ids=lambda op: op.operation_id,
)
def test_partner_cannot_reach_others(
    operation: Operation, tenants: Tenants, before: Snapshot
) -> None:
    if operation.operation_id in EXEMPT:
        pytest.skip(f"exempt: {EXEMPT[operation.operation_id]}")
    recipe = RECIPES.get(operation.operation_id)
    if recipe is None:
        pytest.fail(f"no recipe for {operation.operation_id}", pytrace=False)
    problems: list[str] = []
    for target in aims(recipe, tenants):
        for attempt in recipe.attempts:
            answer = send(tenants, operation, attempt, target)
            where = f"aimed at {target.owner}'s: {answer.describe()}"
            if answer.status not in recipe.refused:
                problems.append(f"{answer.status}, expected {sorted(recipe.refused)} — {where}")
            problems += [f"{problem} — {where}" for problem in tmf_error_problems(answer)]
    if recipe.control:
        own = own_target(recipe, tenants)
        for attempt in recipe.attempts:
            answer = send(tenants, operation, attempt, own)
            if answer.status not in SUCCESS:
                problems.append(f"control on alpha's own failed: {answer.describe()}")
    if problems:
        documented = f" ({recipe.note})" if recipe.note else ""
        pytest.fail(f"{operation.operation_id}{documented}:\n" + "\n".join(problems), pytrace=False)


def test_v4_enumeration_is_the_served_v4_contract(tenants: Tenants) -> None:
    answer = tenants.deployment.send("GET", "/openapi.json", root=V4_API_ROOT)
    assert answer.status == 200, answer.describe()
    served = {(op.operation_id, op.method, op.path) for op in operations_of(answer.json())}
    assert served == {(op.operation_id, op.method, op.path) for op in V4_OPERATIONS}


def test_every_v4_operation_is_accounted_for() -> None:
    """Each v4 operation has a recipe, or is a collection covered by a named test, or exempt."""
    missing = [
        op.operation_id
        for op in V4_OPERATIONS
        if op.operation_id not in V4_RECIPES
        and op.operation_id not in V4_COLLECTIONS
        and not any(op.path.startswith(prefix) for prefix in EXEMPT_PREFIXES)
    ]
    assert not missing, "\n".join(f"no v4 recipe for {operation_id}" for operation_id in missing)
    addressed = [op.operation_id for op in V4_OPERATIONS if "{" in op.path]
    assert not set(addressed) & set(V4_COLLECTIONS), addressed


@pytest.mark.parametrize(
    "operation",
    [op for op in V4_OPERATIONS if "{" in op.path],
    ids=lambda op: f"v4-{op.operation_id}",
)
def test_partner_cannot_reach_others_through_v4(
    operation: Operation, tenants: Tenants, before: Snapshot
) -> None:
    recipe = V4_RECIPES.get(operation.operation_id)
    if recipe is None:
        pytest.fail(f"no v4 recipe for {operation.operation_id}", pytrace=False)
    problems: list[str] = []
    for target in aims(recipe, tenants):
        for attempt in recipe.attempts:
            answer = send(tenants, operation, attempt, target, V4_API_ROOT)
            where = f"aimed at {target.owner}'s through v4: {answer.describe()}"
            if answer.status not in recipe.refused:
                problems.append(f"{answer.status}, expected {sorted(recipe.refused)} — {where}")
            problems += [f"{problem} — {where}" for problem in tmf_error_problems(answer)]
    if recipe.control:
        own = own_target(recipe, tenants)
        for attempt in recipe.attempts:
            answer = send(tenants, operation, attempt, own, V4_API_ROOT)
            if answer.status not in SUCCESS:
                problems.append(f"control on alpha's own failed through v4: {answer.describe()}")
    if problems:
        pytest.fail(f"v4 {operation.operation_id}:\n" + "\n".join(problems), pytrace=False)


def test_others_resources_unchanged(tenants: Tenants, before: Snapshot) -> None:
    after = Snapshot.take(tenants)
    changed = [
        f"{key}: {before.versions[key]!r} → {after.versions.get(key)!r}"
        for key in before.versions
        if after.versions.get(key) != before.versions[key]
    ] + [
        f"{key}: {before.listed[key]!r} → {after.listed.get(key)!r}"
        for key in before.listed
        if after.listed.get(key) != before.listed[key]
    ]
    assert not changed, "\n".join(changed)


def listings(tenants: Tenants) -> list[str]:
    owned = tenants.owned
    beta, operator, alpha = owned["beta"], owned["operator"], owned["alpha"]
    return [
        "/troubleTicket",
        "/troubleTicket?limit=1000&fields=id,relatedParty",
        f"/troubleTicket?id={beta.ticket}",
        f"/troubleTicket?id={operator.ticket},{beta.ticket},{alpha.ticket}",
        "/troubleTicket?relatedParty.partyOrPartyRole.id=org-beta",
        "/troubleTicket?sort=-creationDate&limit=2",
        "/recoveryActivity",
        f"/recoveryActivity?id={beta.ticket_activity}",
        f"/recoveryActivity?troubleTicket.id={beta.ticket}",
        f"/troubleTicket/{alpha.ticket}/recoveryActivity",
        f"/hub/{alpha.hub}/delivery?limit=1000",
    ]


def test_lists_show_only_the_partners_own(tenants: Tenants) -> None:
    deployment = tenants.deployment
    foreign = tenants.foreign_ids("alpha")
    problems: list[str] = []
    for path in listings(tenants):
        answer = deployment.send("GET", path, identity="alpha")
        if answer.status == 400:
            continue
        if answer.status != 200:
            problems.append(f"unexpected: {answer.describe()}")
            continue
        leaked = sorted(resource_id for resource_id in foreign if resource_id in answer.text)
        if leaked:
            problems.append(f"GET {path} shows others' {leaked}")
        total = answer.headers.get("x-total-count")
        if total is not None and path in ("/troubleTicket", "/recoveryActivity"):
            listed = len(answer.json())
            if int(total) != listed:
                problems.append(f"GET {path}: X-Total-Count {total} but {listed} listed")
    own = deployment.send("GET", "/troubleTicket?limit=1000&fields=id", identity="alpha")
    if tenants.owned["alpha"].ticket not in {item["id"] for item in own.json()}:
        problems.append("alpha's own ticket is missing from its list")
    assert not problems, "\n".join(problems)


def test_v4_lists_show_only_the_partners_own(tenants: Tenants) -> None:
    deployment = tenants.deployment
    foreign = tenants.foreign_ids("alpha")
    owned = tenants.owned
    beta, operator, alpha = owned["beta"], owned["operator"], owned["alpha"]
    problems: list[str] = []
    for path in [
        "/troubleTicket",
        "/troubleTicket?limit=1000&fields=id,relatedParty",
        f"/troubleTicket?id={beta.ticket}",
        f"/troubleTicket?id={operator.ticket},{beta.ticket},{alpha.ticket}",
        "/troubleTicket?relatedParty.id=org-beta",
        "/troubleTicket?statusChange.status=acknowledged",
        "/troubleTicket?sort=-creationDate&limit=2",
    ]:
        answer = deployment.send("GET", path, identity="alpha", root=V4_API_ROOT)
        if answer.status != 200:
            problems.append(f"unexpected: {answer.describe()}")
            continue
        leaked = sorted(resource_id for resource_id in foreign if resource_id in answer.text)
        if leaked:
            problems.append(f"GET v4 {path} shows others' {leaked}")
        total = answer.headers.get("x-total-count")
        if path == "/troubleTicket" and total != str(len(answer.json())):
            problems.append(f"GET v4 {path}: X-Total-Count {total} but {len(answer.json())}")
    own = deployment.send(
        "GET", "/troubleTicket?limit=1000&fields=id", identity="alpha", root=V4_API_ROOT
    )
    if alpha.ticket not in {item["id"] for item in own.json()}:
        problems.append("alpha's own ticket is missing from its v4 list")
    assert not problems, "\n".join(problems)


def test_operator_only_collections(tenants: Tenants) -> None:
    deployment = tenants.deployment
    partners = deployment.send("GET", "/partner", identity="alpha")
    specification = deployment.call(
        "POST",
        "/troubleTicketSpecification",
        {"@type": "TroubleTicketSpecification", "name": "Planted by alpha"},
        identity="alpha",
    )
    problems = [
        f"{answer.describe()}: expected 403"
        for answer in (partners, specification)
        if answer.status != 403
    ]
    problems += [p for answer in (partners, specification) for p in tmf_error_problems(answer)]
    assert not problems, "\n".join(problems)
