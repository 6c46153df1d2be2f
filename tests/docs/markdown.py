"""What the docs tests read in a Markdown document: fenced blocks, HTML comments, headings, links.

Only the subset the project's documents use, read line by line so that every finding carries
the line a writer has to look at (1-based, as editors show it). Fenced blocks open with three
or more backticks or tildes at any indentation and close with a run of the same character at
least as long; the lines of a block are taken out of its indentation. Text inside a fenced
block is never a comment, a heading or a link.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
COMMENT = re.compile(r"<!--(?P<body>.*?)-->", re.DOTALL)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ID = re.compile(r"<a\s[^>]*(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^()\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(?P<target>\S+)", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Block:
    """A fenced code block: ``line`` is its opening fence's, ``end`` its closing fence's."""

    line: int
    end: int
    info: str
    body: str

    @property
    def language(self) -> str:
        """The first word of the info string (``sh`` of ```` ```sh title ````)."""
        words = self.info.split()
        return words[0] if words else ""


@dataclass(frozen=True)
class Comment:
    """An HTML comment outside code, from the line it opens on to the line it closes on."""

    line: int
    end: int
    body: str


@dataclass(frozen=True)
class Link:
    """A relative link target, as written (``path``, ``path#anchor`` or ``#anchor``)."""

    line: int
    target: str


def documents(root: Path) -> list[Path]:
    """The project's documents: README.md, then every Markdown file under docs/, by path."""
    found = [root / "README.md"] if (root / "README.md").is_file() else []
    return found + sorted((root / "docs").rglob("*.md"))


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block, in document order (one left open runs to the end of the text)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if opening is None:
            continue
        start, fence = number, opening["fence"]
        indent = len(opening["indent"].expandtabs())
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        while number < len(lines) and not closing.match(lines[number]):
            body.append(_outdent(lines[number], indent))
            number += 1
        number += 1
        blocks.append(Block(start, min(number, len(lines)), opening["info"].strip(), _join(body)))
    return blocks


def _outdent(line: str, indent: int) -> str:
    """``line`` without up to ``indent`` columns of leading white space."""
    expanded = line.expandtabs()
    removable = len(expanded) - len(expanded.lstrip(" "))
    return expanded[min(indent, removable) :]


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def prose(text: str) -> str:
    """``text`` with every fenced block's lines (fences included) blanked; lines keep their
    numbers, so what is found here can be reported at its line."""
    lines = text.splitlines()
    for block in fenced_blocks(text):
        for index in range(block.line - 1, block.end):
            lines[index] = ""
    return "\n".join(lines) + "\n"


def line_of(text: str, offset: int) -> int:
    """The 1-based line of a character offset."""
    return text.count("\n", 0, offset) + 1


def comments(text: str) -> list[Comment]:
    """Every HTML comment outside fenced blocks, in document order."""
    outside = prose(text)
    return [
        Comment(line_of(outside, found.start()), line_of(outside, found.end()), found["body"])
        for found in COMMENT.finditer(outside)
    ]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: the text as shown, lower-cased, with every character
    but letters, digits, ``-`` and ``_`` removed and each space made a ``-``."""
    shown = INLINE_LINK.sub(lambda link: link["text"], heading).lower()
    kept = [
        "-" if char == " " else char
        for char in shown
        if char in " -_" or unicodedata.category(char)[0] in "LMN"
    ]
    return "".join(kept)


def anchors(text: str) -> set[str]:
    """The anchors a link may name in ``text``: its headings' (a repeated heading's second
    anchor gets ``-1``, as on GitHub) and the names and ids of its ``<a>`` tags."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    outside = prose(text)
    for line in outside.splitlines():
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading["text"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(HTML_ID.findall(outside))
    return found


def links(text: str) -> list[Link]:
    """The relative links of ``text``, inline and reference-style, outside code, in order.

    Links with a scheme (``https:``, ``mailto:``) or to another host (``//…``) are left out:
    only the repository's own files can be checked offline.
    """
    outside = INLINE_CODE.sub(lambda code: re.sub(r"[^\n]", " ", code[0]), prose(text))
    found = [
        Link(line_of(outside, match.start()), match["target"])
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION)
        for match in pattern.finditer(outside)
    ]
    relative = [
        link for link in found if not SCHEME.match(link.target) and not link.target.startswith("//")
    ]
    return sorted(relative, key=lambda link: link.line)
