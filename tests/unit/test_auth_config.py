"""Authentication settings: TT_AUTH and its JWT variables, the exposure check at start-up, the
egress allow-list and the trusted gateway switch; and ``troubleticket serve`` refusing to listen
unauthenticated beyond loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.tokens import AUDIENCE, ISSUER, Issuer
from tests.unit.cli_environment import logging_as_found, no_tt_environment  # noqa: F401 (autouse)
from troubleticket.app import create_app, served_contract
from troubleticket.cli import main
from troubleticket.config import ConfigError, Settings
from troubleticket.store.sqlite import SqliteStore

JWT_ENV = {
    "TT_AUTH": "jwt",
    "TT_JWKS": "/etc/troubleticket/jwks.json",
    "TT_JWT_ISSUER": ISSUER,
    "TT_JWT_AUDIENCE": AUDIENCE,
}


class TestAuthMode:
    def test_authentication_is_off_by_default(self) -> None:
        settings = Settings.from_env({})

        assert settings.auth == "none"
        assert settings.auth_insecure is False
        assert settings.trusted_gateway is False
        assert settings.jwks is None
        assert settings.jwt_algorithms == ("RS256", "ES256")
        assert settings.jwt_leeway == 30.0
        assert settings.jwt_roles_claim == "roles"
        assert settings.jwt_party_claim == "party_id"
        assert settings.egress_allow == ()

    def test_none_may_be_said_explicitly(self) -> None:
        assert Settings.from_env({"TT_AUTH": "none"}).auth == "none"

    def test_jwt_with_keys_issuer_and_audience_is_taken(self) -> None:
        settings = Settings.from_env(JWT_ENV)

        assert settings.auth == "jwt"
        assert settings.jwks == "/etc/troubleticket/jwks.json"
        assert settings.jwt_issuer == ISSUER
        assert settings.jwt_audience == AUDIENCE

    @pytest.mark.parametrize("raw", ["basic", "JWT", "oauth2", ""])
    def test_another_mode_is_refused_naming_the_variable_and_value(self, raw: str) -> None:
        with pytest.raises(ConfigError, match="expected none or jwt") as refused:
            Settings.from_env({"TT_AUTH": raw})

        assert str(refused.value).startswith(f"TT_AUTH has value {raw!r}")

    @pytest.mark.parametrize("missing", ["TT_JWKS", "TT_JWT_ISSUER", "TT_JWT_AUDIENCE"])
    def test_jwt_without_one_of_its_variables_is_refused_naming_it(self, missing: str) -> None:
        environ = {name: value for name, value in JWT_ENV.items() if name != missing}

        with pytest.raises(ConfigError) as refused:
            Settings.from_env(environ)

        assert str(refused.value) == f"TT_AUTH=jwt needs {missing}"

    def test_jwt_alone_is_refused_naming_all_three(self) -> None:
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({"TT_AUTH": "jwt"})

        assert str(refused.value) == "TT_AUTH=jwt needs TT_JWKS, TT_JWT_ISSUER, TT_JWT_AUDIENCE"

    @pytest.mark.parametrize(
        ("variable", "raw", "attribute", "expected"),
        [
            ("TT_JWT_ALGORITHMS", "ES256", "jwt_algorithms", ("ES256",)),
            ("TT_JWT_ALGORITHMS", " RS256, PS256 ,", "jwt_algorithms", ("RS256", "PS256")),
            ("TT_JWT_LEEWAY", "1m", "jwt_leeway", 60.0),
            ("TT_JWT_LEEWAY", "0", "jwt_leeway", 0.0),
            ("TT_JWT_ROLES_CLAIM", "realm_access.roles", "jwt_roles_claim", "realm_access.roles"),
            ("TT_JWT_PARTY_CLAIM", "partner", "jwt_party_claim", "partner"),
            (
                "TT_TOKEN_URL",
                "https://sso.example.com/token",
                "token_url",
                "https://sso.example.com/token",
            ),
            (
                "TT_SCOPES",
                "/etc/troubleticket/scopes.yaml",
                "scopes",
                "/etc/troubleticket/scopes.yaml",
            ),
        ],
        ids=[
            "one-algorithm",
            "algorithms-list",
            "leeway-minutes",
            "no-leeway",
            "roles-claim",
            "party-claim",
            "token-url",
            "scopes",
        ],
    )
    def test_a_jwt_variable_sets_its_attribute(
        self, variable: str, raw: str, attribute: str, expected: Any
    ) -> None:
        settings = Settings.from_env({**JWT_ENV, variable: raw})

        assert getattr(settings, attribute) == expected

    @pytest.mark.parametrize(
        ("variable", "raw"),
        [
            ("TT_JWT_ALGORITHMS", " , "),
            ("TT_JWT_LEEWAY", "soon"),
            ("TT_TOKEN_URL", "sso.example.com/token"),
            ("TT_JWKS", " "),
            ("TT_JWT_ISSUER", ""),
            ("TT_JWT_ROLES_CLAIM", ""),
        ],
    )
    def test_an_unusable_jwt_variable_is_refused_naming_it(self, variable: str, raw: str) -> None:
        with pytest.raises(ConfigError, match=f"^{variable}"):
            Settings.from_env({**JWT_ENV, variable: raw})


class TestTheContractOfTheJwtMode:
    @pytest.fixture
    def issuer(self, tmp_path: Path) -> Issuer:
        return Issuer.create(tmp_path)

    @pytest.mark.parametrize("algorithms", ["HS256", "RS256,HS512", "none"])
    def test_a_symmetric_or_no_algorithm_is_refused_when_the_contract_is_built(
        self, issuer: Issuer, algorithms: str, tmp_path: Path
    ) -> None:
        settings = issuer.settings(Settings(store=str(tmp_path / "tt.sqlite3"))).with_overrides(
            {"jwt_algorithms": algorithms}
        )

        with pytest.raises(ConfigError, match="^TT_AUTH=jwt: algorithms must be asymmetric"):
            served_contract(settings)
        with pytest.raises(ConfigError, match="asymmetric"):
            create_app(settings, store=SqliteStore(":memory:"))

    def test_a_jwks_file_that_cannot_be_read_is_refused(self, tmp_path: Path) -> None:
        settings = Settings.from_env({**JWT_ENV, "TT_JWKS": str(tmp_path / "nowhere.json")})

        with pytest.raises(ConfigError, match="^TT_AUTH=jwt: the JWKS file .* cannot be read"):
            served_contract(settings)

    def test_a_jwks_url_is_not_fetched_before_a_token_needs_it(self) -> None:
        # port 9 (discard) on loopback: nothing answers, and nothing needs to at start-up
        settings = Settings.from_env({**JWT_ENV, "TT_JWKS": "http://127.0.0.1:9/certs"})

        contract = served_contract(settings)

        assert contract.security is not None and set(contract.security) == {"oauth2"}
        assert "oauth2" in contract.spec["components"]["securitySchemes"]

    def test_without_authentication_the_contract_is_served_as_shipped(self) -> None:
        contract = served_contract(Settings())

        assert contract.security is None
        assert "oauth2" not in contract.spec.get("components", {}).get("securitySchemes", {})


class TestExposure:
    @pytest.mark.parametrize(
        "host", ["127.0.0.1", "::1", "localhost", "LOCALHOST", "127.0.0.2", "::ffff:127.0.0.1"]
    )
    def test_without_authentication_loopback_is_fine(self, host: str) -> None:
        Settings(host=host).check_exposure()

    @pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "tt.example.com"])
    def test_without_authentication_any_other_interface_is_refused(self, host: str) -> None:
        with pytest.raises(ConfigError) as refused:
            Settings(host=host).check_exposure()

        message = str(refused.value)
        assert message.startswith(f"TT_AUTH=none with TT_HOST={host}:")
        assert "TT_AUTH=jwt" in message
        assert "TT_AUTH_INSECURE=1" in message

    @pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
    def test_a_gateway_in_front_may_be_declared_with_auth_insecure(self, host: str) -> None:
        Settings(host=host, auth_insecure=True).check_exposure()

    @pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "127.0.0.1"])
    def test_with_tokens_any_interface_is_fine(self, host: str) -> None:
        Settings.from_env({**JWT_ENV, "TT_HOST": host}).check_exposure()

    def test_auth_insecure_is_read_from_the_environment(self) -> None:
        settings = Settings.from_env({"TT_HOST": "0.0.0.0", "TT_AUTH_INSECURE": "1"})

        assert settings.auth_insecure is True
        settings.check_exposure()


class TestEgressAllow:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("127.0.0.0/8,::1/128", ("127.0.0.0/8", "::1/128")),
            (" 10.0.0.0/8 , 192.168.0.0/16 ,", ("10.0.0.0/8", "192.168.0.0/16")),
            ("192.168.1.10", ("192.168.1.10/32",)),
            ("fd00::/8", ("fd00::/8",)),
            ("", ()),
        ],
        ids=["loopback-v4-and-v6", "spaces-and-trailing-comma", "one-address", "ipv6", "empty"],
    )
    def test_networks_are_parsed_in_cidr_form(self, raw: str, expected: tuple[str, ...]) -> None:
        assert Settings.from_env({"TT_EGRESS_ALLOW": raw}).egress_allow == expected

    @pytest.mark.parametrize(
        ("raw", "named"),
        [
            ("10.0.0.1/8", "10.0.0.1/8"),
            ("nope", "nope"),
            ("127.0.0.0/8,300.1.2.3/32", "300.1.2.3/32"),
            ("10.0.0.0/33", "10.0.0.0/33"),
        ],
        ids=["host-bits-set", "not-an-address", "second-of-two-bad", "prefix-too-long"],
    )
    def test_something_that_is_not_a_network_is_refused_naming_it(
        self, raw: str, named: str
    ) -> None:
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({"TT_EGRESS_ALLOW": raw})

        assert str(refused.value).startswith(f"TT_EGRESS_ALLOW: {named!r} is not a network")


class TestTrustedGateway:
    @pytest.mark.parametrize("raw", ["1", "true", "yes", "on", "TRUE"])
    def test_on(self, raw: str) -> None:
        assert Settings.from_env({"TT_TRUSTED_GATEWAY": raw}).trusted_gateway is True

    @pytest.mark.parametrize("raw", ["0", "false", "no", "off", ""])
    def test_off(self, raw: str) -> None:
        assert Settings.from_env({"TT_TRUSTED_GATEWAY": raw}).trusted_gateway is False

    @pytest.mark.parametrize("variable", ["TT_TRUSTED_GATEWAY", "TT_AUTH_INSECURE"])
    def test_another_value_is_refused(self, variable: str) -> None:
        with pytest.raises(ConfigError, match=f"^{variable} has value 'maybe': expected 1 or 0"):
            Settings.from_env({variable: "maybe"})


class TestServe:
    @pytest.fixture
    def started(self, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
        """The servers ``serve`` would have run (none is: uvicorn.run only records its call)."""
        runs: list[dict[str, Any]] = []

        def run(app: Any, **options: Any) -> None:
            runs.append({"app": app, **options})

        monkeypatch.setattr(uvicorn, "run", run)
        return runs

    def test_serving_every_interface_without_authentication_is_refused_before_binding(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        started: list[dict[str, Any]],
    ) -> None:
        store = tmp_path / "tt.sqlite3"
        monkeypatch.setenv("TT_HOST", "0.0.0.0")
        monkeypatch.setenv("TT_STORE", str(store))

        assert main(["serve"]) == 2

        err = capsys.readouterr().err
        assert err.startswith("troubleticket: TT_AUTH=none with TT_HOST=0.0.0.0: ")
        assert "TT_AUTH_INSECURE=1" in err
        assert started == []
        assert not store.exists()  # refused before the app (and its store) was made

    def test_the_host_flag_is_checked_as_the_variable_is(
        self, capsys: pytest.CaptureFixture[str], started: list[dict[str, Any]]
    ) -> None:
        assert main(["serve", "--host", "10.1.2.3"]) == 2

        assert capsys.readouterr().err.startswith(
            "troubleticket: TT_AUTH=none with TT_HOST=10.1.2.3"
        )
        assert started == []

    def test_jwt_without_its_variables_is_refused(
        self, capsys: pytest.CaptureFixture[str], started: list[dict[str, Any]]
    ) -> None:
        assert main(["serve", "--auth", "jwt", "--host", "0.0.0.0"]) == 2

        err = capsys.readouterr().err
        assert err == "troubleticket: TT_AUTH=jwt needs TT_JWKS, TT_JWT_ISSUER, TT_JWT_AUDIENCE\n"
        assert started == []

    def test_with_auth_insecure_it_serves_every_interface(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        started: list[dict[str, Any]],
    ) -> None:
        monkeypatch.setenv("TT_HOST", "0.0.0.0")
        monkeypatch.setenv("TT_AUTH_INSECURE", "1")
        monkeypatch.setenv("TT_STORE", str(tmp_path / "tt.sqlite3"))

        assert main(["serve", "--port", "8099"]) == 0

        assert [(run["host"], run["port"]) for run in started] == [("0.0.0.0", 8099)]

    def test_with_tokens_it_serves_every_interface(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        started: list[dict[str, Any]],
    ) -> None:
        issuer = Issuer.create(tmp_path)
        monkeypatch.setenv("TT_STORE", str(tmp_path / "tt.sqlite3"))
        flags = ["--jwks", str(issuer.jwks_path), "--jwt-issuer", ISSUER]

        code = main(
            ["serve", "--host", "0.0.0.0", "--auth", "jwt", *flags, "--jwt-audience", AUDIENCE]
        )

        assert code == 0
        assert [run["host"] for run in started] == ["0.0.0.0"]
