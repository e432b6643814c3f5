"""PDF/A extension schemas declared in an XMP packet (ISO 19005-2 6.6.2.3.2 and 6.6.2.3.3).

A file may use properties outside the predefined schemas if its XMP declares them in the
extension schema container ``pdfaExtension:schemas``: a Bag of schema descriptions
(``pdfaSchema``), each listing its properties (``pdfaProperty``) and any value types of its own
(``pdfaType``, with fields ``pdfaField``). This module reads those declarations, so that the
properties they declare become valid, and checks the container itself against 6.6.2.3.3's tables:
every field present with its required prefix and type, and no field the tables do not define
(6.6.2.3.2-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tasks.pdfcheck.xmp_rdf import Node
from tasks.pdfcheck.xmp_schemas import NS, simplified
from tasks.pdfcheck.xmp_types import ValueTypes

Problem = tuple[str, str]  # (rule id, message)

# The fields each description may have: name -> (required, the rule it falls under, form it must have)
_SCHEMA_FIELDS = {"schema": (True, "6.6.2.3.3-2", "text"), "namespaceURI": (True, "6.6.2.3.3-3", "text"),
                  "prefix": (True, "6.6.2.3.3-4", "text"), "property": (False, "6.6.2.3.3-5", "Seq"),
                  "valueType": (False, "6.6.2.3.3-6", "Seq")}
_PROPERTY_FIELDS = {"name": (True, "6.6.2.3.3-7", "text"), "valueType": (True, "6.6.2.3.3-8", "text"),
                    "category": (True, "6.6.2.3.3-9", "text"), "description": (True, "6.6.2.3.3-10", "text")}
_TYPE_FIELDS = {"type": (True, "6.6.2.3.3-11", "text"), "namespaceURI": (True, "6.6.2.3.3-12", "text"),
                "prefix": (True, "6.6.2.3.3-13", "text"), "description": (True, "6.6.2.3.3-14", "text"),
                "field": (False, "6.6.2.3.3-15", "Seq")}
_FIELD_FIELDS = {"name": (True, "6.6.2.3.3-16", "text"), "valueType": (True, "6.6.2.3.3-17", "text"),
                 "description": (True, "6.6.2.3.3-18", "text")}


@dataclass
class Extensions:
    """What one packet's extension schemas declare."""

    properties: dict[tuple[str, str], str] = field(default_factory=dict)  # (ns, name) -> value type
    structs: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # type -> (ns, fields)
    problems: list[Problem] = field(default_factory=list)

    def merged(self, other: Extensions) -> Extensions:
        return Extensions({**other.properties, **self.properties}, {**other.structs, **self.structs})


def is_container(node: Node) -> bool:
    return node.ns == NS["pdfaExtension"]


def read_extensions(properties: list[Node]) -> Extensions:
    """The declarations in a packet's top-level properties, and what is wrong with the container."""
    found = Extensions()
    for node in filter(is_container, properties):
        if node.name != "schemas":
            found.problems.append(("6.6.2.3.2-1", f"{node.label} is not part of the extension schema container"))
            continue
        if node.kind != "Bag" or node.prefix != "pdfaExtension":
            found.problems.append(("6.6.2.3.3-1", f"{node.label} is a {node.kind}, written with prefix "
                                   f"{node.prefix!r}; it must be a Bag with prefix 'pdfaExtension'"))
        if node.kind in ("Bag", "Seq", "Alt"):
            for schema in node.children:
                _read_schema(schema, found)
    return found


def undeclared_types(found: Extensions, types: ValueTypes) -> list[Problem]:
    """6.6.2.3.3-8, -17: value types of declared properties and fields that nobody defines.

    *types* knows the value types this packet may use: its own and those of the catalog's packet.
    """
    problems = [("6.6.2.3.3-8", f"the value type {kind!r} of the extension property {{{ns}}}{name} "
                 "is neither predefined nor declared")
                for (ns, name), kind in found.properties.items() if not types.known(kind)]
    problems += [("6.6.2.3.3-17", f"the value type {field_type!r} of field {name} of the extension value "
                  f"type {kind!r} is neither predefined nor declared")
                 for kind, (_ns, fields) in found.structs.items()
                 for name, field_type in fields.items() if not types.known(field_type)]
    return problems


def _read_schema(schema: Node, found: Extensions) -> None:
    fields = dict(_fields(schema, "pdfaSchema", _SCHEMA_FIELDS, found.problems))
    namespace = _text(fields.get("namespaceURI"))
    for value_type in _items(fields.get("valueType")):
        type_fields = dict(_fields(value_type, "pdfaType", _TYPE_FIELDS, found.problems))
        declared: dict[str, str] = {}
        for item in _items(type_fields.get("field")):
            field_fields = dict(_fields(item, "pdfaField", _FIELD_FIELDS, found.problems))
            field_name, field_type = _text(field_fields.get("name")), _text(field_fields.get("valueType"))
            if field_name and field_type:
                declared[field_name] = field_type
        name, ns = _text(type_fields.get("type")), _text(type_fields.get("namespaceURI"))
        if name and ns and declared:
            found.structs[simplified(name)] = (ns, declared)
    for prop in _items(fields.get("property")):
        prop_fields = dict(_fields(prop, "pdfaProperty", _PROPERTY_FIELDS, found.problems))
        name, kind = _text(prop_fields.get("name")), _text(prop_fields.get("valueType"))
        category = _text(prop_fields.get("category"))
        if "category" in prop_fields and category not in ("internal", "external"):
            found.problems.append(("6.6.2.3.3-9", f"pdfaProperty:category of {name!r} is {category!r}, "
                                   "not 'internal' or 'external'"))
        if namespace and name and kind:
            found.properties[(namespace, name)] = kind


def _fields(struct: Node, prefix: str, spec: dict[str, tuple[bool, str, str]],
            problems: list[Problem]) -> Iterator[tuple[str, Node]]:
    """The known fields of one description; what is missing, mistyped or unknown goes to *problems*.

    Yields nothing for a description that is not a structure at all.
    """
    ns = NS[prefix]
    if struct.kind != "struct":
        problems.append(("6.6.2.3.2-1", f"a {prefix} description is a {struct.kind} value, not a structure"))
        return
    for child in struct.children:
        if child.ns != ns or child.name not in spec:
            problems.append(("6.6.2.3.2-1", f"{child.label} is not a field of a {prefix} description"))
    for name, (required, rule, form) in spec.items():
        child = struct.field_named(ns, name)
        if child is None:
            if required:
                problems.append((rule, f"{prefix}:{name} is missing"))
            continue
        if child.prefix != prefix or (child.kind != "simple" if form == "text" else child.kind != form):
            problems.append((rule, f"{child.label} is a {child.kind} value written with prefix {child.prefix!r}; "
                             f"it must be {'Text' if form == 'text' else form} with prefix {prefix!r}"))
        yield name, child


def _items(node: Node | None) -> list[Node]:
    return node.children if node is not None and node.kind in ("Seq", "Bag", "Alt") else []


def _text(node: Node | None) -> str | None:
    return node.value if node is not None and node.kind == "simple" else None
