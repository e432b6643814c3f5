"""The text of a capture, as the search indexes it.

- **pdf**: the archival PDF's text layer, i.e. the words the browser drew, from the capture's
  word files (``words-desktop.json``, then ``words-mobile.json``: page 1 and page 2 of
  ``startpage.pdf``), in the order they were drawn. Reading the word files rather than the PDF
  gives exactly the same words without parsing PDFs.
- **dom**: the page's title and the text of its DOM (``page.html``): everything in the page,
  also what was below the cut of a long feed; scripts, styles and templates left out; images'
  ``alt`` text kept.
"""

from __future__ import annotations

import json
import unicodedata

__all__ = ["MAX_TEXT", "dom_text", "words_text"]

MAX_TEXT = 2_000_000  # characters per source: a page's own text is far below; a runaway DOM is cut
_SKIPPED = ("script", "style", "noscript", "template", "svg", "head")


def words_text(body: bytes) -> str:
    """The words of one word file (``{"scale": .., "words": [[text, x, y, w, h], ...]}``), space-separated."""
    data = json.loads(body)
    words = data.get("words", []) if isinstance(data, dict) else []
    text = " ".join(str(w[0]) for w in words if isinstance(w, list | tuple) and w)
    return unicodedata.normalize("NFC", text)[:MAX_TEXT]


def dom_text(body: bytes, title: str | None = None) -> str:
    """The visible text of an HTML document (and its title first)."""
    import lxml.html
    from lxml import etree

    parts = [title] if title else []
    if body.strip():
        try:
            root = lxml.html.document_fromstring(body)
        except (etree.ParserError, ValueError):
            root = None
        if root is not None:
            for bad in root.xpath("|".join(f"//{tag}" for tag in _SKIPPED)):
                bad.drop_tree()
            for event, element in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
                if event != "start":  # the text after an element follows everything inside it
                    if element.tail and element is not root:
                        parts.append(element.tail)
                elif isinstance(element.tag, str):  # not a comment or processing instruction
                    if element.get("alt"):
                        parts.append(element.get("alt"))
                    if element.text:
                        parts.append(element.text)
    text = " ".join(" ".join(parts).split())
    return unicodedata.normalize("NFC", text)[:MAX_TEXT]
