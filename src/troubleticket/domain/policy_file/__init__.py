"""The service policy file (``TT_POLICY``): a parsed YAML document read into the policy's types.

``parse_policy`` reports every problem at once, each with the path of the key that has it; each
section has a module of its own.
"""

from __future__ import annotations

from typing import Any

from troubleticket.domain.coordination_policy import parse_coordination
from troubleticket.domain.policy import DEFAULT_POLICY, Policy
from troubleticket.domain.policy_file.escalation import read_escalation
from troubleticket.domain.policy_file.major_incident import read_major_incident
from troubleticket.domain.policy_file.priority import read_priority
from troubleticket.domain.policy_file.reader import PolicyError, Reader
from troubleticket.domain.policy_file.sla import read_sla

__all__ = ["PolicyError", "parse_policy"]


def parse_policy(data: Any) -> Policy:
    """The policy a parsed YAML document describes; missing sections keep the defaults.

    Raises:
        PolicyError: every problem found, each with the path of its key.
    """
    read = Reader()
    top = read.mapping(
        data,
        "policy",
        frozenset(
            {
                "priority",
                "sla",
                "escalation",
                "monitor",
                "coordination",
                "isolation",
                "majorIncident",
            }
        ),
    )
    priority = read_priority(read, top.get("priority"))
    sla = read_sla(read, top.get("sla"), priority)
    escalation = read_escalation(read, top.get("escalation"), priority, sla)
    coordination = parse_coordination(read, top.get("coordination"), priority.levels)
    monitor = read.mapping(top.get("monitor"), "monitor", frozenset({"interval"}))
    interval = (
        read.duration(monitor["interval"], "monitor.interval")
        if "interval" in monitor
        else DEFAULT_POLICY.monitor_interval
    )
    isolation = read.mapping(top.get("isolation"), "isolation", frozenset({"partnersMayName"}))
    may_name = _party_ids(read, isolation.get("partnersMayName"), "isolation.partnersMayName")
    major_incident = read_major_incident(read, top.get("majorIncident"))
    if read.problems:
        raise PolicyError(read.problems)
    return Policy(
        priority=priority,
        sla=sla,
        escalation=escalation,
        monitor_interval=interval,
        coordination=coordination,
        partners_may_name=may_name,
        major_incident=major_incident,
    )


def _party_ids(read: Reader, value: Any, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        read.problem(path, "expected a list of party ids")
        return frozenset()
    return frozenset(value)
