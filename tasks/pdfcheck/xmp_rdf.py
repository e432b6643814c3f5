"""An XMP packet read into a tree of properties, keeping the form every value is written in.

XMP is RDF/XML, and the same property can be written several ways: as an attribute of
``rdf:Description``, as an element with text, as ``rdf:Bag``/``rdf:Seq``/``rdf:Alt`` of
``rdf:li``, as a structure (``rdf:parseType="Resource"``, a nested ``rdf:Description``, or
attributes on the property element), or as ``rdf:value`` with qualifiers. Value types can only be
checked on that form, so the reader keeps it (``Node.kind``), and keeps the prefix each name was
written with, because ISO 19005-2 6.6.2.3.3 and 6.6.4 require particular prefixes.

The parser resolves no entities and reads nothing from the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
_LANG = f"{{{XML}}}lang"
_RDF_SYNTAX_ATTRS = {f"{{{RDF}}}{name}" for name in ("about", "ID", "nodeID", "parseType", "resource", "datatype")}
_ARRAY_KINDS = {f"{{{RDF}}}{kind}": kind for kind in ("Bag", "Seq", "Alt")}

Kind = Literal["simple", "Bag", "Seq", "Alt", "struct"]


class RdfError(ValueError):
    """The packet is not XMP-conforming RDF/XML (ISO 19005-2 6.6.2.1-4)."""


@dataclass
class Node:
    """One property, array item, structure field or qualifier."""

    ns: str
    name: str
    prefix: str | None
    kind: Kind = "simple"
    value: str = ""
    children: list[Node] = field(default_factory=list)  # array items, or structure fields
    qualifiers: dict[str, str] = field(default_factory=dict)  # Clark name -> value (xml:lang, ...)

    @property
    def label(self) -> str:
        return f"{self.prefix or '{' + self.ns + '}'}:{self.name}"

    def field_named(self, ns: str, name: str) -> Node | None:
        return next((c for c in self.children if c.ns == ns and c.name == name), None)


def parse_packet(data: bytes) -> list[Node]:
    """The top-level properties of every rdf:Description in the packet, in document order."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise RdfError(f"the XMP packet is not well-formed XML: {exc}") from None
    if root is None:
        raise RdfError("the XMP packet is empty")
    rdf = root if root.tag == f"{{{RDF}}}RDF" else next(root.iter(f"{{{RDF}}}RDF"), None)
    if rdf is None:
        return []
    properties: list[Node] = []
    about: str | None = None
    for description in _elements(rdf):
        if description.tag != f"{{{RDF}}}Description":
            raise RdfError(f"rdf:RDF contains {_label(description)}, not rdf:Description")
        this = description.get(f"{{{RDF}}}about", "")
        if this and about and this != about:
            raise RdfError(f"the rdf:Description elements describe different resources: {about!r}, {this!r}")
        about = about or this
        properties += _attribute_fields(description)
        properties += [_property(child) for child in _elements(description)]
    return properties


def _elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _split(tag: str) -> tuple[str, str]:
    if not tag.startswith("{"):
        raise RdfError(f"{tag!r} has no namespace")
    ns, name = tag[1:].split("}", 1)
    return ns, name


def _label(element: etree._Element) -> str:
    ns, name = _split(element.tag)
    return f"{element.prefix or ns}:{name}"


def _attribute_fields(element: etree._Element) -> list[Node]:
    """Simple properties (or fields) written as attributes; xml: and rdf: syntax attributes excluded."""
    prefixes = {uri: prefix for prefix, uri in element.nsmap.items()}
    nodes = []
    for key, value in element.attrib.items():
        if key in _RDF_SYNTAX_ATTRS or key.startswith(f"{{{XML}}}"):
            continue
        ns, name = _split(key)
        if ns == RDF and name != "value":
            raise RdfError(f"rdf:{name} is not allowed as an attribute here")
        nodes.append(Node(ns, name, prefixes.get(ns), value=value))
    return nodes


def _property(element: etree._Element) -> Node:
    """A property element and its value, in whichever of the RDF forms XMP allows."""
    ns, name = _split(element.tag)
    if ns == RDF and name not in ("li", "value"):
        raise RdfError(f"rdf:{name} cannot be used as a property")
    node = Node(ns, name, element.prefix)
    if _LANG in element.attrib:
        node.qualifiers[_LANG] = element.attrib[_LANG]
    children = _elements(element)
    fields = _attribute_fields(element)
    resource = element.get(f"{{{RDF}}}resource")
    if element.get(f"{{{RDF}}}parseType") == "Resource":
        node.kind, node.children = "struct", fields + [_property(c) for c in children]
    elif resource is not None:
        if children or fields:
            raise RdfError(f"{node.label} has rdf:resource and content")
        node.value = resource
    elif children:
        if len(children) > 1 or (element.text or "").strip():
            raise RdfError(f"{node.label} has more than one value")
        _read_value(node, children[0])
    elif fields:
        if (element.text or "").strip():
            raise RdfError(f"{node.label} has both text and field attributes")
        node.kind, node.children = "struct", fields
    else:
        node.value = element.text or ""
    return node


def _read_value(node: Node, value: etree._Element) -> None:
    """The single child element of a property: an array, or an rdf:Description (structure or rdf:value)."""
    if value.tag in _ARRAY_KINDS:
        node.kind = _ARRAY_KINDS[value.tag]
        for item in _elements(value):
            if item.tag != f"{{{RDF}}}li":
                raise RdfError(f"{node.label} holds {_label(item)} where rdf:li is expected")
            node.children.append(_property(item))
    elif value.tag == f"{{{RDF}}}Description":
        fields = _attribute_fields(value) + [_property(c) for c in _elements(value)]
        main = next((f for f in fields if f.ns == RDF and f.name == "value"), None)
        if main is None:
            node.kind, node.children = "struct", fields
        else:  # a value with qualifiers: the qualifiers do not change its form
            node.kind, node.value, node.children = main.kind, main.value, main.children
            node.qualifiers.update({f"{{{f.ns}}}{f.name}": f.value for f in fields if f is not main})
    else:
        raise RdfError(f"{node.label} holds {_label(value)}, which is not an RDF container or description")
