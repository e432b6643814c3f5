"""Does an XMP value have the form and content its value type requires (ISO 19005-2 6.6.2.3.1-2)?"""

from __future__ import annotations

import re

from tasks.pdfcheck.xmp_rdf import Node
from tasks.pdfcheck.xmp_schemas import ARRAYS, CLOSED, CLOSED_SEQS, SEQ_PATTERNS, SIMPLE, STRUCTS, simplified

_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ARRAY_KIND = {"bag": "Bag", "seq": "Seq", "alt": "Alt"}


class ValueTypes:
    """The value types known in one XMP packet: the predefined ones plus those its extension schemas declare.

    ``closed`` also checks the values of closed choices (``tiff:Orientation`` 1-8, ...).
    """

    def __init__(self, structs: dict[str, tuple[str, dict[str, str]]] | None = None, closed: bool = True) -> None:
        self.structs = {**STRUCTS, **(structs or {})}
        self.closed = closed

    def known(self, type_name: str) -> bool:
        kind = simplified(type_name)
        while kind.split(" ", 1)[0] in ARRAYS and " " in kind:
            kind = kind.split(" ", 1)[1]
        return kind in SIMPLE or kind in self.structs or kind in ("lang alt", "any")

    def valid(self, node: Node, type_name: str, key: tuple[str, str] | None = None) -> bool:
        """Whether *node* is a value of *type_name*; *key* (ns, name) selects its closed choice, if any."""
        kind = simplified(type_name)
        head, _, item_type = kind.partition(" ")
        if kind == "any":
            return True
        if kind == "lang alt":
            return node.kind == "Alt" and (not node.children or any(_LANG in c.qualifiers for c in node.children))
        if head in ARRAYS and item_type:
            return (node.kind == _ARRAY_KIND[head] and all(self.valid(c, item_type) for c in node.children)
                    and self._closed_array(node, key))
        if kind in SIMPLE:
            return node.kind == "simple" and re.fullmatch(SIMPLE[kind], node.value) is not None \
                and self._closed_value(node.value, key)
        if kind in self.structs:
            ns, fields = self.structs[kind]
            return node.kind == "struct" and all(
                c.ns == ns and c.name in fields and self.valid(c, fields[c.name], (c.ns, c.name))
                for c in node.children)
        return False

    def _closed_value(self, value: str, key: tuple[str, str] | None) -> bool:
        if not self.closed or key not in CLOSED:
            return True
        return re.fullmatch(CLOSED[key], value) is not None

    def _closed_array(self, node: Node, key: tuple[str, str] | None) -> bool:
        if not self.closed or key is None:
            return True
        items = tuple(c.value for c in node.children)
        if key in CLOSED_SEQS and items not in CLOSED_SEQS[key]:
            return False
        pattern = SEQ_PATTERNS.get(key)
        return pattern is None or all(re.fullmatch(pattern, item) for item in items)
