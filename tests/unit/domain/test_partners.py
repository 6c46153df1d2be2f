"""The partner registry (TT_PARTNERS): what a parsed YAML document makes, and every problem in it.

Documents are written here as the mappings ``yaml.safe_load`` gives. A problem is ``path:
message``; the tests compare the paths, in the order they are reported, and look for the words
of a message only where they say what is wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

from troubleticket.domain.partners import (
    DEFAULT_INBOUND_HEADER,
    NO_PARTNERS,
    OAuth2,
    Partner,
    PartnerRegistry,
    PartnersError,
    parse_partners,
)
from troubleticket.types import JSON

FIBRECO_PARTY = {"@type": "PartyRef", "@referredType": "Organization", "id": "org-fibreco"}
BASE = "https://fibreco.example/tmf-api/troubleTicket/v5"
OPERATOR = {"role": "originator", "partyOrPartyRole": {"@type": "PartyRef", "id": "org-op"}}
OAUTH2 = {
    "tokenUrl": "https://auth.fibreco.example/token",
    "clientId": "operator-1",
    "clientSecretEnv": "FIBRECO_CLIENT_SECRET",
    "scope": "troubleTicket.write",
}
FULL: JSON = {
    "self": {"id": "operator-1", "party": OPERATOR},
    "inboundHeader": "X-Partner-Id",
    "partners": {
        "fibreco": {
            "name": "FibreCo Wholesale",
            "baseUrl": BASE + "/",
            "party": FIBRECO_PARTY,
            "auth": {"oauth2": OAUTH2},
            "timeouts": {"connect": "500ms", "read": "1m30s"},
            "events": {
                "subscribe": False,
                "appendEventListenerPath": True,
                "secretEnv": "FIBRECO_HUB_SECRET",
            },
            "poll": {"interval": "PT2M", "after": 900},
            "forwardNotes": False,
        }
    },
}


def spec(**fields: Any) -> JSON:
    """A minimal valid partner, with ``fields`` on top (``None`` removes one)."""
    found = {"baseUrl": BASE, "party": {"id": "org-fibreco"}, **fields}
    return {name: value for name, value in found.items() if value is not None}


def one(**fields: Any) -> JSON:
    """A document of the single partner ``fibreco``."""
    return {"partners": {"fibreco": spec(**fields)}}


def problems(data: Any) -> list[str]:
    with pytest.raises(PartnersError) as refused:
        parse_partners(data)
    return refused.value.problems


def paths(data: Any) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in problems(data)]


class TestWhatItMakes:
    def test_a_full_document_gives_every_setting(self) -> None:
        registry = parse_partners(FULL)
        assert registry.self_id == "operator-1"
        assert registry.self_party == {"@type": "RelatedPartyRefOrPartyRoleRef", **OPERATOR}
        assert registry.inbound_header == "X-Partner-Id"
        assert registry.partners == {
            "fibreco": Partner(
                id="fibreco",
                name="FibreCo Wholesale",
                base_url=BASE,  # the trailing slash is gone
                party=FIBRECO_PARTY,
                bearer_token_env=None,
                oauth2=OAuth2(
                    token_url="https://auth.fibreco.example/token",
                    client_id="operator-1",
                    client_secret_env="FIBRECO_CLIENT_SECRET",
                    scope="troubleTicket.write",
                ),
                connect_timeout=0.5,
                read_timeout=90.0,
                subscribe=False,
                append_listener_path=True,
                secret_env="FIBRECO_HUB_SECRET",
                poll_interval=120.0,
                poll_after=900.0,
                forward_notes=False,
            )
        }

    def test_a_partner_given_only_its_url_and_party_takes_the_defaults(self) -> None:
        registry = parse_partners(one())
        partner = registry.partners["fibreco"]
        assert partner == Partner(
            id="fibreco",
            name="fibreco",  # its id when it has no name
            base_url=BASE,
            party={"@type": "PartyRef", "id": "org-fibreco"},
        )
        assert (partner.connect_timeout, partner.read_timeout) == (3.0, 10.0)
        assert (partner.subscribe, partner.append_listener_path) == (True, False)
        assert (partner.poll_interval, partner.poll_after) == (30.0, 300.0)
        assert partner.forward_notes is True
        assert partner.bearer_token_env is None and partner.oauth2 is None
        assert partner.secret_env is None
        assert registry.self_id == "troubleticket"
        assert registry.self_party is None
        assert registry.inbound_header == DEFAULT_INBOUND_HEADER == "X-TT-Partner"

    @pytest.mark.parametrize("data", [None, {}, {"partners": None}, {"partners": {}}])
    def test_an_empty_document_is_the_registry_without_partners(self, data: Any) -> None:
        assert parse_partners(data) == NO_PARTNERS == PartnerRegistry()
        assert NO_PARTNERS.partners == {}

    def test_a_party_keeps_the_type_it_gives_and_is_a_party_ref_otherwise(self) -> None:
        role = {"@type": "PartyRoleRef", "id": "pr-7", "name": "NOC"}
        registry = parse_partners(
            {"partners": {"a": spec(party={"id": "org-a"}), "b": spec(party=role)}}
        )
        assert registry.partners["a"].party == {"@type": "PartyRef", "id": "org-a"}
        assert registry.partners["b"].party == role
        assert registry.partners["b"].party_id == "pr-7"

    @pytest.mark.parametrize(
        ("given", "seconds"),
        [("250ms", 0.25), ("45s", 45.0), ("1m30s", 90.0), ("PT1H", 3600.0), (7, 7.0), (0.5, 0.5)],
    )
    def test_durations_are_read_in_every_form_the_policy_reads(
        self, given: Any, seconds: float
    ) -> None:
        partner = parse_partners(
            one(
                timeouts={"connect": given, "read": given}, poll={"interval": given, "after": given}
            )
        ).partners["fibreco"]
        assert partner.connect_timeout == partner.read_timeout == seconds
        assert partner.poll_interval == partner.poll_after == seconds

    def test_a_bearer_token_is_named_by_its_environment_variable(self) -> None:
        partner = parse_partners(one(auth={"bearerTokenEnv": "FIBRECO_TOKEN"})).partners["fibreco"]
        assert partner.bearer_token_env == "FIBRECO_TOKEN"
        assert partner.oauth2 is None

    def test_oauth2_without_a_scope_has_none(self) -> None:
        oauth2 = {k: v for k, v in OAUTH2.items() if k != "scope"}
        partner = parse_partners(one(auth={"oauth2": oauth2})).partners["fibreco"]
        assert partner.oauth2 is not None and partner.oauth2.scope is None


class TestLookup:
    REGISTRY = parse_partners(
        {
            "partners": {
                "fibreco": spec(party={"id": "org-fibreco"}),
                "copperco": spec(party={"@type": "PartyRoleRef", "id": "pr-copper"}),
            }
        }
    )

    def test_partners_are_found_by_their_party_id(self) -> None:
        assert self.REGISTRY.by_party("org-fibreco") is self.REGISTRY.partners["fibreco"]
        assert self.REGISTRY.by_party("pr-copper") is self.REGISTRY.partners["copperco"]

    @pytest.mark.parametrize("party_id", ["org-other", None, "", "fibreco"])
    def test_a_party_that_is_no_partner_finds_none(self, party_id: Any) -> None:
        assert self.REGISTRY.by_party(party_id) is None

    def test_partners_are_found_by_their_own_id(self) -> None:
        assert self.REGISTRY.get("copperco") is self.REGISTRY.partners["copperco"]
        assert self.REGISTRY.get("org-copper") is None
        assert self.REGISTRY.get("pr-copper") is None

    def test_the_partners_keep_the_order_of_the_file(self) -> None:
        assert list(self.REGISTRY.partners) == ["fibreco", "copperco"]


class TestEnvironmentNames:
    @pytest.mark.parametrize(
        ("fields", "names"),
        [
            ({}, []),
            ({"auth": {"bearerTokenEnv": "TOKEN"}}, ["TOKEN"]),
            ({"events": {"secretEnv": "HUB"}}, ["HUB"]),
            (
                {"auth": {"bearerTokenEnv": "TOKEN"}, "events": {"secretEnv": "HUB"}},
                ["TOKEN", "HUB"],
            ),
            ({"auth": {"oauth2": OAUTH2}}, ["FIBRECO_CLIENT_SECRET"]),
            (
                {"auth": {"oauth2": OAUTH2}, "events": {"secretEnv": "HUB"}},
                ["HUB", "FIBRECO_CLIENT_SECRET"],
            ),
        ],
    )
    def test_a_partner_names_every_variable_its_secrets_are_read_from(
        self, fields: JSON, names: list[str]
    ) -> None:
        assert parse_partners(one(**fields)).partners["fibreco"].env_names() == names


class TestProblems:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (one(baseUrl="ftp://fibreco.example/tt"), ["partners.fibreco.baseUrl"]),
            (one(baseUrl="fibreco.example/tt"), ["partners.fibreco.baseUrl"]),
            (one(baseUrl="https:///no-host"), ["partners.fibreco.baseUrl"]),
            (one(baseUrl=None), ["partners.fibreco.baseUrl"]),
            (one(party=None), ["partners.fibreco.party"]),
            (one(party={"id": 7}), ["partners.fibreco.party"]),
            (one(party="org-fibreco"), ["partners.fibreco.party"]),
            (one(name=["FibreCo"]), ["partners.fibreco.name"]),
            (one(auth={"bearerTokenEnv": "FIBRE-CO"}), ["partners.fibreco.auth.bearerTokenEnv"]),
            (one(auth={"bearerTokenEnv": ""}), ["partners.fibreco.auth.bearerTokenEnv"]),
            (one(auth="FIBRECO_TOKEN"), ["partners.fibreco.auth"]),
            (
                one(auth={"oauth2": {**OAUTH2, "clientSecretEnv": "1SECRET"}}),
                ["partners.fibreco.auth.oauth2.clientSecretEnv"],
            ),
            (
                one(auth={"oauth2": {k: v for k, v in OAUTH2.items() if k != "clientSecretEnv"}}),
                ["partners.fibreco.auth.oauth2.clientSecretEnv"],
            ),
            (
                one(auth={"oauth2": {**OAUTH2, "clientId": ""}}),
                ["partners.fibreco.auth.oauth2.clientId"],
            ),
            (
                one(auth={"oauth2": {**OAUTH2, "tokenUrl": "/token"}}),
                ["partners.fibreco.auth.oauth2.tokenUrl"],
            ),
            (
                one(auth={"oauth2": {**OAUTH2, "scope": ["a", "b"]}}),
                ["partners.fibreco.auth.oauth2.scope"],
            ),
            (
                one(auth={"oauth2": {}}),
                [
                    "partners.fibreco.auth.oauth2.clientId",
                    "partners.fibreco.auth.oauth2.clientSecretEnv",
                    "partners.fibreco.auth.oauth2.tokenUrl",
                ],
            ),
            (one(events={"secretEnv": "whsec_abc def"}), ["partners.fibreco.events.secretEnv"]),
            (one(events={"subscribe": "yes"}), ["partners.fibreco.events.subscribe"]),
            (
                one(events={"appendEventListenerPath": 1}),
                ["partners.fibreco.events.appendEventListenerPath"],
            ),
            (one(timeouts={"read": "0s"}), ["partners.fibreco.timeouts.read"]),
            (one(timeouts={"read": "ten seconds"}), ["partners.fibreco.timeouts.read"]),
            (one(timeouts={"connect": -1}), ["partners.fibreco.timeouts.connect"]),
            (one(timeouts={"connect": True}), ["partners.fibreco.timeouts.connect"]),
            (one(poll={"interval": "0"}), ["partners.fibreco.poll.interval"]),
            (one(poll={"after": "soon"}), ["partners.fibreco.poll.after"]),
            (one(forwardNotes="no"), ["partners.fibreco.forwardNotes"]),
            ({"inboundHeader": "X TT Partner"}, ["inboundHeader"]),
            ({"inboundHeader": "X-TT-Partner:"}, ["inboundHeader"]),
            ({"inboundHeader": 7}, ["inboundHeader"]),
            ({"self": {"id": "operator 1"}}, ["self.id"]),
            ({"self": {"id": "o" * 65}}, ["self.id"]),
            ({"self": {"id": "-operator"}}, ["self.id"]),
            ({"self": {"party": {"id": "org-op"}}}, ["self.party"]),
            ({"self": {"party": {"role": "originator"}}}, ["self.party"]),
            ({"self": {"party": {"role": "x", "partyOrPartyRole": {"id": 1}}}}, ["self.party"]),
            ({"self": "operator-1"}, ["self"]),
            ({"partners": ["fibreco"]}, ["partners"]),
            ({"partners": {"fibre co": spec()}}, ["partners.fibre co"]),
            ({"partners": {7: spec()}}, ["partners.7"]),
            ({"partners": {"fibreco": None}}, ["partners.fibreco"]),
            ({"partners": {"fibreco": "https://fibreco"}}, ["partners.fibreco"] * 2),
            ([], ["partners file"]),
        ],
    )
    def test_each_problem_names_the_path_of_its_key(self, data: Any, expected: list[str]) -> None:
        assert paths(data) == expected

    def test_a_problem_says_what_is_wrong_after_its_path(self) -> None:
        assert problems(one(timeouts={"read": "0s"})) == [
            "partners.fibreco.timeouts.read: '0s' is not a positive duration (e.g. 500ms, 10s, 5m)"
        ]
        assert problems(one(baseUrl="ftp://x")) == [
            "partners.fibreco.baseUrl: 'ftp://x' is not an absolute http or https URL"
        ]

    @pytest.mark.parametrize(
        ("data", "path"),
        [
            ({"partner": {}}, "partners file.partner"),
            ({"self": {"id": "op", "name": "Operator"}}, "self.name"),
            (one(url=BASE), "partners.fibreco.url"),
            (one(auth={"basic": "x"}), "partners.fibreco.auth.basic"),
            (
                one(auth={"oauth2": {**OAUTH2, "audience": "x"}}),
                "partners.fibreco.auth.oauth2.audience",
            ),
            (one(timeouts={"write": "1s"}), "partners.fibreco.timeouts.write"),
            (one(events={"secret": "whsec_x"}), "partners.fibreco.events.secret"),
            (one(poll={"every": "1m"}), "partners.fibreco.poll.every"),
        ],
    )
    def test_an_unknown_key_at_any_level_is_named_with_the_keys_it_may_be(
        self, data: JSON, path: str
    ) -> None:
        [problem] = problems(data)
        assert problem.startswith(f"{path}: unknown key (expected one of ")

    def test_an_unknown_key_lists_the_known_ones_in_order(self) -> None:
        assert problems(one(poll={"every": "1m"})) == [
            "partners.fibreco.poll.every: unknown key (expected one of after, interval)"
        ]

    def test_a_bearer_token_and_oauth2_together_are_refused(self) -> None:
        [problem] = problems(one(auth={"bearerTokenEnv": "TOKEN", "oauth2": OAUTH2}))
        assert problem == "partners.fibreco.auth: give bearerTokenEnv or oauth2, not both"

    def test_two_partners_with_one_party_are_refused_at_the_second(self) -> None:
        data = {
            "partners": {
                "fibreco": spec(party={"id": "org-net"}),
                "copperco": spec(party={"id": "org-copper"}),
                "netco": spec(party={"@type": "OrganizationRef", "id": "org-net"}),
            }
        }
        assert problems(data) == [
            "partners.netco.party.id: 'org-net' already stands for partner 'fibreco'"
        ]

    def test_every_problem_is_reported_at_once(self) -> None:
        data = {
            "self": {"id": "operator 1", "party": {"role": "originator"}},
            "inboundHeader": "X TT",
            "partners": {
                "fibreco": spec(
                    baseUrl="fibreco",
                    auth={"oauth2": {**OAUTH2, "clientSecretEnv": "no-dash"}},
                    timeouts={"read": "never"},
                    events={"secretEnv": "1HUB"},
                    colour="blue",
                ),
                "copperco": spec(party={"id": "org-fibreco"}, forwardNotes="sometimes"),
            },
            "extra": True,
        }
        with pytest.raises(PartnersError) as refused:
            parse_partners(data)
        assert [problem.split(": ", 1)[0] for problem in refused.value.problems] == [
            "partners file.extra",
            "self.id",
            "self.party",
            "inboundHeader",
            "partners.fibreco.colour",
            "partners.fibreco.baseUrl",
            "partners.fibreco.auth.oauth2.clientSecretEnv",
            "partners.fibreco.timeouts.read",
            "partners.fibreco.events.secretEnv",
            "partners.copperco.forwardNotes",
            "partners.copperco.party.id",
        ]
        message = str(refused.value)
        assert message.startswith("invalid partners:\n  ")
        assert all(f"\n  {problem}" in message for problem in refused.value.problems)

    def test_a_partners_error_is_a_value_error(self) -> None:
        assert issubclass(PartnersError, ValueError)

    def test_an_oauth2_client_secret_variable_given_as_null_is_a_problem(self) -> None:
        assert paths(one(auth={"oauth2": {**OAUTH2, "clientSecretEnv": None}})) == [
            "partners.fibreco.auth.oauth2.clientSecretEnv"
        ]

    @pytest.mark.parametrize("listed", [[], False, ""])
    def test_partners_that_are_not_a_mapping_are_a_problem_even_when_empty(
        self, listed: Any
    ) -> None:
        assert paths({"partners": listed}) == ["partners"]
