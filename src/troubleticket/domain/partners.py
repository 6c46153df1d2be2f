"""The partner registry: the suppliers and operators we raise trouble tickets at (``TT_PARTNERS``).

One YAML file read at start-up into these frozen types; ``parse_partners`` reports every problem
at once, each with the path of its key. Secrets are never in the file: it names the environment
variables that hold them, and the composition root reads those.

::

    self:                             # who we are to our partners
      id: operator-1                  #   the owner of the externalIdentifier we give them
      party: <RelatedParty>           #   how we appear in the tickets we raise at them
    inboundHeader: X-TT-Partner       # names the partner a request comes from (default)
    partners:
      fibreco:                        # the partner's id here
        name: FibreCo Wholesale
        baseUrl: https://fibreco.example/tmf-api/troubleTicket/v5
        api: v5                       # the TMF621 version baseUrl speaks: v5 (default) or v4
        party: {"@type": PartyRef, "@referredType": Organization, id: org-fibreco}
        auth:                         # none, or one of:
          bearerTokenEnv: FIBRECO_TOKEN
          oauth2: {tokenUrl: …, clientId: …, clientSecretEnv: …, scope: …}
        timeouts: {connect: 3s, read: 10s}
        events:
          subscribe: true             # register a hub at the partner for its ticket events
          appendEventListenerPath: false   # v5 only: TMF621 v4 hubs have no such option
          secretEnv: FIBRECO_HUB_SECRET   # whsec_… given to the partner; its events must carry it
        poll:
          interval: 30s               # how often a report is polled when events do not come
          after: 5m                   # a subscribed report is polled after this long silent
        forwardNotes: true            # our notes on the activity go to the partner's ticket
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from troubleticket.domain.durations import parse_duration
from troubleticket.types import JSON

DEFAULT_INBOUND_HEADER = "X-TT-Partner"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# The TMF621 versions a partner's API may speak.
PartnerApi = Literal["v4", "v5"]
PARTNER_APIS: tuple[PartnerApi, ...] = ("v5", "v4")


class PartnersError(ValueError):
    """The partner registry cannot be used; ``problems`` lists each, as ``path: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid partners:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OAuth2:
    """Client credentials (RFC 6749 §4.4): a token from ``token_url`` for each partner call."""

    token_url: str
    client_id: str
    client_secret_env: str
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    base_url: str  # the partner's TMF621 API root (of version ``api``), no trailing slash
    party: JSON  # the PartyRef (or PartyRoleRef) that represents the partner
    bearer_token_env: str | None = None
    oauth2: OAuth2 | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    subscribe: bool = True
    append_listener_path: bool = False
    secret_env: str | None = None
    poll_interval: float = 30.0
    poll_after: float = 300.0
    forward_notes: bool = True
    api: PartnerApi = "v5"  # the TMF621 version the partner's API speaks

    @property
    def party_id(self) -> str:
        return str(self.party["id"])

    def env_names(self) -> list[str]:
        """The environment variables this partner's secrets are read from."""
        names = [self.bearer_token_env, self.secret_env]
        if self.oauth2 is not None:
            names.append(self.oauth2.client_secret_env)
        return [name for name in names if name is not None]


@dataclass(frozen=True, slots=True)
class PartnerRegistry:
    self_id: str = "troubleticket"
    self_party: JSON | None = None
    inbound_header: str = DEFAULT_INBOUND_HEADER
    partners: Mapping[str, Partner] = field(default_factory=dict)

    def by_party(self, party_id: Any) -> Partner | None:
        """The partner a party id stands for, if any."""
        return next((p for p in self.partners.values() if p.party_id == party_id), None)

    def get(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def v4_subscribers(self) -> list[str]:
        """The partners that speak TMF621 v4 and send events: their events come to our v4
        listeners (``/tmf-api/troubleTicket/v4/listener/…``)."""
        return [p.id for p in self.partners.values() if p.api == "v4" and p.subscribe]


NO_PARTNERS = PartnerRegistry()


class _Problems:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, known: frozenset[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(path, "expected a mapping")
            return {}
        for key in value:
            if key not in known:
                self.add(
                    f"{path}.{key}", f"unknown key (expected one of {', '.join(sorted(known))})"
                )
        return value

    def env(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            self.add(path, f"{value!r} is not the name of an environment variable")
            return None
        return value

    def duration(self, value: Any, path: str, default: float) -> float:
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None:
            self.add(path, f"{value!r} is not a positive duration (e.g. 500ms, 10s, 5m)")
            return default
        return seconds

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(path, "expected true or false")
            return default
        return value

    def url(self, value: Any, path: str) -> str:
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            self.add(path, f"{value!r} is not an absolute http or https URL")
            return ""
        return str(value).rstrip("/")


def _party(problems: _Problems, value: Any, path: str) -> JSON:
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
        problems.add(path, "expected a party reference {id, @type, @referredType, name}")
        return {"@type": "PartyRef", "id": ""}
    return {"@type": "PartyRef", **dict(value)}


def parse_partners(data: Any) -> PartnerRegistry:
    """The registry a parsed YAML document describes.

    Raises:
        PartnersError: every problem found, each with the path of its key.
    """
    problems = _Problems()
    top = problems.mapping(data, "partners file", frozenset({"self", "inboundHeader", "partners"}))
    own = problems.mapping(top.get("self"), "self", frozenset({"id", "party"}))
    self_id = own.get("id", "troubleticket")
    if not isinstance(self_id, str) or not _ID.fullmatch(self_id):
        problems.add("self.id", f"{self_id!r} is not an identifier (letters, digits, . _ -)")
        self_id = "troubleticket"
    self_party = None
    if "party" in own:
        party = own["party"]
        if not (
            isinstance(party, Mapping)
            and isinstance(party.get("role"), str)
            and isinstance(party.get("partyOrPartyRole"), Mapping)
            and isinstance(party["partyOrPartyRole"].get("id"), str)
        ):
            problems.add("self.party", "expected {role, partyOrPartyRole: {id, @type, ...}}")
        else:
            self_party = {"@type": "RelatedPartyRefOrPartyRoleRef", **dict(party)}
    header = top.get("inboundHeader", DEFAULT_INBOUND_HEADER)
    if not isinstance(header, str) or not re.fullmatch(r"[A-Za-z0-9-]+", header):
        problems.add("inboundHeader", f"{header!r} is not an HTTP header name")
        header = DEFAULT_INBOUND_HEADER
    listed = top.get("partners")
    if listed is None:
        listed = {}
    if not isinstance(listed, Mapping):
        problems.add("partners", "expected a mapping of partner id to partner")
        listed = {}
    partners: dict[str, Partner] = {}
    for partner_id, raw in listed.items():
        path = f"partners.{partner_id}"
        if not isinstance(partner_id, str) or not _ID.fullmatch(partner_id):
            problems.add(path, "a partner id is letters, digits, '.', '_' and '-'")
            continue
        partner = _partner(problems, str(partner_id), raw, path)
        if partner is not None:
            partners[partner.id] = partner
    seen: dict[str, str] = {}
    for partner in partners.values():
        if partner.party_id in seen:
            problems.add(
                f"partners.{partner.id}.party.id",
                f"{partner.party_id!r} already stands for partner {seen[partner.party_id]!r}",
            )
        seen[partner.party_id] = partner.id
    if problems.problems:
        raise PartnersError(problems.problems)
    return PartnerRegistry(
        self_id=self_id, self_party=self_party, inbound_header=header, partners=partners
    )


def _partner(problems: _Problems, partner_id: str, raw: Any, path: str) -> Partner | None:
    known = frozenset(
        {"name", "baseUrl", "api", "party", "auth", "timeouts", "events", "poll", "forwardNotes"}
    )
    spec = problems.mapping(raw, path, known)
    if not spec:
        problems.add(path, "expected a partner: name, baseUrl, party ...")
        return None
    name = spec.get("name", partner_id)
    if not isinstance(name, str):
        problems.add(f"{path}.name", "expected a name")
        name = partner_id
    base_url = problems.url(spec.get("baseUrl"), f"{path}.baseUrl")
    party = _party(problems, spec.get("party"), f"{path}.party")
    auth = problems.mapping(
        spec.get("auth"), f"{path}.auth", frozenset({"bearerTokenEnv", "oauth2"})
    )
    bearer = problems.env(auth.get("bearerTokenEnv"), f"{path}.auth.bearerTokenEnv")
    oauth2 = None
    if "oauth2" in auth:
        o_path = f"{path}.auth.oauth2"
        o_spec = problems.mapping(
            auth["oauth2"], o_path, frozenset({"tokenUrl", "clientId", "clientSecretEnv", "scope"})
        )
        client_id = o_spec.get("clientId")
        if not isinstance(client_id, str) or not client_id:
            problems.add(f"{o_path}.clientId", "expected the client id")
        secret_env = problems.env(o_spec.get("clientSecretEnv"), f"{o_path}.clientSecretEnv")
        if o_spec.get("clientSecretEnv") is None:
            problems.add(f"{o_path}.clientSecretEnv", "expected the variable holding the secret")
        scope = o_spec.get("scope")
        if scope is not None and not isinstance(scope, str):
            problems.add(f"{o_path}.scope", "expected a space-separated list of scopes")
        oauth2 = OAuth2(
            token_url=problems.url(o_spec.get("tokenUrl"), f"{o_path}.tokenUrl"),
            client_id=str(client_id),
            client_secret_env=secret_env or "",
            scope=scope if isinstance(scope, str) else None,
        )
    if bearer is not None and oauth2 is not None:
        problems.add(f"{path}.auth", "give bearerTokenEnv or oauth2, not both")
    timeouts = problems.mapping(
        spec.get("timeouts"), f"{path}.timeouts", frozenset({"connect", "read"})
    )
    events = problems.mapping(
        spec.get("events"),
        f"{path}.events",
        frozenset({"subscribe", "appendEventListenerPath", "secretEnv"}),
    )
    poll = problems.mapping(spec.get("poll"), f"{path}.poll", frozenset({"interval", "after"}))
    api = _api(problems, spec.get("api", "v5"), f"{path}.api")
    append = problems.boolean(
        events.get("appendEventListenerPath"), f"{path}.events.appendEventListenerPath", False
    )
    if api == "v4" and append:
        problems.add(
            f"{path}.events.appendEventListenerPath",
            "TMF621 v4 hubs have no appendEventListenerPath (api: v4): leave it out, a v4 "
            "partner is given one hub per event type",
        )
    return Partner(
        id=partner_id,
        name=name,
        base_url=base_url,
        party=party,
        bearer_token_env=bearer,
        oauth2=oauth2,
        connect_timeout=problems.duration(timeouts.get("connect"), f"{path}.timeouts.connect", 3.0),
        read_timeout=problems.duration(timeouts.get("read"), f"{path}.timeouts.read", 10.0),
        subscribe=problems.boolean(events.get("subscribe"), f"{path}.events.subscribe", True),
        append_listener_path=append,
        secret_env=problems.env(events.get("secretEnv"), f"{path}.events.secretEnv"),
        poll_interval=problems.duration(poll.get("interval"), f"{path}.poll.interval", 30.0),
        poll_after=problems.duration(poll.get("after"), f"{path}.poll.after", 300.0),
        forward_notes=problems.boolean(spec.get("forwardNotes"), f"{path}.forwardNotes", True),
        api=api,
    )


def _api(problems: _Problems, value: Any, path: str) -> PartnerApi:
    for api in PARTNER_APIS:
        if value == api:
            return api
    problems.add(path, f"{value!r} is not a TMF621 version partners may speak (v5 or v4)")
    return "v5"
