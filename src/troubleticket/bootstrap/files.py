"""The files the settings name (the service policy, the partner registry, the scopes), read and
checked; every problem a ``ConfigError`` naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from troubleticket.config import ConfigError, Settings
from troubleticket.domain.partners import (
    NO_PARTNERS,
    PartnerRegistry,
    PartnersError,
    parse_partners,
)
from troubleticket.domain.policy import DEFAULT_POLICY, Policy
from troubleticket.domain.policy_file import PolicyError, parse_policy
from troubleticket.domain.signing import secret_key


def load_yaml(variable: str, path: str) -> Any:
    """The YAML document of the file a setting names.

    Raises:
        ConfigError: the file cannot be read, or is not YAML (naming the variable and the file).
    """
    try:
        with open(path, encoding="utf-8") as source:
            return yaml.safe_load(source)
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{variable}: {path} is not valid YAML: {exc}") from None


def load_policy(settings: Settings) -> Policy:
    """The policy ``TT_POLICY`` names, validated; the built-in one when unset.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or describes an unusable policy
            (every problem listed, with the path of its key).
    """
    if settings.policy is None:
        return DEFAULT_POLICY
    data = load_yaml("TT_POLICY", settings.policy)
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise ConfigError(f"TT_POLICY: {settings.policy}: {exc}") from None


def load_partners(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> tuple[PartnerRegistry, dict[str, str]]:
    """The partner registry ``TT_PARTNERS`` names, and the secrets its variables hold.

    Raises:
        ConfigError: the file cannot be read, is not YAML, describes an unusable registry
            (every problem listed, with the path of its key), or names a variable not set.
    """
    if settings.partners is None:
        return NO_PARTNERS, {}
    data = load_yaml("TT_PARTNERS", settings.partners)
    try:
        registry = parse_partners(data)
    except PartnersError as exc:
        raise ConfigError(f"TT_PARTNERS: {settings.partners}: {exc}") from None
    names = {name for partner in registry.partners.values() for name in partner.env_names()}
    missing = sorted(name for name in names if not environ.get(name))
    if missing:
        raise ConfigError(f"TT_PARTNERS: {settings.partners} needs {', '.join(missing)} set")
    secrets = {name: environ[name] for name in names}
    for partner in registry.partners.values():
        if partner.secret_env is not None:
            try:
                secret_key(secrets[partner.secret_env])
            except ValueError as exc:
                raise ConfigError(f"{partner.secret_env}: {exc}") from None
    return registry, secrets


def check_partner_listeners(settings: Settings, registry: PartnerRegistry) -> None:
    """Check that every partner that sends events has our listeners to send them to: a partner
    speaking TMF621 v4 (``api: v4``) sends them to the v4 root's, served unless ``TT_V4`` is off.

    Raises:
        ConfigError: partners speaking v4 subscribe to their events and the v4 root is off
            (naming them).
    """
    needing = registry.v4_subscribers()
    if needing and not settings.v4:
        problems = [
            f"partners.{partner_id}: speaks TMF621 v4 (api: v4) and subscribes to events, which "
            "come to our v4 listeners (/tmf-api/troubleTicket/v4/listener/...): turn TT_V4 on, "
            "or set events.subscribe: false (its reports are then polled)"
            for partner_id in needing
        ]
        raise ConfigError(
            f"TT_PARTNERS: {settings.partners}: the v4 root is off (TT_V4=off):\n  "
            + "\n  ".join(problems)
        )
