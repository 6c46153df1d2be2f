"""The example partner registries in examples/: they parse, and every key of the parser is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from troubleticket.bootstrap.files import load_partners
from troubleticket.config import ConfigError, Settings
from troubleticket.domain.partners import parse_partners

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_documented_registry_parses_with_both_kinds_of_authentication() -> None:
    registry = parse_partners(yaml.safe_load((EXAMPLES / "partners.yaml").read_text()))

    assert registry.self_id == "operator-1"
    fibreco, fieldco = registry.partners["fibreco"], registry.partners["fieldco"]
    assert (
        fibreco.oauth2 is not None and fibreco.oauth2.client_secret_env == "FIBRECO_CLIENT_SECRET"
    )
    assert fieldco.bearer_token_env == "FIELDCO_TOKEN"
    assert (fibreco.poll_interval, fibreco.poll_after, fieldco.poll_interval) == (30, 300, 60)
    assert registry.by_party("org-fieldco") is fieldco


def test_every_key_the_parser_reads_is_shown_in_the_documented_registry() -> None:
    text = (EXAMPLES / "partners.yaml").read_text()
    for key in (
        "self:",
        "inboundHeader:",
        "partners:",
        "name:",
        "baseUrl:",
        "api:",
        "party:",
        "auth:",
        "oauth2:",
        "tokenUrl:",
        "clientId:",
        "clientSecretEnv:",
        "scope:",
        "bearerTokenEnv:",
        "timeouts:",
        "connect:",
        "read:",
        "events:",
        "subscribe:",
        "appendEventListenerPath:",
        "secretEnv:",
        "poll:",
        "interval:",
        "after:",
        "forwardNotes:",
    ):
        assert key in text, key


def test_the_walkthrough_registry_loads_with_its_secret_set(tmp_path: Path) -> None:
    settings = Settings(partners=str(EXAMPLES / "partners-local.yaml"))
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    registry, secrets = load_partners(settings, {"FIBRECO_HUB_SECRET": secret})

    assert registry.partners["fibreco"].base_url.endswith(":9090/tmf-api/troubleTicket/v5")
    assert secrets == {"FIBRECO_HUB_SECRET": secret}


def test_a_secret_variable_not_set_stops_the_start_naming_it() -> None:
    settings = Settings(partners=str(EXAMPLES / "partners.yaml"))

    with pytest.raises(
        ConfigError, match="FIBRECO_CLIENT_SECRET, FIBRECO_HUB_SECRET, FIELDCO_TOKEN"
    ):
        load_partners(settings, {})


def test_every_problem_of_a_registry_is_named_with_its_key(tmp_path: Path) -> None:
    broken = tmp_path / "partners.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "partners": {
                    "acme": {
                        "baseUrl": "ftp://acme.example",
                        "party": {"id": "org-acme"},
                        "timeouts": {"read": "soon"},
                        "events": {"secretEnv": "not a variable"},
                        "colour": "blue",
                    }
                }
            }
        )
    )

    with pytest.raises(ConfigError) as refused:
        load_partners(Settings(partners=str(broken)), {})

    message = str(refused.value)
    for path in (
        "partners.acme.baseUrl",
        "partners.acme.timeouts.read",
        "partners.acme.events.secretEnv",
        "partners.acme.colour",
    ):
        assert path in message, path
