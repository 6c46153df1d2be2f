"""Every case of the hostile-input corpus (``corpus/*.yaml``) against a real server, in each auth
mode the case names: the status (and TMF Error code) it expects, a TMF Error body for every
answer that is not a success, and the extra checks the case asks for (time, memory, log lines,
nothing stored).
"""

from __future__ import annotations

import pytest

from tests.hostile import corpus
from tests.hostile.client import error_code, tmf_error_problems
from tests.hostile.conftest import CorpusServer

SERVER_OF_MODE = {"none": "quickstart", "jwt": "secured"}

CASES = [(mode, case) for mode in corpus.MODES for case in corpus.load() if mode in case.modes]


@pytest.mark.parametrize(("mode", "case"), CASES, ids=[f"{mode}-{case.id}" for mode, case in CASES])
def test_hostile_request(mode: str, case: corpus.Case, request: pytest.FixtureRequest) -> None:
    server: CorpusServer = request.getfixturevalue(SERVER_OF_MODE[mode])
    deployment, ids = server.deployment, server.ids
    rss_before = deployment.rss_kib()
    answer = deployment.send(
        case.method,
        case.target(ids),
        identity=case.identity,
        body=case.request_body(ids),
        headers=case.request_headers(ids),
        root=case.root,
    )
    problems: list[str] = []
    if answer.status not in case.expect:
        problems.append(f"status {answer.status}, expected {sorted(case.expect)}")
    if case.codes is not None and answer.status >= 400 and error_code(answer) not in case.codes:
        problems.append(f"code {error_code(answer)!r}, expected {sorted(case.codes)}")
    problems += tmf_error_problems(answer)
    if case.within_s is not None and answer.elapsed_s > case.within_s:
        problems.append(f"answered in {answer.elapsed_s:.2f} s, expected within {case.within_s} s")
    if case.rss_growth_mb is not None:
        grown_mb = (deployment.rss_kib() - rss_before) / 1024
        if grown_mb > case.rss_growth_mb:
            problems.append(f"server RSS grew {grown_mb:.0f} MB (at most {case.rss_growth_mb})")
    if case.log_must_not_start_with:
        lines = deployment.log_after_pending_lines().splitlines()
        for forged in case.log_must_not_start_with:
            planted = [line for line in lines if line.startswith(forged)]
            if planted:
                problems.append(f"the log has a line the client wrote: {planted[0]!r}")
    if case.absent_after is not None:
        path = corpus.fill(case.absent_after.path, ids)
        after = deployment.call("GET", path, identity=case.identity)
        if after.status != 200:
            problems.append(f"GET {path} afterwards: {after.status} {after.excerpt()}")
        else:
            stored = [name for name in case.absent_after.attributes if name in after.json()]
            if stored:
                problems.append(f"stored anyway: {stored} in GET {path}")
    if problems:
        pytest.fail(f"{answer.describe()}\n" + "\n".join(problems), pytrace=False)


def test_corpus_is_well_formed() -> None:
    cases = corpus.load()
    assert cases, "the corpus is empty"
    assert len({case.id for case in cases}) == len(cases)
