"""After everything else in this package: each server answered no request with a 5xx (other
than 501), left none unanswered, grew its RSS by less than 50 MB over the whole run, still
answers a plain GET, and logged no traceback.

``conftest.pytest_collection_modifyitems`` runs these after the package's other tests.
"""

from __future__ import annotations

import pytest

from tests.hostile.client import Deployment

RSS_GROWTH_LIMIT_MB = 50
SERVERS = ["quickstart", "secured", "tenants"]


def deployment_of(request: pytest.FixtureRequest, name: str) -> Deployment:
    server = request.getfixturevalue(name)
    deployment: Deployment = server.deployment
    return deployment


@pytest.mark.parametrize("name", SERVERS)
def test_no_server_errors(name: str, request: pytest.FixtureRequest) -> None:
    deployment = deployment_of(request, name)
    errors = [answer.describe() for answer in deployment.server_errors()]
    lost = [f"{u.method} {u.target} as {u.identity}: {u.error}" for u in deployment.unanswered]
    assert not errors and not lost, (
        f"{len(errors)} of {len(deployment.answers)} answers were 5xx:\n"
        + "\n".join(errors)
        + (f"\nno answer to {len(lost)}:\n" + "\n".join(lost) if lost else "")
    )


@pytest.mark.parametrize("name", SERVERS)
def test_memory_stayed_bounded(name: str, request: pytest.FixtureRequest) -> None:
    deployment = deployment_of(request, name)
    assert deployment.process.running(), "the server is no longer running"
    grown_mb = (deployment.rss_kib() - deployment.rss_at_start_kib) / 1024
    assert grown_mb < RSS_GROWTH_LIMIT_MB, (
        f"RSS grew {grown_mb:.0f} MB over {len(deployment.answers)} requests "
        f"({deployment.rss_at_start_kib // 1024} MB at start)"
    )


@pytest.mark.parametrize("name", SERVERS)
def test_still_answering(name: str, request: pytest.FixtureRequest) -> None:
    deployment = deployment_of(request, name)
    assert deployment.process.running(), "the server is no longer running"
    answer = deployment.send("GET", "/troubleTicket?limit=1", timeout=5)
    assert answer.status == 200, answer.describe()


@pytest.mark.parametrize("name", SERVERS)
def test_no_traceback_in_the_log(name: str, request: pytest.FixtureRequest) -> None:
    deployment = deployment_of(request, name)
    log = deployment.log_after_pending_lines()
    lines = log.splitlines()
    starts = [n for n, line in enumerate(lines) if "Traceback" in line]
    excerpts = ["\n".join(lines[max(0, n - 1) : n + 12]) for n in starts[:3]]
    assert not starts, f"{len(starts)} tracebacks in the log; the first:\n" + "\n---\n".join(
        excerpts
    )
