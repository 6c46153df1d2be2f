"""The Grafana dashboard and the alert rules in examples/ ask only for what /metrics serves:
every metric name and every grouping label in their PromQL exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, Counter, Histogram

from troubleticket import metrics
from troubleticket.metrics_scrape import StoreState
from troubleticket.store.sqlite import SqliteStore

EXAMPLES = Path(__file__).parents[2] / "examples"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
STATE_LABELS = {"state", "status", "priority", "jeopardy"}


def served() -> tuple[set[str], set[str]]:
    """The sample names /metrics can show, and the labels of the troubleticket metrics."""
    names: set[str] = set()
    labels: set[str] = {"le"} | STATE_LABELS
    for metric in vars(metrics).values():
        if isinstance(metric, Counter | Histogram):
            labels |= set(metric._labelnames)
    families = list(REGISTRY.collect()) + list(StoreState(SqliteStore(":memory:")).collect())
    for family in families:
        if family.name.startswith("troubleticket_"):
            names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names, labels


def dashboard_expressions() -> list[str]:
    board = json.loads((EXAMPLES / "grafana" / "troubleticket-dashboard.json").read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((EXAMPLES / "prometheus" / "alerts.yaml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("expr", dashboard_expressions() + alert_expressions())
def test_each_expression_names_served_metrics_and_labels(expr: str) -> None:
    names, labels = served()
    used = set(re.findall(r"troubleticket_[a-z_]+", expr))
    assert used, expr
    assert used <= names, f"not served: {sorted(used - names)}"
    grouped = {
        label.strip() for group in re.findall(r"by \(([^)]*)\)", expr) for label in group.split(",")
    }
    matched = set(re.findall(r"[{,]\s*([a-z_]+)\s*[!=~]", expr))
    assert grouped | matched <= labels, f"unknown labels: {sorted((grouped | matched) - labels)}"


def test_the_dashboard_has_a_panel_for_each_kind_of_figure() -> None:
    exprs = " ".join(dashboard_expressions())
    for family in (
        "http_request_duration_seconds",
        "store_operation_duration_seconds",
        "outbox_backlog",
        "deliveries",
        "delivery_attempts_total",
        "delivery_latency_seconds",
        "delivery_failures_total",
        "open_tickets",
        "jeopardy_alerts_total",
        "escalations_total",
        "background_pass_duration_seconds",
    ):
        assert f"troubleticket_{family}" in exprs, family
