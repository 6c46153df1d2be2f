"""Every relative link of README.md and docs/ leads somewhere: the file exists and, when the link
names an anchor in a Markdown file, that file has a heading (or ``<a name>``) giving it.

Anchors follow GitHub's rule, which is how readers follow them: the heading's text lower-cased,
punctuation other than ``-`` and ``_`` removed, each space a ``-``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs import markdown
from tests.docs.runner import ROOT

DOCUMENTS = markdown.documents(ROOT)


def broken_links(path: Path) -> list[str]:
    """One line per link of ``path`` that leads nowhere."""
    text = path.read_text(encoding="utf-8")
    broken = []
    for link in markdown.links(text):
        target, _, anchor = link.target.partition("#")
        destination = (path.parent / unquote(target)).resolve() if target else path
        where = f"{path.relative_to(ROOT).as_posix()}:{link.line}: {link.target}"
        if not destination.exists():
            broken.append(f"{where}: no such file or directory")
        elif anchor and destination.suffix == ".md" and destination.is_file():
            names = markdown.anchors(destination.read_text(encoding="utf-8"))
            if unquote(anchor) not in names:
                broken.append(f"{where}: no heading gives #{anchor}")
    return broken


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    broken = broken_links(path)
    assert not broken, "links that lead nowhere:\n" + "\n".join(broken)


# --- the rules themselves, on small texts -------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Event notifications", "event-notifications"),
        (
            "Priority, SLA clocks, jeopardy and escalation",
            "priority-sla-clocks-jeopardy-and-escalation",
        ),
        ("`TT_STORE` and `--store`", "tt_store-and---store"),
        ("Running on MongoDB (replica sets)", "running-on-mongodb-replica-sets"),
        ("Impact × urgency: the matrix", "impact--urgency-the-matrix"),
        ("Über [links](other.md#x) too", "über-links-too"),
        ("What's 1.0?", "whats-10"),
    ],
)
def test_slug(heading: str, anchor: str) -> None:
    assert markdown.slug(heading) == anchor


def test_anchors_of_a_text() -> None:
    text = textwrap.dedent("""\
        # Guide
        ## Setup ##
        ## Setup
        <a name="custom-place"></a>
        ```sh
        # not a heading
        ```
        """)
    assert markdown.anchors(text) == {"guide", "setup", "setup-1", "custom-place"}


def test_links_of_a_text() -> None:
    text = textwrap.dedent("""\
        See [the policy](examples/policy.yaml), [below](#security) and
        ![a plot](bench/results/latest/plot.png "Plot"), but not [the web](https://tmforum.org),
        `[code](not/a/link.md)` or [mail](mailto:a@b.c).

        ```md
        [inside](a/code/block.md)
        ```
        [ref]: docs/ref.md#top
        """)
    assert [(link.line, link.target) for link in markdown.links(text)] == [
        (1, "examples/policy.yaml"),
        (1, "#security"),
        (2, "bench/results/latest/plot.png"),
        (8, "docs/ref.md#top"),
    ]


def test_broken_links_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n## Known part\n")
    guide = tmp_path / "docs" / "guide.md"
    guide.write_text(
        "# Guide\n"
        "[a](other.md#known-part) [b](other.md#unknown) [c](missing.md) [d](#guide)\n"
        "[e](#nowhere) [f](../docs/)\n"
    )
    assert broken_links(guide) == [
        "docs/guide.md:2: other.md#unknown: no heading gives #unknown",
        "docs/guide.md:2: missing.md: no such file or directory",
        "docs/guide.md:3: #nowhere: no heading gives #nowhere",
    ]
