"""Read a YAML file into a typed model, with errors that name the file, the line and the field.

Used for the account register and the retention classes: the people who edit those files are
communicators and archivists, and "line 14, accounts[2].url: ..." is what they need to fix it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "Problem", "capped", "line_of", "load_model", "located_problems", "read_config_text",
           "validation_problems"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration file is broken; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the value at *loc* in a composed YAML tree (nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _duplicate_keys(node: yaml.Node, path: str, loc: tuple[Any, ...] = ()) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                merge = "; merge several with '<<: [*a, *b]'" if key.value == "<<" else ""
                problems.append(Problem(path, line, _field_name((*loc, key.value)),
                                        f"duplicate key (first at line {seen[key.value]}){merge}"))
            seen.setdefault(key.value, line)
            problems += _duplicate_keys(value, path, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, path, (*loc, i))
    return problems


MAX_BYTES = 16 * 1024 * 1024  # a national register of 15 000 accounts is about 4 MB
MAX_DEPTH = 100  # levels of nesting; the register is four deep
TOO_DEEP = (f"values nested more than {MAX_DEPTH} levels deep: not read "
            "(a register or retention file is a few levels deep)")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, in PyYAML's wheels: the same YAML, 3x faster
MAX_NODES = 2_000_000  # values once aliases are expanded (15 000 accounts: ~330 000); a 'billion laughs'
                       # document (hundreds of millions) is refused, not walked
MAX_TEXT = 4 * MAX_BYTES  # characters of text once aliases are expanded: an alias of a long value, used many
                          # times, stands for that much text in whatever reads or publishes the register
MAX_PROBLEMS = 50  # problems listed one by one; the rest are counted (a file of 100 000 wrong keys)
TOO_MANY = (f"more than {MAX_NODES} values: not read (a register of 15 000 accounts has about 330 000)")
_INT, _FLOAT, _STR = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:str"


class _Loader(_LOADER):
    """The safe loader without YAML 1.1's base-60 numbers (``1:30`` read as 90).

    YAML 1.2 dropped them, no register or retention file means one, and building a long one
    takes time that grows with the square of its length (10 MB of ``1:0:0:…``: half an hour).
    Such a value is read as the text it is."""

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        if tag in (_INT, _FLOAT) and kind is yaml.ScalarNode and ":" in value:
            return _STR
        return tag


def _shape_problem(text: str) -> tuple[int, str] | None:
    """(line, why) where the values first nest deeper than MAX_DEPTH or outnumber MAX_NODES, from the
    parser's events: read without recursion and without building anything, so a file of 100 000 '['
    or of millions of one-letter values is answered before a tree of them takes gigabytes."""
    depth = values = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark.line + 1, TOO_DEEP
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
            continue
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_NODES:
                return event.start_mark.line + 1, TOO_MANY
    return None


def _expanded_size(node: yaml.Node) -> int:
    """How many values *node* stands for with every alias expanded, counted without expanding
    (an alias is the same node object, so each distinct node is sized once)."""
    return _expanded(node)[0]


def _expanded(node: yaml.Node) -> tuple[int, int]:
    """(values, characters of text) *node* stands for with every alias expanded, each capped just
    past its limit (MAX_NODES, MAX_TEXT), counted without expanding."""
    sizes: dict[int, tuple[int, int]] = {}
    order, stack = [], [node]
    while stack:  # depth-first, children before parents, without recursion
        current = stack.pop()
        if id(current) in sizes:
            continue
        sizes[id(current)] = (0, 0)
        order.append(current)
        if isinstance(current, yaml.MappingNode):
            stack += [part for pair in current.value for part in pair]
        elif isinstance(current, yaml.SequenceNode):
            stack += list(current.value)
    for current in reversed(order):
        children = ([part for pair in current.value for part in pair] if isinstance(current, yaml.MappingNode)
                    else current.value if isinstance(current, yaml.SequenceNode) else [])
        own = len(current.value) if isinstance(current, yaml.ScalarNode) else 0
        sizes[id(current)] = (min(MAX_NODES + 1, 1 + sum(sizes[id(c)][0] for c in children)),
                              min(MAX_TEXT + 1, own + sum(sizes[id(c)][1] for c in children)))
    return sizes[id(node)]


def read_config_text(path: Path | str, max_bytes: int | None = None) -> str:
    """The file's text, read only if it is a regular UTF-8 file of at most *max_bytes* (MAX_BYTES):
    a device, a FIFO or a directory would block or never end, so the file is opened without
    blocking and checked once open. Raise ConfigError naming the file (and line) otherwise."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    shown = str(path)

    def refused(message: str) -> ConfigError:
        return ConfigError([Problem(shown, None, "", message)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise refused("file not found") from None
    except OSError as exc:
        raise refused(f"cannot read: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise refused("not a regular file: not read (name the register or retention file itself)")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > limit:
            raise refused(f"larger than {_size(limit)}: not read (a configuration file is far smaller)")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise refused(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew while we looked
        raise refused(f"larger than {_size(limit)}: not read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([Problem(shown, line, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file "
                                                    "as UTF-8")]) from None


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def _yaml_problem(shown: str, text: str, exc: yaml.YAMLError) -> Problem:
    """One line for any YAML error, with the line it is on."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, most control codes)
        return Problem(shown, text.count("\n", 0, exc.position) + 1, "",
                       f"not valid YAML: character #x{exc.character:04x} is not allowed in YAML text")
    mark = getattr(exc, "problem_mark", None)
    if "exceeded maximum nesting depth" in str(exc):  # libyaml's own limit (1000 levels), met before ours
        return Problem(shown, mark.line + 1 if mark else None, "", TOO_DEEP)
    message = " ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None)))) \
        or str(exc).splitlines()[0]
    return Problem(shown, mark.line + 1 if mark else None, "", f"not valid YAML: {message}")


def _unbuildable(shown: str, node: yaml.Node | None, exc: ValueError) -> Problem:
    """The value safe_load could not build, with its line (dates are the ones YAML builds itself)."""
    loader = yaml.SafeLoader("")
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.ScalarNode) and current.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(current)
            except ValueError as bad:
                return Problem(shown, current.start_mark.line + 1, "", f"{current.value!r} is not a date: {bad}")
        elif isinstance(current, yaml.MappingNode):
            stack += [part for pair in current.value for part in pair]
        elif isinstance(current, yaml.SequenceNode):
            stack += current.value
    return Problem(shown, None, "", f"a value cannot be read: {exc}")


def load_model(path: Path, model: type[M], **context: Any) -> tuple[M, yaml.Node]:
    """Parse *path* and validate it as *model*; raise ConfigError listing every problem.

    Bounded on any input: a file over MAX_BYTES, anything but a regular file, values nested deeper
    than MAX_DEPTH, or aliases that expand past MAX_NODES values are refused before anything
    walks them."""
    shown = str(path)
    text = read_config_text(path)
    try:
        shape = _shape_problem(text)
        if shape is not None:
            raise ConfigError([Problem(shown, shape[0], "", shape[1])])
        node = yaml.compose(text, Loader=_Loader)
        values, characters = _expanded(node) if node is not None else (0, 0)
        if values > MAX_NODES:
            raise ConfigError([Problem(shown, None, "", f"its aliases expand to more than {MAX_NODES} values: "
                                                        "not read (write the values out, or use fewer aliases)")])
        if characters > MAX_TEXT:
            raise ConfigError([Problem(shown, None, "", f"its aliases expand to more than {_size(MAX_TEXT)} of text: "
                                                        "not read (write the values out, or use fewer aliases)")])
        # duplicates are looked for as written: building the values merges '<<: *defaults' into the
        # mapping's own node, and a key that overrides a merged one is not a duplicate
        problems = _duplicate_keys(node, shown) if isinstance(node, yaml.MappingNode) else []
        data = None if node is None else yaml.SafeLoader("").construct_document(node)  # parsed once, not twice
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(shown, text, exc)]) from None
    except ValueError as exc:  # a value the loader could not build: a date that does not exist (2026-02-30)
        raise ConfigError([_unbuildable(shown, node, exc)]) from None
    except RecursionError:
        raise ConfigError([Problem(shown, None, "", TOO_DEEP)]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(shown, 1, "", "expected a mapping at the top of the file")])
    if problems:
        raise ConfigError(capped(problems))
    try:
        return model.model_validate(data, context=context), node
    except ValidationError as exc:
        raise ConfigError(validation_problems(shown, node, exc)) from None


def validation_problems(path: str, node: yaml.Node, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """One Problem per pydantic error, the first MAX_PROBLEMS with their lines (finding a line walks
    the file's mapping) and the rest counted; *prefix* is where the validated value sits in the file."""
    return capped(*located_problems(path, node, exc, prefix))


def located_problems(path: str, node: yaml.Node, exc: ValidationError,
                     prefix: tuple[Any, ...] = ()) -> tuple[list[Problem], int]:
    """The first MAX_PROBLEMS of *exc*'s errors as Problems with their lines, and how many errors there are
    in all: for a file checked in parts (a register's accounts), whose problems are capped once, together."""
    errors = exc.errors()
    found = []
    for err in errors[:MAX_PROBLEMS]:
        loc = (*prefix, *err["loc"])
        found.append(Problem(path, line_of(node, loc), _field_name(loc), err["msg"]))
    return found, len(errors)


def capped(problems: list[Problem], total: int | None = None) -> list[Problem]:
    """At most MAX_PROBLEMS of *problems*, and a last one counting the rest of *total* (their number)."""
    total = len(problems) if total is None else total
    listed = problems[:MAX_PROBLEMS]
    if total <= len(listed):
        return listed
    path = problems[0].path if problems else ""
    return [*listed,
            Problem(path, None, "", f"and {total - len(listed)} more problems (mend these first, then check again)")]
