"""PREMIS 3.0: the package's and each representation's objects, events and agents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import PurePosixPath

from lxml import etree

from somearkiv.models import CaptureStatus, FileRole
from tasks.sip.model import (
    NS,
    PRESERVATION,
    SUPPORTING,
    _Capture,
    _capture_dir,
    _el,
    _Entry,
    _iso,
    _Package,
    _schema_location,
    _write_xml,
    _xml_id,
)


def _premis_identifier(parent: etree._Element, value: str, tag: str = "object") -> None:
    ident = _el(parent, f"premis:{tag}Identifier")
    _el(ident, f"premis:{tag}IdentifierType", "local")
    _el(ident, f"premis:{tag}IdentifierValue", value)


def _premis_file(root: etree._Element, entry: _Entry) -> None:
    obj = _el(root, "premis:object", xsi__type="premis:file")
    _premis_identifier(obj, entry.path)
    chars = _el(obj, "premis:objectCharacteristics")
    _el(chars, "premis:compositionLevel", "0")
    fixity = _el(chars, "premis:fixity")
    _el(fixity, "premis:messageDigestAlgorithm", "SHA-256")
    _el(fixity, "premis:messageDigest", entry.sha256)
    _el(fixity, "premis:messageDigestOriginator", "somearkiv")
    _el(chars, "premis:size", str(entry.size))
    fmt = _el(chars, "premis:format")
    _el(_el(fmt, "premis:formatDesignation"), "premis:formatName", entry.mimetype)
    record = entry.record
    if entry.role == FileRole.archival.value and record and record.pdfa and record.pdfa.valid \
            and record.pdfa.conformance == "PDF/A-2b":
        registry = _el(fmt, "premis:formatRegistry")
        _el(registry, "premis:formatRegistryName", "PRONOM")
        _el(registry, "premis:formatRegistryKey", "fmt/477")  # PDF/A-2b
    if record is not None:
        app = _el(chars, "premis:creatingApplication")
        if entry.role in (None, FileRole.archival.value, "record"):
            _el(app, "premis:creatingApplicationName", "somearkiv")
            _el(app, "premis:creatingApplicationVersion", record.software.get("somearkiv", "unknown"))
        else:
            _el(app, "premis:creatingApplicationName", record.browser.name)
            _el(app, "premis:creatingApplicationVersion", record.browser.version)
        _el(app, "premis:dateCreatedByApplication", _iso(record.finished_at))
    _el(obj, "premis:originalName", PurePosixPath(entry.path).name)


def _premis_representation(root: etree._Element, rep: str, files: list[_Entry]) -> None:
    obj = _el(root, "premis:object", xsi__type="premis:representation")
    _premis_identifier(obj, f"representations/{rep}")
    for entry in files:
        rel = _el(obj, "premis:relationship")
        _el(rel, "premis:relationshipType", "structural")
        _el(rel, "premis:relationshipSubType", "includes")
        related = _el(rel, "premis:relatedObjectIdentifier")
        _el(related, "premis:relatedObjectIdentifierType", "local")
        _el(related, "premis:relatedObjectIdentifierValue", entry.path)


def _premis_event(root: etree._Element, event_id: str, kind: str, when: dt.datetime, detail: str, outcome: str,
                  agents: list[tuple[str, str]], objects: list[tuple[str, str]], notes: Iterable[str] = ()) -> None:
    event = _el(root, "premis:event")
    _premis_identifier(event, event_id, tag="event")
    _el(event, "premis:eventType", kind)
    _el(event, "premis:eventDateTime", _iso(when))
    _el(_el(event, "premis:eventDetailInformation"), "premis:eventDetail", detail)
    info = _el(event, "premis:eventOutcomeInformation")
    _el(info, "premis:eventOutcome", outcome)
    for note in notes:
        _el(_el(info, "premis:eventOutcomeDetail"), "premis:eventOutcomeDetailNote", note)
    for agent_id, role in agents:
        link = _el(event, "premis:linkingAgentIdentifier")
        _el(link, "premis:linkingAgentIdentifierType", "local")
        _el(link, "premis:linkingAgentIdentifierValue", agent_id)
        _el(link, "premis:linkingAgentRole", role)
    for object_id, role in objects:
        link = _el(event, "premis:linkingObjectIdentifier")
        _el(link, "premis:linkingObjectIdentifierType", "local")
        _el(link, "premis:linkingObjectIdentifierValue", object_id)
        _el(link, "premis:linkingObjectRole", role)


def _premis_agent(root: etree._Element, agent_id: str, name: str, kind: str, version: str | None = None,
                  note: str | None = None) -> None:
    agent = _el(root, "premis:agent")
    _premis_identifier(agent, agent_id, tag="agent")
    _el(agent, "premis:agentName", name)
    _el(agent, "premis:agentType", kind)
    if version:
        _el(agent, "premis:agentVersion", version)
    if note:
        _el(agent, "premis:agentNote", note)


_OUTCOME = {CaptureStatus.captured: "success", CaptureStatus.blocked: "warning", CaptureStatus.failed: "failure"}


def _capture_event(root: etree._Element, capture: _Capture, software: str, creator: str) -> None:
    record = capture.record
    browser = _xml_id("agent", record.browser.name, record.browser.version)
    detail = (f"start page captured, trigger {record.trigger.value}"
              + (f" ({record.reason})" if record.reason else "")
              + (f", requested by {record.requested_by}" if record.requested_by else "")
              + f"; {record.page.final_url} answered HTTP {record.page.http_status}"
              + f"; {record.browser.name} {record.browser.version}, finished {_iso(record.finished_at)}"
              + ("" if capture.token else "; no RFC 3161 timestamp was filed with this capture"))
    notes = list(record.notes)
    if record.wall:
        notes.append(f"wall: {record.wall.kind}: {record.wall.reason}")
    if record.pdfa:
        notes.append(f"PDF/A: {record.pdfa.conformance} {'valid' if record.pdfa.valid else 'NOT valid'} "
                     f"({record.pdfa.validator})")
    _premis_event(root, _xml_id("event-capture", _capture_dir(record)), "capture", record.started_at, detail,
                  _OUTCOME[record.status], [(software, "executing program"), (browser, "executing program"),
                                            (creator, "implementer")],
                  [(e.path, "outcome") for e in capture.files], notes)


def _premis_root(doc_path: str) -> etree._Element:
    return _el(None, "premis:premis", version="3.0", xsi__schemaLocation=_schema_location(doc_path, [NS["premis"]]))


def _write_premis(pkg: _Package) -> _Entry:
    """The package's PREMIS: every content file, the capture, fixity, timestamp and packing events."""
    path = "metadata/preservation/premis.xml"
    root = _premis_root(path)
    profile = pkg.profile
    for rep in (PRESERVATION, SUPPORTING):
        _premis_representation(root, rep, pkg.in_folder(f"representations/{rep}/data/"))
    described = [e for c in pkg.captures for e in (*c.files, c.record_json, c.manifest, c.token, *c.validation_data)
                 if e is not None] + ([pkg.tsa_ca] if pkg.tsa_ca else [])
    for entry in sorted(described, key=lambda e: e.path):
        _premis_file(root, entry)
    software = _xml_id("agent", profile.system_name, profile.system_version)
    creator = _xml_id("agent-organisation", profile.archival_creator_id)
    for capture in pkg.captures:
        _capture_event(root, capture, software, creator)
    for capture in pkg.captures:
        checked = [*capture.files, capture.record_json]
        _premis_event(root, _xml_id("event-fixity", _capture_dir(capture.record)), "fixity check", pkg.created,
                      f"SHA-256 and size of {len(capture.files)} file(s) recomputed at export and compared with "
                      "the capture record", "success", [(software, "executing program")],
                      [(e.path, "source") for e in checked if e is not None])
        if capture.token is not None and capture.timestamp is not None and capture.manifest is not None:
            check = capture.timestamp
            _premis_event(root, _xml_id("event-timestamp", _capture_dir(capture.record)),
                          "digital signature validation", pkg.created,
                          f"RFC 3161 timestamp over manifest.json: TSA {check.tsa_name}, genTime "
                          f"{_iso(check.gen_time) if check.gen_time else '?'}, serial {check.serial}",
                          "success" if check.valid else "warning", [(software, "validator")],
                          [(capture.manifest.path, "source"), (capture.token.path, "source"),
                           *((e.path, "source") for e in capture.validation_data),
                           *([(pkg.tsa_ca.path, "source")] if pkg.tsa_ca else [])], [check.reason])
    first, last = pkg.period
    _premis_event(root, "event-package-creation", "information package creation", pkg.created,
                  f"E-ARK SIP {pkg.package_id} for {profile.archive_name}: {len(pkg.captures)} capture(s) of "
                  f"{pkg.account.id}, {_iso(first)} - {_iso(last)}", "success",
                  [(software, "executing program"), (creator, "implementer")],
                  [(f"representations/{rep}", "outcome") for rep in (PRESERVATION, SUPPORTING)])
    _premis_agent(root, software, profile.system_name, "software", profile.system_version)
    browsers = {(c.record.browser.name, c.record.browser.version) for c in pkg.captures}
    for name, version in sorted(browsers):
        _premis_agent(root, _xml_id("agent", name, version), name, "software", version,
                      "the browser that loaded and rendered the page")
    _premis_agent(root, creator, profile.archival_creator_name, "organization",
                  note=f"identification code {profile.archival_creator_id}")
    _write_xml(root, pkg.root / path)
    return pkg.add(path, "application/xml")


def _write_rep_premis(pkg: _Package, rep: str, files: list[_Entry]) -> _Entry:
    path = f"representations/{rep}/metadata/preservation/premis.xml"
    root = _premis_root(path)
    _premis_representation(root, rep, files)
    for entry in files:
        _premis_file(root, entry)
    _write_xml(root, pkg.root / path)
    return pkg.add(path, "application/xml")
