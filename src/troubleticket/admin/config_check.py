"""A configuration checked without serving it: every setting, the store, the policy, the
partners and the token settings, each problem named with the variable that has it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from troubleticket.app import served_contract
from troubleticket.bootstrap.files import check_partner_listeners, load_partners, load_policy
from troubleticket.bootstrap.services import egress_policy
from troubleticket.bootstrap.stores import store_location
from troubleticket.config import ConfigError, Settings
from troubleticket.partners.requests import refused_partner_urls

OK = "ok"


PROBLEM = "error"


UNCHECKED = "skipped"


# The settings each check depends on: a check whose setting is unusable is not made.
_DEPENDS = {
    "exposure": ("host", "auth", "auth_insecure"),
    "store": ("store",),
    "policy": ("policy",),
    "partners": ("partners", "egress_allow", "v4"),
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
    correlation = len(policy.major_incident.correlation)
    major = (
        f"; {correlation} correlation rule{'' if correlation == 1 else 's'}" if correlation else ""
    )
    return (
        f"{source} ({len(policy.priority.levels)} priorities, {len(policy.sla.clocks)} clocks: "
        f"{clocks}; {rules} escalation rule{'' if rules == 1 else 's'}{major})"
    )


def _partners(settings: Settings, environ: Mapping[str, str]) -> str:
    registry, _secrets = load_partners(settings, environ)
    check_partner_listeners(settings, registry)
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
