"""Bearer tokens verified offline: keys made in the test, a JWKS from a file or a local HTTP server.

A token is trusted only when it is signed by a key of the JWKS with an allowed (asymmetric)
algorithm, names the configured issuer and audience, and is current (within the leeway); what it
grants is read from its claims. No failure message ever repeats the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import jwt.jwks_client
import pytest
from cryptography.hazmat.primitives import serialization

from tests.tokens import AUDIENCE, ISSUER, Issuer, ec_key, rsa_key
from troubleticket.api.tokens import InvalidToken, TokenSettings, TokenVerifier


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer.create(tmp_path)


def verifier_of(issuer: Issuer, **settings: Any) -> TokenVerifier:
    """A verifier of ``issuer``'s tokens, reading its JWKS file."""
    return TokenVerifier(
        TokenSettings(jwks=str(issuer.jwks_path), issuer=ISSUER, audience=AUDIENCE, **settings)
    )


def refusal(verifier: TokenVerifier, token: str) -> str:
    """The message ``verifier`` refuses ``token`` with (it must refuse it)."""
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    assert str(refused.value) == refused.value.message
    return refused.value.message


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A compact JWS built by hand; ``sign`` makes the signature from the signing input."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64url(signature)}"


class TestGenuineTokens:
    def test_an_rs256_token_gives_its_claims(self, issuer: Issuer) -> None:
        token = issuer.token("svc-desk", kid="rsa-1", ticketQueue="noc")

        claims = verifier_of(issuer).verify(token)

        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        assert claims["sub"] == "svc-desk"
        assert claims["iss"] == ISSUER
        assert claims["aud"] == AUDIENCE
        assert claims["ticketQueue"] == "noc"

    def test_an_es256_token_gives_its_claims(self, issuer: Issuer) -> None:
        token = issuer.token("svc-partner", kid="ec-1")

        claims = verifier_of(issuer).verify(token)

        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        assert claims["sub"] == "svc-partner"

    def test_an_audience_list_naming_this_api_among_others_is_accepted(
        self, issuer: Issuer
    ) -> None:
        token = issuer.token(aud=["account", AUDIENCE])

        assert verifier_of(issuer).verify(token)["aud"] == ["account", AUDIENCE]

    def test_token_info_gives_subject_scopes_roles_party_and_client(self, issuer: Issuer) -> None:
        token = issuer.token(
            "svc-alpha",
            scope="troubleTicket:read troubleTicket:write",
            roles=["incidentManager", "serviceDeskLead"],
            party_id="org-alpha",
            azp="alpha-portal",
        )

        assert verifier_of(issuer).token_info(token) == {
            "active": True,
            "sub": "svc-alpha",
            "scope": ["troubleTicket:read", "troubleTicket:write"],
            "roles": ["incidentManager", "serviceDeskLead"],
            "party": "org-alpha",
            "client_id": "alpha-portal",
        }

    def test_a_scp_list_gives_the_scopes_when_there_is_no_scope_claim(self, issuer: Issuer) -> None:
        token = issuer.token(scp=["troubleTicket:read", "hub:manage"])

        info = verifier_of(issuer).token_info(token)

        assert info["scope"] == ["troubleTicket:read", "hub:manage"]

    def test_a_scope_string_with_extra_spaces_splits_into_its_words(self, issuer: Issuer) -> None:
        token = issuer.token(scope="  a   b ")

        assert verifier_of(issuer).token_info(token)["scope"] == ["a", "b"]

    def test_roles_are_read_at_the_configured_dotted_path(self, issuer: Issuer) -> None:
        token = issuer.token(
            realm_access={"roles": ["incidentManager", "offline_access"]},
            roles=["notThese"],
        )

        info = verifier_of(issuer, roles_claim="realm_access.roles").token_info(token)

        assert info["roles"] == ["incidentManager", "offline_access"]

    def test_a_roles_path_the_token_does_not_have_gives_no_roles(self, issuer: Issuer) -> None:
        token = issuer.token(realm_access="not a mapping", roles=["incidentManager"])

        info = verifier_of(issuer, roles_claim="realm_access.roles").token_info(token)

        assert info["roles"] == []

    def test_the_party_is_read_from_the_configured_claim(self, issuer: Issuer) -> None:
        token = issuer.token(party_id="org-ignored", tenant={"party": "org-beta"})

        info = verifier_of(issuer, party_claim="tenant.party").token_info(token)

        assert info["party"] == "org-beta"

    def test_client_id_falls_back_to_the_client_id_claim_without_azp(self, issuer: Issuer) -> None:
        token = issuer.token(client_id="beta-system")

        assert verifier_of(issuer).token_info(token)["client_id"] == "beta-system"

    def test_a_token_granting_nothing_has_empty_scopes_and_roles(self, issuer: Issuer) -> None:
        info = verifier_of(issuer).token_info(issuer.token("svc-nobody"))

        assert info == {
            "active": True,
            "sub": "svc-nobody",
            "scope": [],
            "roles": [],
            "party": None,
            "client_id": None,
        }

    def test_a_token_without_kid_is_accepted_when_the_jwks_has_a_single_key(
        self, tmp_path: Path
    ) -> None:
        single = Issuer(tmp_path / "single.json")
        single.add_key("only", rsa_key())
        token = jwt.encode(single.claims(), single.keys["only"], algorithm="RS256")

        assert verifier_of(single).verify(token)["sub"] == "svc-desk"

    def test_a_token_without_kid_is_refused_when_the_jwks_has_several_keys(
        self, issuer: Issuer
    ) -> None:
        token = jwt.encode(issuer.claims(), issuer.keys["rsa-1"], algorithm="RS256")

        assert "no key None" in refusal(verifier_of(issuer), token)


class TestLifetime:
    def test_a_token_expired_beyond_the_leeway_is_refused_as_expired(self, issuer: Issuer) -> None:
        token = issuer.token(exp=int(time.time()) - 60)

        assert "expired" in refusal(verifier_of(issuer, leeway=30), token)

    def test_a_token_expired_within_the_leeway_is_accepted(self, issuer: Issuer) -> None:
        token = issuer.token(exp=int(time.time()) - 10)

        assert verifier_of(issuer, leeway=30).verify(token)["sub"] == "svc-desk"

    def test_without_leeway_a_token_expired_seconds_ago_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(exp=int(time.time()) - 5)

        assert "expired" in refusal(verifier_of(issuer, leeway=0), token)

    def test_a_token_not_valid_before_a_future_instant_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(nbf=int(time.time()) + 300)

        assert "not yet valid" in refusal(verifier_of(issuer), token)

    def test_a_token_valid_from_an_instant_within_the_leeway_is_accepted(
        self, issuer: Issuer
    ) -> None:
        token = issuer.token(nbf=int(time.time()) + 10)

        assert verifier_of(issuer, leeway=30).verify(token)["sub"] == "svc-desk"

    def test_a_token_issued_in_the_future_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(iat=int(time.time()) + 3600)

        assert "not yet valid" in refusal(verifier_of(issuer), token)


class TestClaims:
    def test_a_token_of_another_issuer_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(iss="https://sso.example.com/realms/other")

        assert "issuer" in refusal(verifier_of(issuer), token)

    def test_a_token_for_another_audience_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(aud="billing")

        assert "audience" in refusal(verifier_of(issuer), token)

    @pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
    def test_a_token_without_a_required_claim_is_refused_naming_it(
        self, issuer: Issuer, claim: str
    ) -> None:
        left_out: dict[str, Any] = {claim: None}
        token = issuer.token(**left_out)

        assert jwt.decode(token, options={"verify_signature": False}).get(claim) is None
        assert f'"{claim}"' in refusal(verifier_of(issuer), token)


class TestForgedTokens:
    def test_an_unsigned_token_alg_none_is_refused(self, issuer: Issuer) -> None:
        token = jwt.encode(issuer.claims(), None, algorithm="none")  # type: ignore[arg-type]

        assert "'none' is not accepted" in refusal(verifier_of(issuer), token)

    def test_an_unsigned_token_naming_a_known_kid_is_refused(self, issuer: Issuer) -> None:
        token = hand_made({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, issuer.claims())

        assert "'none' is not accepted" in refusal(verifier_of(issuer), token)

    def test_hmac_with_the_public_key_as_secret_is_refused(self, issuer: Issuer) -> None:
        # The algorithm confusion attack: HS256 "signed" with the RSA public key a verifier
        # would hand to the algorithm the token names.
        public_pem = (
            issuer.keys["rsa-1"]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        token = hand_made(
            {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
            issuer.claims(scope="troubleTicket:admin"),
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
        )

        assert "'HS256' is not accepted" in refusal(verifier_of(issuer), token)

    def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
        self, issuer: Issuer
    ) -> None:
        token = issuer.token(kid="rsa-1", key=rsa_key())

        assert "Signature verification failed" in refusal(verifier_of(issuer), token)

    def test_an_es256_token_signed_by_another_ec_key_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(kid="ec-1", key=ec_key())

        assert "Signature verification failed" in refusal(verifier_of(issuer), token)

    def test_a_token_whose_claims_were_changed_after_signing_is_refused(
        self, issuer: Issuer
    ) -> None:
        header, _claims, signature = issuer.token("svc-reader").split(".")
        changed = b64url(json.dumps(issuer.claims("svc-admin")).encode())

        message = refusal(verifier_of(issuer), f"{header}.{changed}.{signature}")

        assert "Signature verification failed" in message

    def test_a_token_naming_an_unknown_kid_is_refused_naming_it(self, issuer: Issuer) -> None:
        token = issuer.token(kid="rsa-9", key=rsa_key())

        assert "no key 'rsa-9'" in refusal(verifier_of(issuer), token)

    def test_an_algorithm_left_out_of_the_configured_ones_is_refused(self, issuer: Issuer) -> None:
        token = issuer.token(kid="rsa-1")

        message = refusal(verifier_of(issuer, algorithms=("ES256",)), token)

        assert "'RS256' is not accepted" in message

    @pytest.mark.parametrize(
        ("algorithm", "signing_kid", "named_kid"),
        [("ES256", "ec-1", "rsa-1"), ("RS256", "rsa-1", "ec-1")],
        ids=["es256-naming-the-rsa-key", "rs256-naming-the-ec-key"],
    )
    def test_a_token_whose_algorithm_does_not_fit_the_named_key_is_refused(
        self, issuer: Issuer, algorithm: str, signing_kid: str, named_kid: str
    ) -> None:
        token = jwt.encode(
            issuer.claims(),
            issuer.keys[signing_kid],
            algorithm=algorithm,
            headers={"kid": named_kid},
        )

        refusal(verifier_of(issuer), token)

    @pytest.mark.parametrize(
        "garbage",
        [
            "",
            "abc",
            "a.b.c",
            "....",
            "Bearer",
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "\u00e9.\u00e9.\u00e9",
        ],
    )
    def test_a_string_that_is_not_a_jwt_is_refused(self, issuer: Issuer, garbage: str) -> None:
        assert refusal(verifier_of(issuer), garbage)

    def test_token_info_refuses_what_verify_refuses(self, issuer: Issuer) -> None:
        with pytest.raises(InvalidToken, match="audience"):
            verifier_of(issuer).token_info(issuer.token(aud="billing"))


class TestThePartyClaimFailsClosed:
    @pytest.mark.parametrize(
        "value",
        [
            "",
            "   ",
            ["org-beta", "org-alpha"],
            [],
            12345,
            {"id": "org-beta"},
            True,
            None,
            [7],
            "org beta",
            "x" * 257,
        ],
        ids=[
            "empty",
            "blank",
            "two",
            "no-item",
            "number",
            "object",
            "bool",
            "null",
            "list-of-number",
            "space",
            "too-long",
        ],
    )
    def test_a_party_claim_naming_no_single_party_refuses_the_token(
        self, issuer: Issuer, value: Any
    ) -> None:
        token = jwt.encode(
            {**issuer.claims(), "party_id": value},
            issuer.keys["rsa-1"],
            "RS256",
            headers={"kid": "rsa-1"},
        )

        with pytest.raises(InvalidToken) as refused:
            verifier_of(issuer).token_info(token)

        assert "party_id claim names no single party" in refused.value.message
        assert refused.value.public == "the token is not valid"

    def test_a_list_of_one_party_is_that_party(self, issuer: Issuer) -> None:
        token = issuer.token(party_id=["org-beta"])

        assert verifier_of(issuer).token_info(token)["party"] == "org-beta"

    def test_without_the_claim_the_token_is_the_operators(self, issuer: Issuer) -> None:
        assert verifier_of(issuer).token_info(issuer.token())["party"] is None


class TestNumericDates:
    @pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
    @pytest.mark.parametrize("value", ["9999999999", True, [1]], ids=["string", "bool", "list"])
    def test_a_date_claim_that_is_not_a_number_is_refused(
        self, issuer: Issuer, claim: str, value: Any
    ) -> None:
        claims = {**issuer.claims(), claim: value}
        token = jwt.encode(claims, issuer.keys["rsa-1"], "RS256", headers={"kid": "rsa-1"})

        with pytest.raises(InvalidToken):
            verifier_of(issuer).token_info(token)


class TestWhatTheClientIsTold:
    def test_an_expired_token_says_so(self, issuer: Issuer) -> None:
        with pytest.raises(InvalidToken) as refused:
            verifier_of(issuer).verify(issuer.token(exp=1))

        assert refused.value.public == "the token has expired"

    @pytest.mark.parametrize(
        "make",
        [
            lambda i: i.token(kid="kid-secret-xyz", key=rsa_key()),
            lambda i: i.token(aud="billing"),
            lambda i: i.token(iss="https://elsewhere.example"),
            lambda i: "abc.def.ghi",
        ],
        ids=["unknown-kid", "audience", "issuer", "not-a-jwt"],
    )
    def test_any_other_refusal_says_only_that_it_is_not_valid(
        self, issuer: Issuer, make: Any
    ) -> None:
        with pytest.raises(InvalidToken) as refused:
            verifier_of(issuer).verify(make(issuer))

        assert refused.value.public == "the token is not valid"
        assert refused.value.message != refused.value.public  # the log has the reason


class TestMessagesNeverRepeatTheToken:
    @pytest.mark.parametrize(
        "claims",
        [{"exp": 1}, {"aud": "billing"}, {"iss": "https://elsewhere.example"}, {"sub": None}],
        ids=["expired", "audience", "issuer", "no-subject"],
    )
    def test_a_refused_tokens_message_does_not_contain_it(
        self, issuer: Issuer, claims: dict[str, Any]
    ) -> None:
        token = issuer.token(**claims)

        message = refusal(verifier_of(issuer), token)

        assert token not in message
        assert token.split(".")[2] not in message  # not even its signature

    def test_a_badly_signed_tokens_message_does_not_contain_it(self, issuer: Issuer) -> None:
        token = issuer.token(kid="rsa-1", key=rsa_key())

        message = refusal(verifier_of(issuer), token)

        assert token not in message
        assert token.split(".")[1] not in message

    def test_a_malformed_tokens_message_does_not_contain_it(self, issuer: Issuer) -> None:
        token = "eyJhbGciOiJSUzI1NiJ9.not-base64!.c2lnbmF0dXJl"

        message = refusal(verifier_of(issuer), token)

        assert token not in message
        assert "not-base64!" not in message


class TestSettings:
    @pytest.mark.parametrize(
        "algorithms",
        [("HS256",), ("none",), ("RS256", "HS512"), ()],
        ids=["hs256", "none", "hs512-among-asymmetric", "empty"],
    )
    def test_symmetric_none_or_no_algorithms_are_refused(self, algorithms: tuple[str, ...]) -> None:
        with pytest.raises(ValueError, match="asymmetric"):
            TokenSettings(jwks="jwks.json", issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms)

    def test_the_refusal_names_the_weak_algorithm(self) -> None:
        with pytest.raises(ValueError, match="not HS512"):
            TokenSettings(
                jwks="jwks.json", issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256", "HS512")
            )

    def test_asymmetric_algorithms_are_accepted(self) -> None:
        settings = TokenSettings(
            jwks="jwks.json", issuer=ISSUER, audience=AUDIENCE, algorithms=("PS256", "EdDSA")
        )

        assert settings.algorithms == ("PS256", "EdDSA")

    def test_the_defaults_are_rs256_and_es256_and_30_seconds_of_leeway(self) -> None:
        settings = TokenSettings(jwks="jwks.json", issuer=ISSUER, audience=AUDIENCE)

        assert settings.algorithms == ("RS256", "ES256")
        assert settings.leeway == 30.0
        assert settings.roles_claim == "roles"
        assert settings.party_claim == "party_id"


class TestJwksFile:
    def test_a_key_added_after_the_verifier_was_built_is_found_by_reading_again(
        self, issuer: Issuer
    ) -> None:
        verifier = verifier_of(issuer)
        assert verifier.verify(issuer.token(kid="rsa-1"))

        issuer.add_key("rsa-2", rsa_key())

        assert verifier.verify(issuer.token("svc-rotated", kid="rsa-2"))["sub"] == "svc-rotated"
        assert verifier.verify(issuer.token(kid="rsa-1"))["sub"] == "svc-desk"

    def test_a_key_withdrawn_from_the_file_is_refused_from_then_on(self, issuer: Issuer) -> None:
        verifier = verifier_of(issuer)
        assert verifier.verify(issuer.token(kid="ec-1"))
        del issuer.keys["ec-1"]
        issuer.publish()
        # a rewrite within the file system's timestamp granularity still counts as a change
        later_ns = issuer.jwks_path.stat().st_mtime_ns + 1_000_000_000
        os.utime(issuer.jwks_path, ns=(later_ns, later_ns))

        assert "no key 'ec-1'" in refusal(verifier, issuer.token(kid="ec-1", key=ec_key()))
        assert verifier.verify(issuer.token(kid="rsa-1"))["sub"] == "svc-desk"

    def test_a_missing_jwks_file_fails_when_the_verifier_is_built(self, tmp_path: Path) -> None:
        missing = tmp_path / "nowhere.json"

        with pytest.raises(InvalidToken, match="cannot be read"):
            TokenVerifier(TokenSettings(jwks=str(missing), issuer=ISSUER, audience=AUDIENCE))

    def test_a_jwks_file_spoiled_later_refuses_unknown_kids_and_keeps_the_known_keys(
        self, issuer: Issuer
    ) -> None:
        verifier = verifier_of(issuer)
        issuer.jwks_path.write_text("{not json", encoding="utf-8")

        assert "cannot be read" in refusal(verifier, issuer.token(kid="rsa-2", key=rsa_key()))
        assert verifier.verify(issuer.token(kid="ec-1"))["sub"] == "svc-desk"


# -- JWKS over HTTP --------------------------------------------------------------------------


class JwksServer:
    """Serves the issuer's JWKS file as it is at each GET, counting the GETs."""

    def __init__(self, jwks_path: Path) -> None:
        self.fetches = 0
        self.status = 200
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                served.fetches += 1
                body = jwks_path.read_bytes()
                self.send_response(served.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/realms/operator/protocol/openid-connect/certs"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def jwks_server(issuer: Issuer) -> Iterator[JwksServer]:
    server = JwksServer(issuer.jwks_path)
    try:
        yield server
    finally:
        server.stop()


def url_verifier(server: JwksServer) -> TokenVerifier:
    return TokenVerifier(TokenSettings(jwks=server.url, issuer=ISSUER, audience=AUDIENCE))


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the JWKS client's clock (its refetch cooldown) ``seconds`` ahead."""
    monkeypatch.setattr(
        jwt.jwks_client, "time", SimpleNamespace(monotonic=lambda: time.monotonic() + seconds)
    )


class TestJwksUrl:
    def test_a_token_verifies_against_keys_fetched_from_the_url(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        verifier = url_verifier(jwks_server)
        assert jwks_server.fetches == 0  # nothing is fetched before a token needs a key

        assert verifier.verify(issuer.token("svc-remote"))["sub"] == "svc-remote"
        assert jwks_server.fetches == 1

    def test_the_fetched_keys_are_kept_for_the_next_tokens(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        verifier = url_verifier(jwks_server)

        verifier.verify(issuer.token("first", kid="rsa-1"))
        verifier.verify(issuer.token("second", kid="rsa-1"))
        verifier.verify(issuer.token("third", kid="ec-1"))

        assert jwks_server.fetches == 1

    def test_a_new_kid_after_a_rotation_fetches_the_keys_again(
        self, issuer: Issuer, jwks_server: JwksServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifier = url_verifier(jwks_server)
        verifier.verify(issuer.token(kid="rsa-1"))

        issuer.add_key("rsa-2", rsa_key())
        later(monkeypatch, 11)  # past the cooldown between refetches (10 s)

        assert verifier.verify(issuer.token("svc-rotated", kid="rsa-2"))["sub"] == "svc-rotated"
        assert jwks_server.fetches == 2
        verifier.verify(issuer.token(kid="rsa-2"))
        verifier.verify(issuer.token(kid="rsa-1"))
        assert jwks_server.fetches == 2

    def test_unknown_kids_right_after_a_fetch_are_refused_without_fetching_again(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        # the cooldown keeps a flood of made-up key ids from hammering the issuer
        verifier = url_verifier(jwks_server)
        verifier.verify(issuer.token(kid="rsa-1"))

        for n in range(5):
            message = refusal(verifier, issuer.token(kid=f"made-up-{n}", key=rsa_key()))
            assert f"no key 'made-up-{n}'" in message

        assert jwks_server.fetches == 1

    def test_an_unknown_kid_is_refused_after_one_refetch(
        self, issuer: Issuer, jwks_server: JwksServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifier = url_verifier(jwks_server)
        verifier.verify(issuer.token(kid="rsa-1"))
        later(monkeypatch, 11)

        message = refusal(verifier, issuer.token(kid="rsa-9", key=rsa_key()))

        assert "no key 'rsa-9'" in message
        assert jwks_server.fetches == 2

    def test_a_key_from_the_url_still_checks_the_signature(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        verifier = url_verifier(jwks_server)

        message = refusal(verifier, issuer.token(kid="rsa-1", key=rsa_key()))

        assert "Signature verification failed" in message

    def test_an_issuer_answering_with_an_error_refuses_the_token(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        jwks_server.status = 503

        message = refusal(url_verifier(jwks_server), issuer.token())

        assert "no key 'rsa-1'" in message

    def test_an_unreachable_issuer_refuses_the_token(
        self, issuer: Issuer, jwks_server: JwksServer
    ) -> None:
        verifier = url_verifier(jwks_server)
        jwks_server.stop()

        message = refusal(verifier, issuer.token())

        assert "Fail to fetch" in message
