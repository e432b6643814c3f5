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
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
# Every schema the package's XML uses, shipped in its schemas/ folder (tasks/sip/schemas/SOURCES.md):
# file name -> target namespace. The package's XML documents name these by relative paths.
SCHEMAS = {
    "mets.xsd": NS["mets"],
    "xlink.xsd": NS["xlink"],
    "xml.xsd": "http://www.w3.org/XML/1998/namespace",
    "DILCISExtensionMETS.xsd": NS["csip"],
    "DILCISExtensionSIPMETS.xsd": NS["sip"],
    "premis-v3-0.xsd": NS["premis"],
    "simpledc20021212.xsd": NS["dc"],
    "oai_dc.xsd": NS["oai_dc"],
}
SCHEMA_FOR = {namespace: name for name, namespace in SCHEMAS.items()}
# Validation data a timestamp token may have beside it in the archive (tasks/timestamp.py keeps them as
# ``manifest.tsr.chain.pem``, ``manifest.tsr.ocsp-N.der``, ``manifest.tsr.crl-N.der`` and ``seal.json``): taken into
# the package with the token when present. Name after the token's -> media type; "{}" is 1, 2, ... up to the first
# number missing.
TOKEN_COMPANIONS = {
    ".chain.pem": "application/pem-certificate-chain",  # the TSA's certificate chain
    ".ocsp.der": "application/ocsp-response",  # an OCSP response for a certificate of the chain
    ".crl.der": "application/pkix-crl",  # a CRL of a certificate's issuer
    ".ocsp-{}.der": "application/ocsp-response",
    ".crl-{}.der": "application/pkix-crl",
}
SEAL_DOCUMENT = "seal.json"  # what the token is, from whom, when, and which files hold its validation data
MAX_NUMBERED = 50
TSA_CA_NAME = "tsa-ca.pem"  # the archive's trusted TSA CA (SOMEARKIV_TSA_CA_FILE), in metadata/preservation/timestamps/
PRESERVATION, SUPPORTING = "rep1", "rep2"

Fetch = Callable[[str, Path], None]
"""fetch(key, dest): write the archived object *key* to *dest*; raise FileNotFoundError if there is none."""


# CSIP 2.1 vocabularies the profile's values come from (CSIPVocabularyContentCategory, SIPVocabularyRecordStatus).
CONTENT_CATEGORIES = (
    "Textual works – Print", "Textual works – Digital", "Textual works – Electronic Serials",
    "Digital Musical Composition (score-based representations)", "Photographs – Print", "Photographs – Digital",
    "Other Graphic Images – Print", "Other Graphic Images – Digital", "Microforms",
    "Audio – On Tangible Medium (digital or analog)", "Audio – Media-independent (digital)",
    "Motion Pictures – Digital and Physical Media", "Video – File-based and Physical Media", "Software", "Datasets",
    "Geospatial Data", "Databases", "Websites", "Collection", "Event", "Interactive resource", "Physical object",
    "Service", "Mixed", "Other")
RECORD_STATUSES = ("NEW", "SUPPLEMENT", "REPLACEMENT", "TEST", "VERSION", "OTHER")


class SipProfile(BaseModel):
    """Who hands over what to whom: the FGS Paketstruktur 2.0 (= E-ARK CSIP 2.1 + SIP 2.1) header fields.

    Read from ``config/sip.yaml`` (``load_profile``); each field says where it goes in the root METS
    header. The README's SIP section maps them to the FGS/E-ARK requirement ids.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # metsHdr/agent ROLE=ARCHIVIST TYPE=ORGANIZATION, note csip:NOTETYPE=IDENTIFICATIONCODE (SIP9-14)
    archival_creator_name: str = Field(min_length=1, description="Arkivbildare, e.g. 'Perstorps kommun'.")
    archival_creator_id: str = Field(min_length=1, description="Its identification code, e.g. 'SE2120000571'.")
    # metsHdr/agent ROLE=CREATOR TYPE=ORGANIZATION, IDENTIFICATIONCODE (SIP15-20): who submits the package
    submitter_name: str = Field(min_length=1, description="Levererande organisation (producer/submitter).")
    submitter_id: str = Field(min_length=1)
    # metsHdr/agent ROLE=CREATOR TYPE=INDIVIDUAL, note = contact details (SIP21-25)
    contact_name: str = Field(min_length=1, description="Kontaktperson for the submission.")
    contact_info: str = Field(min_length=1, description="Phone, e-mail.")
    # metsHdr/agent ROLE=PRESERVATION TYPE=ORGANIZATION, IDENTIFICATIONCODE (SIP26-31): the receiving archive
    archive_name: str = Field(min_length=1, description="Mottagare: the receiving archive (the preservation agent).")
    archive_id: str = Field(min_length=1)
    # metsHdr/agent ROLE=IPOWNER TYPE=ORGANIZATION (METS role, allowed beside CSIP's agents by CSIP10)
    ip_owner_name: str | None = Field(default=None, description="Informationsägare, when not the archival creator.")
    ip_owner_id: str | None = None
    # metsHdr/agent ROLE=ARCHIVIST TYPE=OTHER OTHERTYPE=SOFTWARE, note SOFTWARE VERSION: the system the records
    # come from (FGS's "arkivbildarens system"); the package-making software (CSIP10-16) is always somearkiv.
    system_name: str = Field(default="somearkiv", min_length=1)
    system_version: str = __version__
    # metsHdr/altRecordID TYPE=SUBMISSIONAGREEMENT / PREVIOUSSUBMISSIONAGREEMENT / REFERENCECODE /
    # PREVIOUSREFERENCECODE (SIP5-8)
    submission_agreement: str | None = Field(default=None, description="Leveransöverenskommelse, if any.")
    previous_submission_agreement: str | None = None
    reference_code: str | None = Field(default=None, description="Where in the archive the package belongs.")
    previous_reference_code: str | None = None
    # mets/@TYPE (CSIP2) from the CSIP content category vocabulary; metsHdr/@RECORDSTATUS (SIP3)
    content_category: str = Field(default="Websites", description="mets/@TYPE, from the CSIP vocabulary.")
    record_status: str = "NEW"
    descriptive_metadata: Literal["dc"] = "dc"
    language: str = "sv"

    @field_validator("content_category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CONTENT_CATEGORIES:
            raise ValueError(f"not in the CSIP content category vocabulary: {value!r}; "
                             f"one of {', '.join(CONTENT_CATEGORIES)}")
        return value

    @field_validator("record_status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in RECORD_STATUSES:
            raise ValueError(f"not a SIP record status: {value!r}; one of {', '.join(RECORD_STATUSES)}")
        return value


def load_profile(path: Path) -> SipProfile:
    """The profile in the YAML file *path*; a YAML alias (a "billion laughs" risk) or a huge file is refused."""
    import yaml

    from somearkiv.yamlfile import read_config_text

    text = read_config_text(path, 65536)  # a profile is a page of text
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
        raise ValueError(f"{path}: YAML aliases are not allowed in the SIP profile")
    return SipProfile(**(yaml.safe_load(text) or {}))


class SipInvalid(RuntimeError):
    """The package is not (or would not be) a valid SIP; ``problems`` says why."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s): " + "; ".join(self.problems[:5]))


def archive_fetch(archive, versions: dict[str, str | None] | None = None) -> Fetch:
    """A ``fetch`` over ``storage.Archive.download`` (which checks the filed SHA-256 on the way).

    *versions* (key -> version id, as the custody ledger has them: ``custody_versions``) makes every key it
    names be read by its filed version, so a newer version put over a filed object neither blocks the
    export nor gets into the package. A key it does not name (validation data filed later beside a token)
    is read as it is now, still checked against the SHA-256 it was stored with."""

    from storage import ObjectMissing

    def fetch(key: str, dest: Path) -> None:
        try:
            archive.download(key, dest, version_id=(versions or {}).get(key))
        except ObjectMissing as exc:
            raise FileNotFoundError(key) from exc

    return fetch


def custody_versions(archive, records: Iterable[CaptureRecord], state=None) -> dict[str, str | None]:
    """key -> filed version id of every object the custody ledger says was filed for *records* (and is not
    disposed of): what fixity checks, and what an export must read (``Archive.capture_objects``)."""
    state = archive.custody() if state is None else state
    return {key: version for record in records for key, version in archive.capture_objects(record, state)}


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
    validation_data: list[_Entry] = field(default_factory=list)  # the token's chain, OCSP, CRL (TOKEN_COMPANIONS)
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
    tsa_ca: _Entry | None = None  # the TSA CA the tokens were verified against, when given

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
    """The XSDs that go into every package (tasks/sip/schemas/, never fetched from the network)."""
    return Path(str(importlib.resources.files("tasks.sip"))) / "schemas"


def _schema_location(doc_path: str, namespaces: Iterable[str]) -> str:
    """xsi:schemaLocation for a document at *doc_path* (from the package root): its namespaces' schemas
    in the package's schemas/ folder, by relative path."""
    up = "../" * (len(PurePosixPath(doc_path).parts) - 1)
    return " ".join(f"{ns} {up}schemas/{SCHEMA_FOR[ns]}" for ns in namespaces)
