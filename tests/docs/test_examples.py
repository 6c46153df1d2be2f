"""Every shell example of README.md and docs/ runs against a real server, its output checked.

The conventions the documents follow are in ``tests/docs/runner.py``. Each document is one test;
a failure lists every example of it that went wrong, with its line, so the text can be fixed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docs import markdown
from tests.docs.runner import ROOT, TALLY, read_document, run_document

DOCUMENTS = markdown.documents(ROOT)
# what every document's shell uses; a machine without them fails rather than skips, since a
# skipped document is one that can drift
NEEDED = ("bash", "curl")


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_examples(path: Path, tmp_path: Path) -> None:
    document = read_document(path.read_text(encoding="utf-8"), _name(path))
    if document.problems:
        pytest.fail("\n".join(document.problems), pytrace=False)
    if not document.examples:
        pytest.skip("no examples")
    for example in document.skipped:
        assert example.skip is not None
        TALLY.skipped.append((document.name, example.line, example.skip))
        print(f"{document.name}:{example.line} skipped: {example.skip}")
    if not document.to_run:
        reasons = "; ".join(f"line {e.line}: {e.skip}" for e in document.skipped)
        pytest.skip(f"every example skipped ({reasons})")
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the examples need {' and '.join(missing)}, not installed here", pytrace=False)
    report = run_document(document, tmp_path)
    TALLY.documents += 1
    TALLY.examples += report.ran
    if report.failures:
        pytest.fail("\n\n".join(report.failures), pytrace=False)
