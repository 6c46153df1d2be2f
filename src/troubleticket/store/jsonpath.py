"""TMF630 Part 6 JSONPath list filters, translated into the attribute filters' :class:`Filter`.

A list request may carry ``filter=<JSONPath>``, such as ``filter=note[?(@.author=='Jane')]``: a
resource is selected when at least one element the path reaches satisfies the predicate, and the
resource is returned whole. This module owns :func:`parse_jsonpath_filter`, which reads the
common forms of such an expression into the same :class:`~troubleticket.store.query.Filter` the
attribute filters produce, so every store compiler and the reference evaluator
:func:`~troubleticket.store.query.matches` handle it with no new code. It is pure: no store, no
HTTP.

Accepted: an optional ``$`` or ``$.``, a dotted attribute path (names as the attribute filters
accept them) and exactly one predicate ``[?( ... )]``; or the predicate alone, on the resource
itself (``$[?(...)]``, ``[?(...)]``). Inside the predicate: comparisons of ``@.attribute.path``
with a literal (on either side) by ``== != < <= > >=``, or by ``=~ /regex/``, combined with
``&&``, ``||`` (``&&`` binding tighter) and parentheses. The translation is the conjunctive
normal form of the predicate, with the path prepended to every ``@.`` path; it may hold at most
``query.MAX_TERMS`` comparisons once expanded.

Other JSONPath (indexes, wildcards, slices, unions, recursive descent, functions, ``!``,
``null``, existence tests, steps after the predicate) raises NotSupported (501); text that is
not JSONPath at all (unbalanced brackets or quotes, an empty predicate) raises InvalidRequest
(400).

The meaning is kept exactly, or the expression is refused:

* A :class:`Filter` cannot tie two comparisons to one array element.
  ``relatedParty[?(@.role=='customer' && @.partyOrPartyRole.id=='42')]`` asks for ONE party that
  is both; the Filter could only say "some party is a customer and some party, maybe another,
  has id 42". So ``&&`` under a path is refused, with a hint to send separate attribute filters
  if the looser meaning is what the client wants. On the root predicate the element is the
  resource itself and ``&&`` is exact. ``||`` distributes over "some element", so it is exact
  everywhere.
* ``!=`` under a path is refused for the same reason: it asks for some element that differs,
  while a Filter's ``ne`` holds when no element equals (and when there is no element at all).
  On the root predicate it is the attribute filters' ``ne``.
* ``=~`` follows Jayway JsonPath, where the pattern must match the whole value; the attribute
  filters' ``regex`` searches, so the pattern is sent anchored, as ``\\A(?:pattern)\\z``. Flags
  after the closing ``/`` are refused; RE2's inline flags, such as a leading ``(?i)``, work.

Literals are sent on as text, like attribute filter literals: the stored value's type decides how
they compare (so ``@.amount==300`` and ``@.amount=='300'`` select alike, where a strict JSONPath
engine would tell them apart). A ``@.`` path that steps through an array inside the element is
read as the attribute filters read it: some value there satisfies the comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from troubleticket.domain.errors import InvalidRequest, NotSupported
from troubleticket.store.query import (
    MAX_REGEX_LENGTH,
    MAX_TERMS,
    MAX_VALUE_LENGTH,
    AnyOf,
    Comparison,
    Filter,
    Op,
    compare,
)

# The attribute name syntax of query.py's filters and sort keys (kept in step by a test).
_SEGMENT = re.compile(r"[@A-Za-z_][A-Za-z0-9_@-]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"\s*-?[0-9]+\s*")
_QUOTED = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*""")

_ANCHORED = "\\A(?:{})\\z"
_MAX_PATTERN_LENGTH = MAX_REGEX_LENGTH - len(_ANCHORED.format(""))
_MAX_NESTING = 16
_SHOWN_LENGTH = 80
_WHITESPACE = " \t\r\n"
# What may come right after an @ path: the start of an operator, a ')' or the predicate's ']'.
_PATH_FOLLOWERS = "=!<>&|)]"

_FLIPPED = {Op.EQ: Op.EQ, Op.NE: Op.NE, Op.LT: Op.GT, Op.GT: Op.LT, Op.LTE: Op.GTE, Op.GTE: Op.LTE}
_TWO_CHAR_TOKENS = {
    "==": "op",
    "!=": "op",
    "<=": "op",
    ">=": "op",
    "=~": "match",
    "&&": "and",
    "||": "or",
}
_ONE_CHAR_TOKENS = {"<": "op", ">": "op", "!": "not", "(": "(", ")": ")", "]": "]"}
_OPS = {"==": Op.EQ, "!=": Op.NE, "<=": Op.LTE, ">=": Op.GTE, "<": Op.LT, ">": Op.GT}
# Jayway JsonPath's word operators: JSONPath a client may well send, so 501 rather than 400.
_WORD_OPERATORS = frozenset(
    {"in", "nin", "subsetof", "anyof", "noneof", "all", "size", "empty", "contains"}
)
_SUPPORTED = (
    "; supported: path[?(@.attribute <op> literal)] with ==, !=, <, <=, >, >=, =~ /regex/, "
    "&& and ||"
)


def parse_jsonpath_filter(expression: str) -> Filter:
    """Translate a TMF630 Part 6 ``filter=`` JSONPath expression into a :class:`Filter`.

    ``note[?(@.author=='Jane' || @.author=='John')]`` becomes one group of two ``eq``
    comparisons on ``note.author``; ``[?(@.status=='resolved' && @.severity=='Major')]`` two
    groups of one. The module docstring lists what is accepted and what each form means.

    Raises:
        InvalidRequest: the expression is not JSONPath (unbalanced brackets or quotes, an empty
            predicate, trailing text...), or it expands to more than MAX_TERMS comparisons, or a
            literal or regular expression is too long or invalid.
        NotSupported: valid JSONPath this translation does not offer, or could not translate
            without changing its meaning; the message names what.
    """
    parser = _Parser(expression.strip(_WHITESPACE))
    prefix, predicate = parser.parse()
    if prefix and parser.has_conjunction:
        raise NotSupported(
            "JSONPath conditions on the same array element combined with && are not supported; "
            "send them as separate attribute filters (which may match different elements) "
            f"(in the JSONPath filter {_shown(parser.text)})"
        )
    return Filter(tuple(AnyOf(clause) for clause in _conjunctive(predicate, parser.text)))


# ---------------------------------------------------------------------------------------------
# The predicate as a tree, and its conjunctive normal form


@dataclass(frozen=True, slots=True)
class _And:
    parts: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Or:
    parts: tuple[_Node, ...]


_Node = Comparison | _And | _Or
_Clause = tuple[Comparison, ...]


def _conjunctive(node: _Node, text: str) -> list[_Clause]:
    """``node`` as clauses that must all hold, each an OR of comparisons.

    The size of each OR expansion is checked before it is built; it never shrinks as the tree
    is folded up, so an oversized intermediate means an oversized result.
    """
    if isinstance(node, Comparison):
        return [(node,)]
    if isinstance(node, _And):
        return [clause for part in node.parts for clause in _conjunctive(part, text)]
    clauses: list[_Clause] = [()]
    for part in node.parts:
        forms = _conjunctive(part, text)
        total = sum(len(clause) for clause in clauses) * len(forms) + sum(
            len(form) for form in forms
        ) * len(clauses)
        if total > MAX_TERMS:
            raise InvalidRequest(
                f"The JSONPath filter {_shown(text)} expands to more than {MAX_TERMS} comparisons"
            )
        clauses = [clause + form for clause in clauses for form in forms]
    return clauses


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class _Token:
    """One predicate token; ``kind`` is ``path``, ``literal``, ``op``, ``match``, ``and``, ``or``,
    ``not``, ``(``, ``)``, ``]`` or ``end``."""

    kind: str
    start: int
    text: str = ""
    path: tuple[str, ...] = ()
    value: str = ""


class _Parser:
    """A recursive descent parser that reads tokens on demand, so the first problem from the
    left is the one reported."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.prefix: tuple[str, ...] = ()
        self.comparisons = 0
        self.depth = 0
        self.has_conjunction = False
        self._peeked: _Token | None = None
        # The kind of the last token taken; "?" until the predicate's first one.
        self.last_kind = "?"

    # -- errors

    def malformed(self, what: str, at: int) -> InvalidRequest:
        return InvalidRequest(
            f"Malformed JSONPath filter {_shown(self.text)}: {what} at position {at + 1}"
        )

    def unsupported(self, what: str, hint: str = _SUPPORTED) -> NotSupported:
        return NotSupported(f"{what} (in the JSONPath filter {_shown(self.text)}){hint}")

    # -- the path and the predicate around it

    def parse(self) -> tuple[tuple[str, ...], _Node]:
        if not self.text:
            raise InvalidRequest("The JSONPath filter is empty")
        self.prefix = self.parse_prefix()
        # parse_prefix stops on the '[' of a '[?'.
        self.pos = self.skip_whitespace(self.pos + 1) + 1
        predicate = self.parse_or()
        closing = self.next()
        if closing.kind == "end":
            raise self.malformed("missing ']' closing the predicate", closing.start)
        if closing.kind != "]":
            raise self.malformed(f"unexpected {_described(closing)}", closing.start)
        rest = self.text[self.pos :]
        if rest[:1] in (".", "["):
            raise self.unsupported(
                "JSONPath steps after the filter predicate are not supported; the resource is "
                "returned whole",
                hint="",
            )
        if rest:
            raise self.malformed(f"unexpected {_shown(rest)} after the predicate", self.pos)
        return self.prefix, predicate

    def parse_prefix(self) -> tuple[str, ...]:
        """The dotted path before the predicate, leaving ``pos`` on the predicate's ``[``."""
        text = self.text
        segments: list[str] = []
        if text.startswith("$"):
            self.pos = 1
            if text[1:2] == ".":
                self.pos = 2
                if text[2:3] == ".":
                    raise self.unsupported("JSONPath recursive descent (..) is not supported")
                segments.append(self.segment())
            elif text[1:2] not in ("[", ""):
                raise self.malformed("'$' must be followed by '.' or '['", 1)
        elif not text.startswith("["):
            segments.append(self.segment())
        while True:
            char = text[self.pos : self.pos + 1]
            if char == "":
                raise self.unsupported(
                    "A JSONPath without a filter predicate [?(...)] is not supported"
                )
            if char == "[":
                after = self.skip_whitespace(self.pos + 1)
                if text[after : after + 1] == "?":
                    return tuple(segments)
                raise self.bracket_refusal(self.pos)
            if char == ".":
                if text[self.pos + 1 : self.pos + 2] == ".":
                    raise self.unsupported("JSONPath recursive descent (..) is not supported")
                self.pos += 1
                segments.append(self.segment())
            elif char == "(":
                raise self.unsupported("JSONPath functions are not supported")
            else:
                raise self.malformed(f"unexpected {char!r}", self.pos)

    def segment(self) -> str:
        """The attribute name at ``pos``, which is moved past it."""
        if self.text[self.pos : self.pos + 1] == "*":
            raise self.unsupported("JSONPath wildcards (*) are not supported")
        found = _SEGMENT.match(self.text, self.pos)
        if found is None:
            raise self.malformed("expected an attribute name", self.pos)
        self.pos = found.end()
        return found.group()

    def bracket_refusal(self, start: int) -> InvalidRequest | NotSupported:
        """The error for a bracket selector other than a filter, at ``start`` (its ``[``)."""
        end = self.closing_bracket(start)
        if end is None:
            return self.malformed("unbalanced '['", start)
        content = self.text[start + 1 : end]
        stripped = content.strip(_WHITESPACE)
        if stripped.startswith("?"):
            return self.unsupported("Nested JSONPath filter predicates are not supported")
        if stripped == "*":
            return self.unsupported("JSONPath wildcards (*) are not supported")
        if _QUOTED.fullmatch(content):
            return self.unsupported(
                "JSONPath bracket-notation names are not supported; use dotted names"
            )
        if "," in content:
            return self.unsupported("JSONPath unions ([a,b]) are not supported")
        if ":" in content:
            return self.unsupported("JSONPath array slices ([start:end]) are not supported")
        if _INDEX.fullmatch(content):
            return self.unsupported("JSONPath array indexes ([n]) are not supported")
        if stripped.startswith("("):
            return self.unsupported("JSONPath script expressions [(...)] are not supported")
        return self.malformed(f"invalid selector {_shown('[' + content + ']')}", start)

    def closing_bracket(self, start: int) -> int | None:
        """The index of the ``]`` matching the ``[`` at ``start``, skipping quoted text."""
        depth = 0
        index = start
        text = self.text
        while index < len(text):
            char = text[index]
            if char in "'\"":
                index = self.string_end(index)
                if index < 0:
                    return None
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
                if depth == 0:
                    return index
            index += 1
        return None

    def string_end(self, start: int) -> int:
        """The index of the quote closing the string opened at ``start``, or -1."""
        quote = self.text[start]
        index = start + 1
        while index < len(self.text):
            char = self.text[index]
            if char == "\\":
                index += 2
                continue
            if char == quote:
                return index
            index += 1
        return -1

    def skip_whitespace(self, index: int) -> int:
        while index < len(self.text) and self.text[index] in _WHITESPACE:
            index += 1
        return index

    # -- the predicate's grammar

    def parse_or(self) -> _Node:
        parts = [self.parse_and()]
        while self.peek().kind == "or":
            self.next()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else _Or(tuple(parts))

    def parse_and(self) -> _Node:
        parts = [self.parse_unary()]
        while self.peek().kind == "and":
            self.next()
            self.has_conjunction = True
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else _And(tuple(parts))

    def parse_unary(self) -> _Node:
        token = self.peek()
        if token.kind == "not":
            raise self.unsupported("JSONPath negation (!) is not supported")
        if token.kind != "(":
            return self.parse_comparison()
        self.next()
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise self.malformed(f"parentheses nested more than {_MAX_NESTING} deep", token.start)
        node = self.parse_or()
        closing = self.next()
        if closing.kind != ")":
            raise self.malformed(
                f"expected ')' for the '(' at position {token.start + 1}, "
                f"found {_described(closing)}",
                closing.start,
            )
        self.depth -= 1
        return node

    def parse_comparison(self) -> Comparison:
        previous = self.last_kind
        left = self.next()
        if left.kind not in ("path", "literal"):
            if previous in ("?", "(") and left.kind in (")", "]", "end"):
                raise self.malformed("empty predicate", left.start)
            raise self.malformed(f"expected a comparison, found {_described(left)}", left.start)
        operator = self.peek()
        if operator.kind not in ("op", "match"):
            if operator.kind in ("and", "or", ")", "]", "end"):
                if left.kind == "path":
                    raise self.unsupported(
                        "JSONPath existence tests (a bare @.attribute) are not supported"
                    )
                raise self.unsupported(
                    "A JSONPath predicate that is a bare literal is not supported"
                )
            raise self.malformed(
                f"expected a comparison operator, found {_described(operator)}", operator.start
            )
        self.next()
        if operator.kind == "match":
            if left.kind != "path":
                raise self.malformed("'=~' needs an @ path on its left", operator.start)
            return self.comparison(left, Op.REGEX, self.regex_literal())
        right = self.next()
        if right.kind not in ("path", "literal"):
            raise self.malformed(f"expected a literal, found {_described(right)}", right.start)
        if left.kind == right.kind == "path":
            raise self.unsupported("JSONPath comparisons between two attributes are not supported")
        if left.kind == right.kind == "literal":
            raise self.unsupported(
                "JSONPath comparisons without an @ path on either side are not supported"
            )
        op = _OPS[operator.text]
        if left.kind == "literal":
            left, right, op = right, left, _FLIPPED[op]
        return self.comparison(left, op, right.value)

    def comparison(self, path: _Token, op: Op, value: str) -> Comparison:
        if not path.path:
            raise self.unsupported(
                "JSONPath comparisons of the current element itself (@) are not supported; "
                "compare one of its attributes (@.name)"
            )
        if op is Op.NE and self.prefix:
            name = ".".join(self.prefix + path.path)
            raise self.unsupported(
                "JSONPath != on array elements is not supported: it asks for some element that "
                f"differs, and the attribute filter {name}.ne=... means that no element equals",
                hint="",
            )
        self.comparisons += 1
        if self.comparisons > MAX_TERMS:
            raise InvalidRequest(
                f"The JSONPath filter {_shown(self.text)} holds more than {MAX_TERMS} comparisons"
            )
        return Comparison(self.prefix + path.path, op, value)

    # -- tokens

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self.lex()
        return self._peeked

    def next(self) -> _Token:
        token = self.peek()
        self._peeked = None
        self.last_kind = token.kind
        return token

    def lex(self) -> _Token:
        text = self.text
        start = self.pos = self.skip_whitespace(self.pos)
        if start == len(text):
            return _Token("end", start)
        pair = text[start : start + 2]
        if pair in _TWO_CHAR_TOKENS:
            self.pos += 2
            return _Token(_TWO_CHAR_TOKENS[pair], start, pair)
        char = text[start]
        if char in _ONE_CHAR_TOKENS:
            self.pos += 1
            return _Token(_ONE_CHAR_TOKENS[char], start, char)
        if char in "'\"":
            return self.string_literal()
        if char == "-" or char.isdigit():
            return self.number_literal()
        if char == "@":
            return self.at_path()
        if char == "$":
            raise self.unsupported("JSONPath root ($) paths inside a predicate are not supported")
        word = _WORD.match(text, start)
        if word is not None:
            return self.word(word.group())
        if char in "=&|":
            raise self.malformed(f"a lone {char!r} (operators are ==, &&, ||)", start)
        raise self.malformed(f"unexpected {char!r}", start)

    def string_literal(self) -> _Token:
        start = self.pos
        quote = self.text[start]
        chars: list[str] = []
        index = start + 1
        while True:
            if index >= len(self.text):
                raise self.malformed("unterminated string", start)
            char = self.text[index]
            if char == quote:
                break
            if char == "\\":
                escaped = self.text[index + 1 : index + 2]
                if escaped == "":
                    raise self.malformed("unterminated string", start)
                if escaped not in ("'", '"', "\\"):
                    raise self.unsupported(
                        f"The escape \\{escaped} in a JSONPath string is not supported; only "
                        "\\', \\\" and \\\\ are",
                        hint="",
                    )
                chars.append(escaped)
                index += 2
                continue
            chars.append(char)
            index += 1
        self.pos = index + 1
        return self.literal("".join(chars), start)

    def number_literal(self) -> _Token:
        start = self.pos
        found = _NUMBER.match(self.text, start)
        end = found.end() if found is not None else start
        following = self.text[end : end + 1]
        if found is None or following.isalnum() or following in ("_", "."):
            raise self.malformed("invalid number", start)
        self.pos = end
        return self.literal(found.group(), start)

    def literal(self, value: str, start: int) -> _Token:
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidRequest(
                f"A literal in the JSONPath filter {_shown(self.text)} is longer than "
                f"{MAX_VALUE_LENGTH} characters"
            )
        return _Token("literal", start, self.text[start : self.pos], value=value)

    def word(self, word: str) -> _Token:
        start = self.pos
        after = self.skip_whitespace(start + len(word))
        if word in ("true", "false"):
            self.pos = start + len(word)
            return self.literal(word, start)
        if word == "null":
            raise self.unsupported("JSONPath null literals are not supported")
        if self.text[after : after + 1] == "(":
            raise self.unsupported(f"JSONPath functions ({word}()) are not supported")
        if word in _WORD_OPERATORS:
            raise self.unsupported(f"The JSONPath operator {word!r} is not supported")
        raise self.malformed(f"unquoted word {_shown(word)}", start)

    def at_path(self) -> _Token:
        """``@`` and its dotted names; ``@`` alone is the element itself (empty path).

        ``@size`` is read as ``@.size``: TMF621's own example filter
        (``attachment[?(@size==300)]``) writes the first name so.
        """
        start = self.pos
        self.pos += 1
        segments: list[str] = []
        if _WORD.match(self.text, self.pos) is not None:
            segments.append(self.segment())
        while True:
            char = self.text[self.pos : self.pos + 1]
            if char == ".":
                if self.text[self.pos + 1 : self.pos + 2] == ".":
                    raise self.unsupported("JSONPath recursive descent (..) is not supported")
                self.pos += 1
                segments.append(self.segment())
            elif char == "[":
                raise self.bracket_refusal(self.pos)
            elif char == "(":
                raise self.unsupported("JSONPath functions are not supported")
            elif char == "" or char in _WHITESPACE or char in _PATH_FOLLOWERS:
                return _Token("path", start, self.text[start : self.pos], tuple(segments))
            else:
                raise self.malformed(f"unexpected {char!r} in an attribute path", self.pos)

    def regex_literal(self) -> str:
        """The ``/pattern/`` after ``=~``, anchored, checked and compiled once."""
        start = self.pos = self.skip_whitespace(self.pos)
        if self.text[start : start + 1] != "/":
            raise self.malformed("'=~' must be followed by a regex literal /pattern/", start)
        index = start + 1
        while True:
            if index >= len(self.text):
                raise self.malformed("unterminated regex literal", start)
            char = self.text[index]
            if char == "/":
                break
            index += 2 if char == "\\" else 1
        pattern = self.text[start + 1 : index]
        flags = _WORD.match(self.text, index + 1)
        if flags is not None:
            raise self.unsupported(
                f"JSONPath regex flags ({flags.group()}) are not supported; RE2 inline flags "
                "such as a leading (?i) are",
                hint="",
            )
        self.pos = index + 1
        if len(pattern) > _MAX_PATTERN_LENGTH:
            raise InvalidRequest(
                f"A regular expression in the JSONPath filter {_shown(self.text)} is longer than "
                f"{_MAX_PATTERN_LENGTH} characters"
            )
        anchored = _ANCHORED.format(pattern)
        # compare() compiles the pattern, raising InvalidRequest as the attribute filters do; the
        # bare pattern first, so one that only compiles once wrapped (a stray ')') is refused.
        for candidate in (pattern, anchored):
            try:
                compare("", Op.REGEX, candidate)
            except InvalidRequest as exc:
                raise InvalidRequest(
                    f"Invalid regular expression {_shown('/' + pattern + '/')} in the JSONPath "
                    f"filter {_shown(self.text)}"
                ) from exc
        return anchored


def _described(token: _Token) -> str:
    return "the end" if token.kind == "end" else _shown(token.text)


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut short so a huge input is not echoed back."""
    if len(text) > _SHOWN_LENGTH:
        return repr(text[:_SHOWN_LENGTH] + "...")
    return repr(text)
