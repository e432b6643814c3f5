"""Hand-over to the e-archive: one E-ARK SIP 2.1 (CSIP 2.1) package per account and period.

Why E-ARK: the Swedish FGS Paketstruktur 2.0 builds on E-ARK CSIP, so a CSIP/SIP package is what a
Swedish e-archive (and most European ones) can take in without a custom import. The package:

    <package id>/                         (the id with anything but [A-Za-z0-9._-] made '_')
      METS.xml                            root METS: CSIP attributes, SIP agents, dmdSec/amdSec/fileSec/structMap
      metadata/descriptive/dc-*.xml       Dublin Core (oai_dc) for the account and for each capture
      metadata/preservation/premis.xml    PREMIS 3.0: objects (SHA-256, size, format), events, agents
      metadata/preservation/timestamps/<capture>/manifest.json, manifest.tsr   (where a capture has them)
      metadata/other/records/<capture>/record.json                               (the capture record)
      representations/rep1/               the preservation representation: the PDF/A-2b snapshots
        METS.xml, metadata/preservation/premis.xml, data/<capture>/startpage.pdf
      representations/rep2/               supporting files of the same captures: PNG, HTML, print PDF, WARC ...
      documentation/README.txt            what the package is, and what a timestamp does and does not prove
      schemas/                            METS, XLink and the DILCIS extension schemas, from eark-validator

Every file is fetched through the caller's ``fetch`` and checked against the SHA-256 of its capture
record before it goes in (the PREMIS "fixity check" events say so). ``build_sip`` validates what it
made with ``validate_sip`` and leaves nothing behind if it is not valid.

``validate_sip`` checks the folder structure, every METS against the METS 1.12 XSD with the DILCIS
CSIP/SIP extension schemas (loaded from the installed ``eark-validator`` package, never from the
network), the CSIP attributes this exporter relies on, that every SIZE and SHA-256 in METS matches the
file, that every file is referenced and every reference exists, that IDs are unique, and PREMIS by
XPath rules of its own (no PREMIS XSD is available from PyPI): identifiers, fixity against the files,
events linked to defined agents and objects, well-formed dates.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.models import Account, CaptureRecord, CaptureStatus, FileRole
from storage.archive import RECORD_NAME, capture_prefix
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, TimestampCheck, verify_timestamp

__all__ = ["SIP_PROFILE_URL", "Fetch", "SipInvalid", "SipProfile", "archive_fetch", "build_sip", "validate_sip"]

SIP_PROFILE_URL = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
CONTENT_TYPE = "somearkiv: snapshots of social media start pages (PDF/A-2b) with their supporting files"
NS = {
    "mets": "http://www.loc.gov/METS/",
    "xlink": "http://www.w3.org/1999/xlink",
    "csip": "https://DILCIS.eu/XML/METS/CSIPExtensionMETS",
    "sip": "https://DILCIS.eu/XML/METS/SIPExtensionMETS",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "premis": "http://www.loc.gov/premis/v3",
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
}
# The schemas of eark-validator that go into the package (and validate it): name -> namespace.
SCHEMAS = {
    "mets.xsd": NS["mets"],
    "xlink.xsd": NS["xlink"],
    "DILCISExtensionMETS.xsd": NS["csip"],
    "DILCISExtensionSIPMETS.xsd": NS["sip"],
}
PRESERVATION, SUPPORTING = "rep1", "rep2"

Fetch = Callable[[str, Path], None]
"""fetch(key, dest): write the archived object *key* to *dest*; raise FileNotFoundError if there is none."""


class SipProfile(BaseModel):
    """Who hands over what to whom: the agents and identifiers an e-archive expects in a SIP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    archival_creator_name: str = Field(min_length=1, description="Arkivbildare, e.g. 'Perstorps kommun'.")
    archival_creator_id: str = Field(min_length=1, description="Its identification code, e.g. 'SE2120000571'.")
    submitter_name: str = Field(min_length=1, description="The organisation submitting the package.")
    submitter_id: str = Field(min_length=1)
    contact_name: str = Field(min_length=1, description="Contact person for the submission.")
    contact_info: str = Field(min_length=1, description="Phone, e-mail.")
    archive_name: str = Field(min_length=1, description="The receiving archive (the preservation agent).")
    archive_id: str = Field(min_length=1)
    system_name: str = "somearkiv"
    system_version: str = __version__
    submission_agreement: str | None = Field(default=None, description="Leveransöverenskommelse, if any.")
    reference_code: str | None = Field(default=None, description="Where in the archive the package belongs.")
    content_category: str = Field(default="Websites", description="mets/@TYPE, from the CSIP vocabulary.")
    descriptive_metadata: Literal["dc"] = "dc"
    language: str = "sv"


class SipInvalid(RuntimeError):
    """The package is not (or would not be) a valid SIP; ``problems`` says why."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s): " + "; ".join(self.problems[:5]))


def archive_fetch(archive) -> Fetch:
    """A ``fetch`` over ``storage.Archive.download`` (which checks the filed SHA-256 on the way)."""

    def fetch(key: str, dest: Path) -> None:
        try:
            archive.download(key, dest)
        except Exception as exc:
            response = getattr(exc, "response", None)  # botocore's ClientError, without importing botocore here
            code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
            if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
                raise FileNotFoundError(key) from exc
            raise

    return fetch


# -- small XML helpers -----------------------------------------------------------------------------------


def _q(name: str) -> str:
    """'mets:file' -> '{http://www.loc.gov/METS/}file'; names without a prefix stay as they are."""
    prefix, _, local = name.rpartition(":")
    return f"{{{NS[prefix]}}}{local}" if prefix else name


def _el(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    """An element (a child of *parent* if given); attribute names use '__' for ':' (xlink__href)."""
    qualified = {_q(k.replace("__", ":")): v for k, v in attrs.items() if v is not None}
    el = etree.Element(_q(tag), qualified, nsmap=NS) if parent is None else etree.SubElement(parent, _q(tag), qualified)
    if text is not None:
        el.text = text
    return el


def _write_xml(root: etree._Element, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    etree.cleanup_namespaces(root)  # declare only the namespaces this document uses
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))


def _mimetype(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip() or "application/octet-stream"


def _capture_dir(record: CaptureRecord) -> str:
    """'2026-07-01T040000Z-manual': the capture id without the account (the package has one account)."""
    return record.capture_id.split("/", 1)[-1]


# -- what goes in --------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One file in the package, by its path from the package root."""

    path: str
    size: int
    sha256: str
    mimetype: str
    created: dt.datetime
    record: CaptureRecord | None = None
    role: str | None = None

    def href(self, base: str = "") -> str:
        """The path relative to the folder of the METS that references it, URL-encoded."""
        rel = PurePosixPath(self.path).relative_to(base) if base else PurePosixPath(self.path)
        return quote(rel.as_posix())


@dataclass
class _Capture:
    record: CaptureRecord
    files: list[_Entry] = field(default_factory=list)
    record_json: _Entry | None = None
    manifest: _Entry | None = None
    token: _Entry | None = None
    timestamp: TimestampCheck | None = None
    dc: _Entry | None = None


@dataclass
class _Package:
    root: Path
    package_id: str
    profile: SipProfile
    created: dt.datetime
    captures: list[_Capture] = field(default_factory=list)
    entries: dict[str, _Entry] = field(default_factory=dict)

    @property
    def account(self) -> Account:
        return self.captures[0].record.account

    @property
    def period(self) -> tuple[dt.datetime, dt.datetime]:
        return self.captures[0].record.started_at, self.captures[-1].record.started_at

    def add(self, path: str, mimetype: str, created: dt.datetime | None = None, **extra) -> _Entry:
        """Register a file already written under the package root."""
        full = self.root / path
        entry = _Entry(path, full.stat().st_size, sha256_file(full), mimetype, created or self.created, **extra)
        self.entries[path] = entry
        return entry

    def in_folder(self, prefix: str) -> list[_Entry]:
        return [e for p, e in sorted(self.entries.items()) if p.startswith(prefix)]


def _fetch_captures(pkg: _Package, fetch: Fetch, tsa_ca_pem: bytes | None) -> list[str]:
    """Fetch every file of every capture into place and check it against its record; return problems."""
    problems: list[str] = []
    for capture in pkg.captures:
        record, cdir = capture.record, _capture_dir(capture.record)
        prefix = capture_prefix(record.capture_id, record.status)
        for f in record.files:
            if PurePosixPath(f.name).name != f.name or f.name in ("", ".", ".."):
                problems.append(f"{record.capture_id}: a file name that is not a plain name: {f.name!r}")
                continue
            rep = PRESERVATION if f.role is FileRole.archival else SUPPORTING
            path = f"representations/{rep}/data/{cdir}/{f.name}"
            if not _fetch_to(fetch, f.key or prefix + f.name, pkg.root / path, problems):
                continue
            entry = pkg.add(path, _mimetype(f.media_type), record.finished_at, record=record, role=f.role.value)
            if (entry.sha256, entry.size) != (f.sha256, f.size):
                problems.append(f"{record.capture_id}/{f.name}: fetched {entry.size} bytes, SHA-256 {entry.sha256}; "
                                f"the capture record says {f.size} bytes, {f.sha256}")
            capture.files.append(entry)
        path = f"metadata/other/records/{cdir}/{RECORD_NAME}"
        if record.record_key:  # the record.json as filed
            if not _fetch_to(fetch, record.record_key, pkg.root / path, problems):
                continue
            problems += _filed_record_problems(pkg.root / path, record)
        else:  # not filed (yet): the record as given, serialised as the archive files it
            (pkg.root / path).parent.mkdir(parents=True, exist_ok=True)
            (pkg.root / path).write_bytes(record.model_dump_json(indent=2).encode())
        capture.record_json = pkg.add(path, "application/json", record.finished_at, record=record, role="record")
        problems += _fetch_timestamp(pkg, capture, fetch, prefix, tsa_ca_pem)
    return problems


def _fetch_to(fetch: Fetch, key: str, dest: Path, problems: list[str]) -> bool:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        fetch(key, dest)
    except FileNotFoundError:
        problems.append(f"{key}: not in the archive")
        return False
    return True


def _filed_record_problems(path: Path, record: CaptureRecord) -> list[str]:
    try:
        filed = CaptureRecord.model_validate_json(path.read_bytes())
    except ValueError as exc:
        return [f"{record.capture_id}: the filed record.json is not a capture record: {exc}"]
    if (filed.capture_id, {(f.name, f.sha256) for f in filed.files}) != \
            (record.capture_id, {(f.name, f.sha256) for f in record.files}):
        return [f"{record.capture_id}: the filed record.json describes other files"]
    return []


def _fetch_timestamp(pkg: _Package, capture: _Capture, fetch: Fetch, prefix: str,
                     tsa_ca_pem: bytes | None) -> list[str]:
    """Bring the capture's manifest and token if it has them, and check both."""
    base = f"metadata/preservation/timestamps/{_capture_dir(capture.record)}/"
    (pkg.root / base).mkdir(parents=True, exist_ok=True)
    found = {}
    for name, mimetype in ((MANIFEST_NAME, "application/json"), (TOKEN_NAME, "application/timestamp-reply")):
        try:
            fetch(prefix + name, pkg.root / base / name)
        except FileNotFoundError:
            continue
        found[name] = pkg.add(base + name, mimetype, capture.record.finished_at, record=capture.record)
    if not found:
        (pkg.root / base).rmdir()
        return []
    capture.manifest, capture.token = found.get(MANIFEST_NAME), found.get(TOKEN_NAME)
    if capture.manifest is None:
        return [f"{capture.record.capture_id}: a timestamp token without its manifest"]
    manifest = (pkg.root / capture.manifest.path).read_bytes()
    problems = _manifest_problems(manifest, capture)
    if capture.token is not None:
        capture.timestamp = verify_timestamp((pkg.root / capture.token.path).read_bytes(), manifest,
                                             trusted_ca_pem=tsa_ca_pem)
        if not capture.timestamp.valid and (tsa_ca_pem or not capture.timestamp.matches_manifest):
            problems.append(f"{capture.record.capture_id}: the timestamp does not verify: {capture.timestamp.reason}")
    return problems


def _manifest_problems(manifest: bytes, capture: _Capture) -> list[str]:
    """The manifest must list exactly the files fetched (and the record.json) with their SHA-256."""
    try:
        listed = {f["name"]: f["sha256"] for f in json.loads(manifest)["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{capture.record.capture_id}: the manifest is not readable: {exc}"]
    have = {PurePosixPath(e.path).name: e.sha256 for e in capture.files}
    have[RECORD_NAME] = capture.record_json.sha256 if capture.record_json else ""
    if listed != have:
        differ = sorted(n for n in set(listed) | set(have) if listed.get(n) != have.get(n))
        return [f"{capture.record.capture_id}: the manifest does not match the files: {', '.join(differ)}"]
    return []


# -- documentation, schemas, Dublin Core ---------------------------------------------------------------


def _schema_dir() -> Path:
    """The XSDs shipped by the installed eark-validator package (never fetched from the network)."""
    return Path(str(importlib.resources.files("eark_validator"))) / "ipxml" / "resources" / "schema"


def _copy_schemas(pkg: _Package) -> None:
    (pkg.root / "schemas").mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        shutil.copyfile(_schema_dir() / name, pkg.root / "schemas" / name)
        pkg.add(f"schemas/{name}", "application/xml")


def _write_readme(pkg: _Package) -> None:
    account, (first, last) = pkg.account, pkg.period
    timestamped = sum(1 for c in pkg.captures if c.token is not None)
    text = f"""Leveranspaket (E-ARK SIP 2.1 / CSIP 2.1) skapat av {pkg.profile.system_name} {pkg.profile.system_version}

Paket:        {pkg.package_id}
Skapat:       {_iso(pkg.created)}
Konto:        {account.name} ({account.platform.value}, {account.handle}) {account.url}
Arkivbildare: {pkg.profile.archival_creator_name} ({pkg.profile.archival_creator_id})
Period:       {_iso(first)} - {_iso(last)}, {len(pkg.captures)} fångster, {timestamped} med RFC 3161-tidsstämpel

Innehåll
- representations/{PRESERVATION}/data/<tidpunkt>-<anledning>/: ögonblicksbilden av kontots startsida i PDF/A-2b
  (bevarandeformatet, den allmänna handlingen).
- representations/{SUPPORTING}/data/<tidpunkt>-<anledning>/: stödfiler från samma fångst: skärmbilder (PNG),
  sidans HTML, webbläsarens utskrift (PDF), WARC och bilder av det som skymde sidan.
- metadata/descriptive/: Dublin Core (oai_dc) för kontot och för varje fångst.
- metadata/preservation/premis.xml: PREMIS 3.0 med filer (SHA-256, storlek, format), händelser (fångst,
  kontroll av kontrollsummor vid export, kontroll av tidsstämpel, paketering) och agenter.
- metadata/preservation/timestamps/<fångst>/: manifest.json (alla filer i fångsten med SHA-256) och
  manifest.tsr (RFC 3161-tidsstämpel över manifestet), där sådana finns.
- metadata/other/records/<fångst>/record.json: {pkg.profile.system_name}s post om fångsten.
- schemas/: METS 1.12, XLink och DILCIS:s tilläggsscheman för CSIP och SIP. Scheman för PREMIS 3.0
  (http://www.loc.gov/standards/premis/v3/premis.xsd) och oai_dc ingår inte i paketet.

Vad en tidsstämpel visar
En tidsstämpel visar att exakt dessa byte fanns vid den tidpunkten, inte att sidan såg ut så.
Hur sidan såg ut när den fångades styrks av fångstens post (record.json) och händelserna i PREMIS.
Kontroll utan {pkg.profile.system_name}:
  openssl ts -verify -in manifest.tsr -data manifest.json -CAfile <tidsstämpeltjänstens CA-certifikat>
och därefter SHA-256 för varje fil mot manifest.json.
"""
    path = pkg.root / "documentation" / "README.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    pkg.add("documentation/README.txt", "text/plain")


def _dc(values: list[tuple[str, str]], path: Path) -> None:
    root = _el(None, "oai_dc:dc")
    for name, value in values:
        _el(root, f"dc:{name}", value)
    _write_xml(root, path)


def _write_dublin_core(pkg: _Package) -> _Entry:
    account, (first, last), profile = pkg.account, pkg.period, pkg.profile
    period = f"{_iso(first)}/{_iso(last)}"
    path = "metadata/descriptive/dc-account.xml"
    _dc([("title", f"{account.name} ({account.platform.value}: {account.handle})"),
         ("creator", profile.archival_creator_name), ("subject", "Sociala medier"),
         ("description", f"{account.purpose} Ansvarig: {account.department}, {account.responsible}."),
         ("publisher", pkg.captures[0].record.municipality), ("date", period), ("type", "Collection"),
         ("identifier", str(account.url)), ("identifier", account.id), ("language", profile.language),
         ("coverage", period), ("relation", pkg.package_id)], pkg.root / path)
    account_dc = pkg.add(path, "application/xml")
    for capture in pkg.captures:
        record = capture.record
        reason = f"{record.trigger.value}" + (f": {record.reason}" if record.reason else "")
        path = f"metadata/descriptive/dc-capture-{_capture_dir(record)}.xml"
        _dc([("title", f"{account.name} - ögonblicksbild av startsidan {_iso(record.started_at)}"),
             ("creator", profile.archival_creator_name), ("subject", "Sociala medier"),
             ("description", f"Fångad {_iso(record.started_at)} ({reason}); sidans titel: {record.page.title}"),
             ("publisher", record.municipality), ("date", _iso(record.started_at)), ("type", "Image"),
             ("format", "application/pdf"), ("identifier", record.capture_id), ("source", record.page.final_url),
             ("language", profile.language), ("relation", str(account.url))], pkg.root / path)
        capture.dc = pkg.add(path, "application/xml", record=record)
    return account_dc


# -- PREMIS ----------------------------------------------------------------------------------------------


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


def _write_premis(pkg: _Package) -> _Entry:
    """The package's PREMIS: every content file, the capture, fixity, timestamp and packing events."""
    root = _el(None, "premis:premis", version="3.0")
    profile = pkg.profile
    for rep in (PRESERVATION, SUPPORTING):
        _premis_representation(root, rep, pkg.in_folder(f"representations/{rep}/data/"))
    described = [e for c in pkg.captures for e in (*c.files, c.record_json, c.manifest, c.token) if e is not None]
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
                          [(capture.manifest.path, "source"), (capture.token.path, "source")], [check.reason])
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
    path = "metadata/preservation/premis.xml"
    _write_xml(root, pkg.root / path)
    return pkg.add(path, "application/xml")


def _write_rep_premis(pkg: _Package, rep: str, files: list[_Entry]) -> _Entry:
    root = _el(None, "premis:premis", version="3.0")
    _premis_representation(root, rep, files)
    for entry in files:
        _premis_file(root, entry)
    path = f"representations/{rep}/metadata/preservation/premis.xml"
    _write_xml(root, pkg.root / path)
    return pkg.add(path, "application/xml")


# -- METS ------------------------------------------------------------------------------------------------


def _mets_root(pkg: _Package, objid: str, label: str, schema_base: str) -> etree._Element:
    locations = " ".join(f"{ns} {schema_base}schemas/{name}" for name, ns in SCHEMAS.items())
    return _el(None, "mets:mets", OBJID=objid, LABEL=label, TYPE=pkg.profile.content_category,
               csip__CONTENTINFORMATIONTYPE="OTHER", csip__OTHERCONTENTINFORMATIONTYPE=CONTENT_TYPE,
               PROFILE=SIP_PROFILE_URL, xsi__schemaLocation=locations)


def _agent(hdr: etree._Element, role: str, kind: str, name: str, note: str | None, note_type: str | None,
           othertype: str | None = None) -> None:
    agent = _el(hdr, "mets:agent", ROLE=role, TYPE=kind, OTHERTYPE=othertype)
    _el(agent, "mets:name", name)
    if note:
        _el(agent, "mets:note", note, csip__NOTETYPE=note_type)


def _mets_header(parent: etree._Element, pkg: _Package, full: bool) -> None:
    """metsHdr: the software (CSIP10-16) and, in the root METS, the SIP agents (SIP9-31)."""
    profile = pkg.profile
    hdr = _el(parent, "mets:metsHdr", CREATEDATE=_iso(pkg.created), LASTMODDATE=_iso(pkg.created),
              RECORDSTATUS="NEW", csip__OAISPACKAGETYPE="SIP")
    _agent(hdr, "CREATOR", "OTHER", profile.system_name, profile.system_version, "SOFTWARE VERSION", "SOFTWARE")
    if not full:
        return
    _agent(hdr, "ARCHIVIST", "ORGANIZATION", profile.archival_creator_name, profile.archival_creator_id,
           "IDENTIFICATIONCODE")
    _agent(hdr, "CREATOR", "ORGANIZATION", profile.submitter_name, profile.submitter_id, "IDENTIFICATIONCODE")
    _agent(hdr, "CREATOR", "INDIVIDUAL", profile.contact_name, profile.contact_info, None)
    _agent(hdr, "PRESERVATION", "ORGANIZATION", profile.archive_name, profile.archive_id, "IDENTIFICATIONCODE")
    if profile.submission_agreement:
        _el(hdr, "mets:altRecordID", profile.submission_agreement, TYPE="SUBMISSIONAGREEMENT")
    if profile.reference_code:
        _el(hdr, "mets:altRecordID", profile.reference_code, TYPE="REFERENCECODE")


def _checked(entry: _Entry) -> dict[str, str]:
    return {"MIMETYPE": entry.mimetype, "SIZE": str(entry.size), "CREATED": _iso(entry.created),
            "CHECKSUM": entry.sha256, "CHECKSUMTYPE": "SHA-256"}


def _md_ref(parent: etree._Element, entry: _Entry, base: str, mdtype: str, other: str | None = None,
            version: str | None = None) -> None:
    _el(parent, "mets:mdRef", LOCTYPE="URL", xlink__type="simple", xlink__href=entry.href(base), MDTYPE=mdtype,
        OTHERMDTYPE=other, MDTYPEVERSION=version, LABEL=PurePosixPath(entry.path).name, **_checked(entry))


def _file(group: etree._Element, entry: _Entry, file_id: str, base: str = "") -> None:
    extra = {}
    if entry.role == FileRole.archival.value and entry.record and entry.record.pdfa and entry.record.pdfa.valid:
        extra = {"sip__FILEFORMATNAME": "PDF/A", "sip__FILEFORMATVERSION": "2b"}
    f = _el(group, "mets:file", ID=file_id, **_checked(entry), **extra)
    _el(f, "mets:FLocat", LOCTYPE="URL", xlink__type="simple", xlink__href=entry.href(base))


def _write_rep_mets(pkg: _Package, rep: str, label: str) -> _Entry:
    base = f"representations/{rep}"
    files = pkg.in_folder(f"{base}/data/")
    premis = _write_rep_premis(pkg, rep, files)
    mets = _mets_root(pkg, rep, label, "../../")
    _mets_header(mets, pkg, full=False)
    digiprov = _el(_el(mets, "mets:amdSec", ID=f"{rep}-amd"), "mets:digiprovMD", ID=f"{rep}-digiprov-premis",
                   CREATED=_iso(pkg.created), STATUS="CURRENT")
    _md_ref(digiprov, premis, base, "PREMIS", version="3.0")
    group = _el(_el(mets, "mets:fileSec", ID=f"{rep}-filesec"), "mets:fileGrp", ID=f"{rep}-grp-data", USE="Data",
                csip__CONTENTINFORMATIONTYPE="OTHER", csip__OTHERCONTENTINFORMATIONTYPE=CONTENT_TYPE)
    for entry in files:
        _file(group, entry, _xml_id(f"{rep}-file", entry.href(base)), base)
    div = _el(_el(mets, "mets:structMap", ID=f"{rep}-structmap", TYPE="PHYSICAL", LABEL="CSIP"), "mets:div",
              ID=f"{rep}-div", LABEL=rep)
    _el(div, "mets:div", ID=f"{rep}-div-metadata", LABEL="Metadata", ADMID=f"{rep}-digiprov-premis")
    _el(_el(div, "mets:div", ID=f"{rep}-div-data", LABEL="Data"), "mets:fptr", FILEID=f"{rep}-grp-data")
    _write_xml(mets, pkg.root / base / "METS.xml")
    return pkg.add(f"{base}/METS.xml", "application/xml")


def _write_root_mets(pkg: _Package, account_dc: _Entry, premis: _Entry, reps: dict[str, _Entry]) -> None:
    first, last = pkg.period
    mets = _mets_root(pkg, pkg.package_id, f"{pkg.account.name} ({pkg.account.platform.value}) "
                                           f"{first:%Y-%m-%d} - {last:%Y-%m-%d}", "")
    _mets_header(mets, pkg, full=True)
    dmd_ids = []
    for dc in [account_dc] + [c.dc for c in pkg.captures if c.dc]:
        dmd_ids.append(_xml_id("dmd", PurePosixPath(dc.path).stem))
        _md_ref(_el(mets, "mets:dmdSec", ID=dmd_ids[-1], CREATED=_iso(pkg.created), STATUS="CURRENT"), dc, "", "DC")
    amd = _el(mets, "mets:amdSec", ID="amd")
    md: list[tuple[str, _Entry, str, str | None, str | None]] = [("digiprov-premis", premis, "PREMIS", None, "3.0")]
    for c in pkg.captures:
        cdir = _capture_dir(c.record)
        for kind, entry, other in (("record", c.record_json, "somearkiv CaptureRecord (JSON)"),
                                   ("manifest", c.manifest, "somearkiv capture manifest (JSON)"),
                                   ("timestamp", c.token, "RFC 3161 TimeStampResp (DER)")):
            if entry is not None:
                md.append((_xml_id(f"digiprov-{kind}", cdir), entry, "OTHER", other, None))
    for md_id, entry, mdtype, other, version in md:
        digiprov = _el(amd, "mets:digiprovMD", ID=md_id, CREATED=_iso(pkg.created), STATUS="CURRENT")
        _md_ref(digiprov, entry, "", mdtype, other, version)
    filesec = _el(mets, "mets:fileSec", ID="filesec")
    for use, group_id, folder in (("Documentation", "grp-documentation", "documentation/"),
                                  ("Schemas", "grp-schemas", "schemas/")):
        group = _el(filesec, "mets:fileGrp", ID=group_id, USE=use)
        for entry in pkg.in_folder(folder):
            _file(group, entry, _xml_id("file", entry.path))
    for rep, entry in reps.items():
        group = _el(filesec, "mets:fileGrp", ID=f"grp-{rep}", USE=f"Representations/{rep}",
                    csip__CONTENTINFORMATIONTYPE="OTHER", csip__OTHERCONTENTINFORMATIONTYPE=CONTENT_TYPE)
        _file(group, entry, f"file-{rep}-mets")
    div = _el(_el(mets, "mets:structMap", ID="structmap-csip", TYPE="PHYSICAL", LABEL="CSIP"), "mets:div",
              ID="div-package", LABEL=pkg.package_id)
    _el(div, "mets:div", ID="div-metadata", LABEL="Metadata", ADMID=" ".join(m[0] for m in md), DMDID=" ".join(dmd_ids))
    _el(_el(div, "mets:div", ID="div-documentation", LABEL="Documentation"), "mets:fptr", FILEID="grp-documentation")
    _el(_el(div, "mets:div", ID="div-schemas", LABEL="Schemas"), "mets:fptr", FILEID="grp-schemas")
    for rep, entry in reps.items():
        _el(_el(div, "mets:div", ID=f"div-{rep}", LABEL=f"Representations/{rep}"), "mets:mptr", LOCTYPE="URL",
            xlink__type="simple", xlink__href=entry.href(), xlink__title=f"grp-{rep}")
    _write_xml(mets, pkg.root / "METS.xml")


# -- building --------------------------------------------------------------------------------------------


def _folder_name(package_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", package_id)


def _zip(folder: Path, created: dt.datetime) -> Path:
    """A ZIP with the package folder at its root, entries in a fixed order with fixed times."""
    target = folder.with_name(folder.name + ".zip")
    stamp = created.astimezone(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(target, "x", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def build_sip(records: list[CaptureRecord], fetch: Fetch, out_dir: Path, profile: SipProfile, *,
              package_id: str | None = None, zip_package: bool = False, created: dt.datetime | None = None,
              tsa_ca_pem: bytes | None = None) -> Path:
    """Build one E-ARK SIP of *records* (one account) in *out_dir*; return the package folder (or ZIP).

    *fetch* brings each archived object (see ``Fetch``); every file is checked against its record.
    *package_id* (default a fresh ``urn:uuid:``) and *created* (default now) make the output
    reproducible when given. With *tsa_ca_pem* the captures' RFC 3161 tokens are verified against that
    CA (a token that does not verify stops the export); without it they are only checked to match their
    manifests. With *zip_package* the folder is zipped and removed and the ZIP's path returned.

    The package is validated before it is left in *out_dir*; if it is not valid, nothing is left and
    ``SipInvalid`` says why. An existing package of the same id is never overwritten.
    """
    if not records:
        raise ValueError("no captures to package")
    if len({r.account.id for r in records}) != 1:
        raise ValueError("one package holds one account: got " + ", ".join(sorted({r.account.id for r in records})))
    duplicates = [cid for cid, n in Counter(r.capture_id for r in records).items() if n > 1]
    if duplicates:
        raise ValueError(f"capture(s) given twice: {', '.join(duplicates)}")
    package_id = package_id or f"urn:uuid:{uuid.uuid4()}"
    created = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    out_dir = Path(out_dir)
    final = out_dir / _folder_name(package_id)
    if final.exists() or final.with_name(final.name + ".zip").exists():
        raise FileExistsError(f"{final} exists; a package is never overwritten")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=out_dir))
    pkg = _Package(staging, package_id, profile, created,
                   [_Capture(r) for r in sorted(records, key=lambda r: (r.started_at, r.capture_id))])
    try:
        problems = _fetch_captures(pkg, fetch, tsa_ca_pem)
        if not pkg.in_folder(f"representations/{PRESERVATION}/data/"):
            problems.append("none of the captures has an archival PDF/A file: no preservation representation")
        if problems:
            raise SipInvalid(problems)
        _write_readme(pkg)
        _copy_schemas(pkg)
        account_dc = _write_dublin_core(pkg)
        premis = _write_premis(pkg)
        reps = {PRESERVATION: _write_rep_mets(pkg, PRESERVATION, "Bevarandeformat: ögonblicksbilder i PDF/A-2b")}
        if pkg.in_folder(f"representations/{SUPPORTING}/data/"):
            reps[SUPPORTING] = _write_rep_mets(pkg, SUPPORTING, "Stödfiler: skärmbilder, HTML, utskrift, WARC")
        _write_root_mets(pkg, account_dc, premis, reps)
        if problems := validate_sip(staging):
            raise SipInvalid(problems)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not zip_package:
        return final
    try:
        target = _zip(final, created)
    finally:
        shutil.rmtree(final, ignore_errors=True)
    return target


# -- validating ------------------------------------------------------------------------------------------


class _NoNetwork(etree.Resolver):
    """Schema imports resolve to the files beside the schema or fail: never a download."""

    def resolve(self, url, pubid, context):
        if url and urlsplit(url).scheme in ("http", "https", "ftp"):
            local = _schema_dir() / PurePosixPath(urlsplit(url).path).name
            if local.is_file():
                return self.resolve_filename(str(local), context)
            raise etree.XMLSchemaParseError(f"refusing to fetch {url}")
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_NoNetwork())
    return parser


@functools.cache
def _mets_schema() -> etree.XMLSchema:
    """METS 1.12 + XLink + the DILCIS CSIP and SIP extensions, as eark-validator ships them."""
    return etree.XMLSchema(etree.parse(str(_schema_dir() / "mets.sip.local.v2-0.xsd"), _parser()))


def _parse(root: Path, rel: str, problems: list[str]) -> etree._ElementTree | None:
    try:
        return etree.parse(str(root / rel), _parser())
    except (etree.XMLSyntaxError, OSError) as exc:
        problems.append(f"{rel}: not well-formed XML: {exc}")
        return None


def _check_structure(root: Path) -> list[str]:
    problems = [f"missing {req}" for req in ("METS.xml", "metadata/descriptive", "metadata/preservation/premis.xml",
                                               "representations", "documentation", "schemas")
                if not (root / req).exists()]
    reps = sorted(p for p in (root / "representations").iterdir() if p.is_dir()) \
        if (root / "representations").is_dir() else []
    if (root / "representations").is_dir() and not reps:
        problems.append("no representation in representations/")
    for rep in reps:
        for req in ("METS.xml", "data"):
            if not (rep / req).exists():
                problems.append(f"missing representations/{rep.name}/{req}")
        if (rep / "data").is_dir() and not any(p.is_file() for p in (rep / "data").rglob("*")):
            problems.append(f"representations/{rep.name}/data holds no file")
    return problems


def _check_reference(el: etree._Element, href: str | None, rel: str, root: Path, referenced: set[str]) -> list[str]:
    """One mets:file or mets:mdRef: its target exists inside the package and matches SIZE and CHECKSUM."""
    where = f"{rel}: {etree.QName(el).localname} {el.get('ID') or el.getparent().get('ID') or ''}".rstrip()
    missing = [a for a in ("MIMETYPE", "SIZE", "CREATED", "CHECKSUM", "CHECKSUMTYPE") if not el.get(a)]
    if missing:
        return [f"{where}: missing {', '.join(missing)}"]
    if el.get("CHECKSUMTYPE") != "SHA-256":
        return [f"{where}: CHECKSUMTYPE {el.get('CHECKSUMTYPE')}, expected SHA-256"]
    if not el.get("SIZE").isdigit():
        return [f"{where}: SIZE {el.get('SIZE')!r} is not a number of bytes"]
    if not href or urlsplit(href).scheme or href.startswith("/"):
        return [f"{where}: reference {href!r} is not a relative path in the package"]
    target = ((root / rel).parent / unquote(href)).resolve()
    if not target.is_relative_to(root.resolve()):
        return [f"{where}: reference {href!r} points outside the package"]
    if not target.is_file():
        return [f"{where}: {href} does not exist"]
    referenced.add(target.relative_to(root.resolve()).as_posix())
    if target.stat().st_size != int(el.get("SIZE")):
        return [f"{where}: {href} is {target.stat().st_size} bytes, METS says {el.get('SIZE')}"]
    if sha256_file(target) != el.get("CHECKSUM").lower():
        return [f"{where}: checksum mismatch: {href} does not have the SHA-256 METS records"]
    return []


def _check_mets(root: Path, rel: str, referenced: set[str], ids: dict[str, list[str]], is_root: bool) -> list[str]:
    problems: list[str] = []
    tree = _parse(root, rel, problems)
    if tree is None:
        return problems
    schema = _mets_schema()
    if not schema.validate(tree):
        problems += [f"{rel}: line {e.line}: {e.message}" for e in list(schema.error_log)[:20]]
    mets = tree.getroot()
    for el in mets.iter():
        if isinstance(el.tag, str) and el.get("ID") is not None:
            ids[el.get("ID")].append(rel)
    x = functools.partial(mets.xpath, namespaces=NS)
    if mets.get("PROFILE") != SIP_PROFILE_URL:
        problems.append(f"{rel}: @PROFILE is not {SIP_PROFILE_URL}")
    for attr in ("OBJID", "TYPE"):
        if not mets.get(attr):
            problems.append(f"{rel}: no @{attr}")
    if not mets.get(_q("csip:CONTENTINFORMATIONTYPE")):
        problems.append(f"{rel}: no @csip:CONTENTINFORMATIONTYPE")
    if x("string(mets:metsHdr/@csip:OAISPACKAGETYPE)") != "SIP":
        problems.append(f"{rel}: metsHdr/@csip:OAISPACKAGETYPE is not SIP")
    if not x("mets:metsHdr/mets:agent[@ROLE='CREATOR' and @TYPE='OTHER' and @OTHERTYPE='SOFTWARE']"
             "/mets:note[@csip:NOTETYPE='SOFTWARE VERSION']"):
        problems.append(f"{rel}: no software agent (CREATOR, OTHER, SOFTWARE) with its version")
    if len(x("mets:structMap[@LABEL='CSIP' and @TYPE='PHYSICAL']")) != 1:
        problems.append(f"{rel}: not exactly one structMap LABEL='CSIP' TYPE='PHYSICAL'")
    if is_root:
        for use in ("Documentation", "Schemas"):
            if not x(f"mets:fileSec/mets:fileGrp[@USE='{use}']"):
                problems.append(f"{rel}: no fileGrp USE='{use}'")
        if not x("mets:fileSec/mets:fileGrp[starts-with(@USE, 'Representations/')]"):
            problems.append(f"{rel}: no fileGrp USE='Representations/...'")
        for role in ("ARCHIVIST", "PRESERVATION"):
            if not x(f"mets:metsHdr/mets:agent[@ROLE='{role}' and @TYPE='ORGANIZATION']"):
                problems.append(f"{rel}: no {role} agent")
        if not x("mets:metsHdr/mets:agent[@ROLE='CREATOR' and @TYPE='ORGANIZATION']"):
            problems.append(f"{rel}: no submitting agent (CREATOR, ORGANIZATION)")
        for mptr in x("mets:structMap[@LABEL='CSIP']/mets:div/mets:div/mets:mptr"):
            href = unquote(mptr.get(_q("xlink:href")) or "")
            if not (root / href).is_file():
                problems.append(f"{rel}: mptr to {href!r}, which does not exist")
    for el in x("//mets:file"):
        problems += _check_reference(el, _href(el.find(_q("mets:FLocat"))), rel, root, referenced)
    for el in x("//mets:mdRef"):
        problems += _check_reference(el, el.get(_q("xlink:href")), rel, root, referenced)
    return problems


def _href(el: etree._Element | None) -> str | None:
    return None if el is None else el.get(_q("xlink:href"))


def _premis_values(el: etree._Element, path: str) -> list[str]:
    return [v.strip() for v in el.xpath(path + "/text()", namespaces=NS)]


def _check_premis(root: Path, rel: str, data_dirs: list[str], whole_package: bool) -> list[str]:
    """PREMIS 3.0 by XPath: no PREMIS XSD is available from PyPI, so these rules stand in for it."""
    problems: list[str] = []
    tree = _parse(root, rel, problems)
    if tree is None:
        return problems
    premis = tree.getroot()
    if premis.tag != _q("premis:premis") or premis.get("version") != "3.0":
        return [f"{rel}: not a PREMIS 3.0 document"]
    objects: dict[str, etree._Element] = {}
    for obj in premis.findall(_q("premis:object")):
        kind = _premis_values(obj, "premis:objectIdentifier/premis:objectIdentifierType")
        value = _premis_values(obj, "premis:objectIdentifier/premis:objectIdentifierValue")
        if not kind or not value or not value[0]:
            problems.append(f"{rel}: an object without objectIdentifier type and value")
            continue
        if value[0] in objects:
            problems.append(f"{rel}: object {value[0]} described twice")
        objects[value[0]] = obj
        if obj.get(_q("xsi:type")) == "premis:file":
            problems += _check_premis_file(root, rel, value[0], kind[0], obj)
    if not objects:
        problems.append(f"{rel}: no PREMIS object")
    data_files = {p.relative_to(root).as_posix() for d in data_dirs for p in (root / d).rglob("*") if p.is_file()}
    problems += [f"{rel}: {path} has no PREMIS object" for path in sorted(data_files - set(objects))]
    agents = set()
    for agent in premis.findall(_q("premis:agent")):
        ident = _premis_values(agent, "premis:agentIdentifier/premis:agentIdentifierValue")
        if not ident or not _premis_values(agent, "premis:agentName") or not _premis_values(agent, "premis:agentType"):
            problems.append(f"{rel}: an agent without identifier, name or type")
        agents.update(ident[:1])
    events = premis.findall(_q("premis:event"))
    problems += _check_premis_events(rel, events, set(objects), agents)
    if whole_package:
        kinds = {e.findtext(_q("premis:eventType")) for e in events}
        for needed in ("capture", "fixity check", "information package creation"):
            if needed not in kinds:
                problems.append(f"{rel}: no '{needed}' event")
    return problems


def _check_premis_file(root: Path, rel: str, value: str, kind: str, obj: etree._Element) -> list[str]:
    chars = "premis:objectCharacteristics"
    algorithm = _premis_values(obj, f"{chars}/premis:fixity/premis:messageDigestAlgorithm")
    digest = _premis_values(obj, f"{chars}/premis:fixity/premis:messageDigest")
    size = _premis_values(obj, f"{chars}/premis:size")
    if algorithm[:1] != ["SHA-256"] or not digest or not re.fullmatch(r"[0-9a-fA-F]{64}", digest[0]):
        return [f"{rel}: {value}: no SHA-256 fixity"]
    if not size or not size[0].isdigit():
        return [f"{rel}: {value}: no size"]
    if not obj.xpath(f"{chars}/premis:format[premis:formatDesignation/premis:formatName or premis:formatRegistry]",
                     namespaces=NS):
        return [f"{rel}: {value}: no format"]
    if kind == "local":
        target = root / value
        if not target.is_file():
            return [f"{rel}: {value} is described but not in the package"]
        if target.stat().st_size != int(size[0]) or sha256_file(target) != digest[0].lower():
            return [f"{rel}: fixity mismatch: {value} does not have the size and SHA-256 PREMIS records"]
    return []


def _check_premis_events(rel: str, events: list[etree._Element], objects: set[str], agents: set[str]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for event in events:
        ident = _premis_values(event, "premis:eventIdentifier/premis:eventIdentifierValue")
        name = ident[0] if ident else "?"
        if not ident or name in seen:
            problems.append(f"{rel}: event {name}: missing or repeated eventIdentifier")
        seen.add(name)
        if not _premis_values(event, "premis:eventType"):
            problems.append(f"{rel}: event {name}: no eventType")
        try:
            when = dt.datetime.fromisoformat(_premis_values(event, "premis:eventDateTime")[0])
            if when.tzinfo is None:
                problems.append(f"{rel}: event {name}: eventDateTime without a time zone")
        except (IndexError, ValueError):
            problems.append(f"{rel}: event {name}: no valid eventDateTime")
        if not _premis_values(event, "premis:eventOutcomeInformation/premis:eventOutcome"):
            problems.append(f"{rel}: event {name}: no eventOutcome")
        for agent in _premis_values(event, "premis:linkingAgentIdentifier/premis:linkingAgentIdentifierValue"):
            if agent not in agents:
                problems.append(f"{rel}: event {name}: links to undefined agent {agent}")
        for obj in _premis_values(event, "premis:linkingObjectIdentifier/premis:linkingObjectIdentifierValue"):
            if obj not in objects:
                problems.append(f"{rel}: event {name}: links to undefined object {obj}")
    return problems


def _check_dublin_core(root: Path) -> list[str]:
    problems: list[str] = []
    for path in sorted((root / "metadata" / "descriptive").glob("*.xml")):
        rel = path.relative_to(root).as_posix()
        tree = _parse(root, rel, problems)
        if tree is not None and (tree.getroot().tag != _q("oai_dc:dc") or tree.find(_q("dc:title")) is None
                                 or tree.find(_q("dc:identifier")) is None):
            problems.append(f"{rel}: not oai_dc with a dc:title and a dc:identifier")
    return problems


def _validate_folder(root: Path) -> list[str]:
    problems = _check_structure(root)
    if not (root / "METS.xml").is_file():
        return problems
    referenced = {"METS.xml"}
    ids: dict[str, list[str]] = defaultdict(list)
    reps = sorted(p.parent.name for p in (root / "representations").glob("*/METS.xml"))
    problems += _check_mets(root, "METS.xml", referenced, ids, is_root=True)
    for rep in reps:
        problems += _check_mets(root, f"representations/{rep}/METS.xml", referenced, ids, is_root=False)
    problems += [f"ID {id_!r} is not unique: in {', '.join(where)}" for id_, where in sorted(ids.items())
                 if len(where) > 1]
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    problems += [f"{path}: in the package but referenced from no METS" for path in sorted(on_disk - referenced)]
    if (root / "metadata/preservation/premis.xml").is_file():
        problems += _check_premis(root, "metadata/preservation/premis.xml",
                                  [f"representations/{rep}/data" for rep in reps], whole_package=True)
    for rep in reps:
        rel = f"representations/{rep}/metadata/preservation/premis.xml"
        if (root / rel).is_file():
            problems += _check_premis(root, rel, [f"representations/{rep}/data"], whole_package=False)
    problems += _check_dublin_core(root)
    return problems


def _unzip(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        tops = {PurePosixPath(n).parts[0] for n in names if n.strip("/")}
        if len(tops) != 1 or any(PurePosixPath(n).is_absolute() or ".." in PurePosixPath(n).parts for n in names):
            raise SipInvalid([f"{path.name}: a package ZIP holds exactly one folder and nothing outside it"])
        archive.extractall(into)
    return into / tops.pop()


def validate_sip(path: Path) -> list[str]:
    """Problems with the package folder or ZIP at *path* (empty: valid); see the module docstring."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                return _validate_folder(_unzip(path, Path(tmp)))
            except SipInvalid as exc:
                return exc.problems
    if not path.is_dir():
        return [f"{path}: no package folder or ZIP"]
    return _validate_folder(path)
