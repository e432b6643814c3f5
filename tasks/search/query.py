"""The search language, read into an FTS5 expression over stems and a matcher for snippets.

    skolan                 the word in any form: skola, skolan, skolor, skolorna (Swedish stemming)
    "nya skolan"           a phrase: these words in this order, each in any form (nya skolor, ...)
    skol*                  a prefix of the word as written: skola, skolan, skolverket, skolbussen
    skolan bygget          both (every word must be there)
    skolan OR förskolan    either
    skolan -förskolan      the first, not where the second is

A single word is looked for under two stems: ours (Snowball + the definite -an, as the index is
built) and Snowball's own, so "vulkan" finds "vulkaner" too (tasks.search.stemmer). Inside a
phrase a prefix (``"nya skol*"``) is a prefix of the stem. Anything else is refused with a
``QueryError`` that says what is wrong, never passed to SQLite as it was typed: the FTS5
expression is built from quoted letters and digits only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.search.stemmer import stem, tokens

__all__ = ["Phrase", "Prefix", "Query", "QueryError", "Term", "parse_query"]

STEM_COLUMNS = "{pdf_stems dom_stems}"
WORD_COLUMNS = "{pdf_words dom_words}"
MIN_PREFIX = 2
MAX_CLAUSES = 32
_PIECE = re.compile(r'-?"[^"]*"\*?|\S+')


class QueryError(ValueError):
    """A search that cannot be read; the message says why, in one line."""


def _quoted(token: str) -> str:
    return f'"{token}"'  # tokens are letters and digits only: nothing to escape


@dataclass(frozen=True)
class Term:
    """One word, in any of its forms."""

    word: str
    stems: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stems", tuple(dict.fromkeys((stem(self.word), stem(self.word, False)))))

    def fts(self) -> str:
        inner = " OR ".join(_quoted(s) for s in self.stems)
        return f"{STEM_COLUMNS} : ({inner})"

    def hits(self, words: list[str], stems: list[str]) -> list[tuple[int, int]]:
        return [(i, i + 1) for i, s in enumerate(stems) if s in self.stems]


@dataclass(frozen=True)
class Prefix:
    """The beginning of a word as written (lower-case)."""

    prefix: str

    def fts(self) -> str:
        return f"{WORD_COLUMNS} : {_quoted(self.prefix)} *"

    def hits(self, words: list[str], stems: list[str]) -> list[tuple[int, int]]:
        return [(i, i + 1) for i, w in enumerate(words) if w.startswith(self.prefix)]


@dataclass(frozen=True)
class Phrase:
    """Words in this order, each in any form; the last may be a prefix of its stem."""

    words: tuple[str, ...]
    last_is_prefix: bool = False
    stems: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stems", tuple(stem(w) for w in self.words))

    def fts(self) -> str:
        parts = [_quoted(s) for s in self.stems]
        if self.last_is_prefix:
            parts[-1] += " *"
        return f"{STEM_COLUMNS} : " + " + ".join(parts)

    def hits(self, words: list[str], stems: list[str]) -> list[tuple[int, int]]:
        n, found = len(self.stems), []
        for i in range(len(stems) - n + 1):
            head_ok = stems[i:i + n - 1] == list(self.stems[:-1])
            last = stems[i + n - 1]
            if head_ok and (last.startswith(self.stems[-1]) if self.last_is_prefix else last == self.stems[-1]):
                found.append((i, i + n))
        return found


Node = Term | Prefix | Phrase


@dataclass(frozen=True)
class Query:
    """What was asked: groups that must all match (each group: any of its nodes), and what must not."""

    text: str
    groups: tuple[tuple[Node, ...], ...]
    excluded: tuple[Node, ...] = ()

    def fts(self) -> str:
        """The FTS5 MATCH expression."""
        positive = " AND ".join("(" + " OR ".join(n.fts() for n in group) + ")" for group in self.groups)
        if not self.excluded:
            return positive
        return f"({positive}) NOT (" + " OR ".join(n.fts() for n in self.excluded) + ")"

    def hits(self, words: list[str], stems: list[str]) -> list[tuple[int, int]]:
        """Where the wanted words are in a text, as (first, after-last) word positions."""
        return sorted({span for group in self.groups for node in group for span in node.hits(words, stems)})


def _node(piece: str) -> Node:
    """One word, prefix or phrase as typed."""
    if piece.startswith('"'):
        prefix = piece.endswith("*")
        inner = piece.rstrip("*")[1:-1]
        if "*" in inner.rstrip("*"):
            raise QueryError(f"{piece}: * may only end the last word of a phrase")
        prefix = prefix or inner.endswith("*")
        words = tuple(tokens(inner))
        if not words:
            raise QueryError(f"{piece}: the phrase has no letters or digits to search for")
        return Phrase(words, prefix) if len(words) > 1 or prefix else Term(words[0])
    prefix = piece.endswith("*")
    bare = piece.rstrip("*")
    if "*" in bare:
        raise QueryError(f"{piece!r}: * may only end a word (a prefix, like skol*)")
    words = tuple(tokens(bare))
    if not words:
        raise QueryError(f"{piece!r} has no letters or digits to search for")
    if len(words) > 1:  # 070-123 or skolan's: the parts in order
        return Phrase(words, prefix)
    if prefix:
        if len(words[0]) < MIN_PREFIX:
            raise QueryError(f"{piece!r}: a prefix needs at least {MIN_PREFIX} letters")
        return Prefix(words[0])
    return Term(words[0])


def parse_query(text: str) -> Query:
    """Read a search as typed; a QueryError says what is wrong with it."""
    if text.count('"') % 2:
        raise QueryError(f"unbalanced quote in {text!r}: a phrase is written \"nya skolan\"")
    pieces = _PIECE.findall(text)
    if not pieces:
        raise QueryError("the search is empty: say what to look for, e.g. skolan, \"nya skolan\" or skol*")
    if len(pieces) > MAX_CLAUSES:
        raise QueryError(f"the search has {len(pieces)} parts; at most {MAX_CLAUSES}")
    groups: list[list[Node]] = []
    excluded: list[Node] = []
    joining = False
    for i, piece in enumerate(pieces):
        if piece == "OR":
            if not groups or joining or i == len(pieces) - 1 or pieces[i - 1].startswith("-"):
                raise QueryError(f"OR must stand between two things to look for, in {text!r}")
            joining = True
            continue
        if piece.startswith("-") and len(piece) > 1:
            if joining:
                raise QueryError(f"OR cannot join a left-out word ({piece}) in {text!r}")
            excluded.append(_node(piece[1:]))
            continue
        node = _node(piece)
        if joining:
            groups[-1].append(node)
            joining = False
        else:
            groups.append([node])
    if not groups:
        raise QueryError(f"say what to look for, not only what to leave out: {text!r}")
    return Query(text, tuple(tuple(g) for g in groups), tuple(excluded))
