"""The SIP's vocabulary: profile, errors, ``fetch``, the package being built and small XML helpers."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import quote

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.models import Account, CaptureRecord
from tasks.timestamp import TimestampCheck

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

    from storage import ObjectMissing

    def fetch(key: str, dest: Path) -> None:
        try:
            archive.download(key, dest)
        except ObjectMissing as exc:
            raise FileNotFoundError(key) from exc

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


# -- the package being built, file by file ---------------------------------------------------------------


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


# -- schemas ---------------------------------------------------------------------------------------------


def _schema_dir() -> Path:
    """The XSDs shipped by the installed eark-validator package (never fetched from the network)."""
    return Path(str(importlib.resources.files("eark_validator"))) / "ipxml" / "resources" / "schema"
