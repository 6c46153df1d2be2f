"""``troubleticket check-config``: every problem serve would stop at, one a line, none missed
because another came first; the store is never opened nor created."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tokens import AUDIENCE, ISSUER, Issuer
from tests.unit.cli_environment import logging_as_found, no_tt_environment  # noqa: F401 (autouse)
from troubleticket.cli import main

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PARTNERS = {
    "partners": {
        "alpha": {
            "baseUrl": "http://127.0.0.1:9/tmf-api/troubleTicket/v5",
            "party": {"@type": "PartyRef", "@referredType": "Organization", "id": "org-alpha"},
            "events": {"subscribe": False, "secretEnv": "ALPHA_HUB_SECRET"},
        }
    }
}
POLICY = {
    "sla": {
        "clocks": {
            "resolve": {
                "stopOn": ["resolved", "closed"],
                "targets": {"Critical": "2h", "High": "4h", "Medium": "8h", "Low": "1d"},
            }
        }
    },
    "escalation": {"rules": [{"clock": "resolve", "on": "breach", "raiseLevelTo": 1}]},
}


@dataclass
class Setup:
    store: Path  # in directories that do not exist yet
    policy: Path
    partners: Path
    jwks: Path

    def flags(self) -> list[str]:
        return [
            "--store",
            str(self.store),
            "--policy",
            str(self.policy),
            "--partners",
            str(self.partners),
            "--host",
            "0.0.0.0",
        ]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """A configuration with tokens, a policy and a partner, all usable."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump(PARTNERS))
    issuer = Issuer.create(tmp_path)
    monkeypatch.setenv("TT_AUTH", "jwt")
    monkeypatch.setenv("TT_JWKS", str(issuer.jwks_path))
    monkeypatch.setenv("TT_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("TT_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("TT_EGRESS_ALLOW", "127.0.0.0/8")
    monkeypatch.setenv("ALPHA_HUB_SECRET", SECRET)
    return Setup(tmp_path / "data" / "new" / "tt.sqlite3", policy, partners, issuer.jwks_path)


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["check-config", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("error ")]


class TestAllUsable:
    def test_one_ok_line_a_section_and_exit_0(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, lines, err = check(capsys, *setup.flags())

        assert code == 0
        assert lines[:5] == [
            "ok       settings: 5 from the environment, 4 from flags, the rest default",
            "ok       exposure: listens on 0.0.0.0:8080, bearer tokens required",
            f"ok       store: SQLite file {setup.store} (not there yet: created on start)",
            f"ok       policy: {setup.policy} (4 priorities, 1 clocks: resolve; 1 escalation rule)",
            "ok       partners: 1 (alpha)",
        ]
        assert re.fullmatch(
            rf"ok       auth: jwt, issuer {ISSUER}, audience {AUDIENCE}, JWKS {setup.jwks} "
            r"\(read\), [1-9][0-9]* operations each need a scope",
            lines[5],
        )
        assert len(lines) == 6
        assert err == "troubleticket check-config: everything serve checks is usable\n"

    def test_the_store_and_its_directories_are_not_created(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert check(capsys, *setup.flags())[0] == 0

        assert not setup.store.parent.parent.exists()

    def test_an_existing_store_is_named_and_left_as_it_is(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        setup.store.parent.mkdir(parents=True)
        setup.store.write_bytes(b"")

        code, lines, _ = check(capsys, *setup.flags())

        assert code == 0
        assert f"ok       store: SQLite file {setup.store}" in lines
        assert setup.store.read_bytes() == b""  # not opened as a store (that writes tables)

    def test_without_any_setting_the_defaults_are_usable(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)

        code, lines, _ = check(capsys)

        assert code == 0
        assert lines == [
            "ok       settings: 0 from the environment, the rest default",
            "ok       exposure: listens on 127.0.0.1:8080 (loopback) without authentication",
            "ok       store: SQLite file data/troubleticket.sqlite3 (not there yet: created on "
            "start)",
            "ok       policy: built-in (4 priorities, 2 clocks: acknowledge, resolve; 0 escalation "
            "rules)",
            "ok       partners: none",
            "ok       auth: none: every request is trusted",
        ]
        assert not (tmp_path / "data").exists()


class TestProblems:
    def test_a_bad_policy_a_missing_secret_and_bad_keys_are_all_listed(
        self,
        setup: Setup,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        setup.policy.write_text(
            yaml.safe_dump(
                {"sla": {"jeopardy": {"warning": 2, "breach": 1}, "clocks": {"resolve": {}}}}
            )
        )
        monkeypatch.delenv("ALPHA_HUB_SECRET")
        setup.jwks.write_text("{not json", encoding="utf-8")

        code, lines, err = check(capsys, *setup.flags())

        assert code == 2
        found = problems(lines)
        policy = [line for line in found if line.startswith("error    policy: ")]
        assert len(policy) >= 2  # one line per problem of the file
        assert all(
            line.startswith(f"error    policy: TT_POLICY: {setup.policy}: invalid policy: ")
            for line in policy
        )
        assert (
            f"error    policy: TT_POLICY: {setup.policy}: invalid policy: sla.jeopardy: warning "
            "(2.0) must come before breach (1.0)" in policy
        )
        assert (
            f"error    partners: TT_PARTNERS: {setup.partners} needs ALPHA_HUB_SECRET set" in found
        )
        (auth,) = [line for line in found if line.startswith("error    auth: ")]
        assert auth.startswith(f"error    auth: TT_AUTH=jwt: the JWKS file {setup.jwks} cannot")
        assert len(found) == len(policy) + 2
        assert "ok       settings: 5 from the environment, 4 from flags, the rest default" in lines
        assert err == (
            f"troubleticket check-config: {len(found)} problems; serve would refuse to start\n"
        )
        assert not setup.store.parent.parent.exists()

    def test_unusable_settings_are_each_listed_and_the_other_checks_still_made(
        self, setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TT_DELIVERY_TIMEOUT", "100s")  # over half the lease (120 s)
        setup.policy.write_text("sla: [", encoding="utf-8")

        code, lines, _ = check(capsys, *setup.flags(), "--port", "http", "--tracing", "zipkin")

        assert code == 2
        found = problems(lines)
        assert sorted(found[:3]) == [
            "error    settings: TT_DELIVERY_TIMEOUT (100 s) must be at most half of "
            "TT_DELIVERY_LEASE (120 s)",
            "error    settings: TT_PORT has value 'http': not an integer",
            "error    settings: TT_TRACING has value 'zipkin': expected off, otlp or console",
        ]
        assert found[3].startswith(f"error    policy: TT_POLICY: {setup.policy} is not valid YAML")
        assert len(found) == 4
        assert "ok       partners: 1 (alpha)" in lines
        assert "ok       exposure: listens on 0.0.0.0:8080, bearer tokens required" in lines

    def test_checks_that_need_an_unusable_setting_are_skipped(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        code, lines, _ = check(
            capsys, "--auth", "jwt", "--host", "0.0.0.0", "--store", str(tmp_path / "tt.db")
        )

        assert code == 2
        assert problems(lines) == [
            "error    settings: TT_AUTH=jwt needs TT_JWKS, TT_JWT_ISSUER, TT_JWT_AUDIENCE"
        ]
        assert "skipped  exposure: not checked: TT_AUTH unusable" in lines
        assert "skipped  auth: not checked: TT_AUTH unusable" in lines
        assert "ok       partners: none" in lines

    def test_listening_beyond_loopback_without_authentication(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        code, lines, _ = check(capsys, "--host", "10.1.2.3", "--store", str(tmp_path / "tt.db"))

        assert code == 2
        (exposure,) = problems(lines)
        assert exposure.startswith("error    exposure: TT_AUTH=none with TT_HOST=10.1.2.3: ")

    def test_a_partner_url_the_egress_rule_refuses(
        self, setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("TT_EGRESS_ALLOW")

        code, lines, _ = check(capsys, *setup.flags())

        assert code == 2
        (refused,) = problems(lines)
        assert refused.startswith(
            "error    partners: TT_PARTNERS: partner URLs refused (TT_EGRESS_ALLOW may name "
            "internal networks): "
        )
        assert "127.0.0.1" in refused

    @pytest.mark.parametrize(
        ("store", "expected"),
        [
            ("ftp://tickets.example.com/db", "error    store: TT_STORE has value 'ftp://"),
            ("sqlite://relative.db", "error    store: TT_STORE has value 'sqlite://relative.db'"),
            ("mongodb://db.example.com:99999/tt", "error    store: TT_STORE is not a valid"),
            (
                "mongodb://db.example.com/tt",
                "ok       store: MongoDB at db.example.com:27017 (not contacted)",
            ),
            ("sqlite:///:memory:", "ok       store: SQLite in memory"),
        ],
    )
    def test_store_locations(
        self, store: str, expected: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, lines, _ = check(capsys, "--store", store)

        assert code == (0 if expected.startswith("ok") else 2)
        assert [line for line in lines if " store: " in line][0].startswith(expected)

    def test_a_directory_is_no_store(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, lines, _ = check(capsys, "--store", str(tmp_path))

        assert code == 2
        assert problems(lines) == [f"error    store: TT_STORE: {tmp_path} is not a file"]
