"""METS: the root METS and one per representation, with the CSIP/SIP attributes and agents."""

from __future__ import annotations

from pathlib import PurePosixPath

from lxml import etree

from somearkiv import __version__
from somearkiv.models import FileRole
from tasks.sip.model import (
    CONTENT_TYPE,
    NS,
    SIP_PROFILE_URL,
    _capture_dir,
    _el,
    _Entry,
    _iso,
    _Package,
    _schema_location,
    _write_xml,
    _xml_id,
)
from tasks.sip.premis import _write_rep_premis


def _mets_root(pkg: _Package, objid: str, label: str, doc_path: str) -> etree._Element:
    """mets/@OBJID is the name of the folder the METS describes (CSIP1: the package or representation folder)."""
    locations = _schema_location(doc_path, (NS["mets"], NS["xlink"], NS["csip"], NS["sip"]))
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
    """metsHdr: the software (CSIP10-16) and, in the root METS, the SIP/FGS agents and identifiers (SIP3-31)."""
    profile = pkg.profile
    hdr = _el(parent, "mets:metsHdr", CREATEDATE=_iso(pkg.created), LASTMODDATE=_iso(pkg.created),
              RECORDSTATUS=profile.record_status if full else "NEW", csip__OAISPACKAGETYPE="SIP")
    _agent(hdr, "CREATOR", "OTHER", "somearkiv", __version__, "SOFTWARE VERSION", "SOFTWARE")
    if not full:
        return
    _agent(hdr, "ARCHIVIST", "ORGANIZATION", profile.archival_creator_name, profile.archival_creator_id,
           "IDENTIFICATIONCODE")
    _agent(hdr, "ARCHIVIST", "OTHER", profile.system_name, profile.system_version, "SOFTWARE VERSION", "SOFTWARE")
    _agent(hdr, "CREATOR", "ORGANIZATION", profile.submitter_name, profile.submitter_id, "IDENTIFICATIONCODE")
    _agent(hdr, "CREATOR", "INDIVIDUAL", profile.contact_name, profile.contact_info, None)
    _agent(hdr, "PRESERVATION", "ORGANIZATION", profile.archive_name, profile.archive_id, "IDENTIFICATIONCODE")
    if profile.ip_owner_name:
        _agent(hdr, "IPOWNER", "ORGANIZATION", profile.ip_owner_name, profile.ip_owner_id,
               "IDENTIFICATIONCODE" if profile.ip_owner_id else None)
    for kind, value in (("SUBMISSIONAGREEMENT", profile.submission_agreement),
                        ("PREVIOUSSUBMISSIONAGREEMENT", profile.previous_submission_agreement),
                        ("REFERENCECODE", profile.reference_code),
                        ("PREVIOUSREFERENCECODE", profile.previous_reference_code)):
        if value:
            _el(hdr, "mets:altRecordID", value, TYPE=kind)


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


_VALIDATION_DATA = {
    "application/pem-certificate-chain": "X.509 certificates (PEM): the TSA's certificate chain",
    "application/ocsp-response": "OCSP response (DER) for the TSA's certificate",
    "application/pkix-crl": "CRL (DER) of the TSA certificate's issuer",
    "application/json": "somearkiv seal document (JSON): the token, its TSA and its validation data",
}


def _write_rep_mets(pkg: _Package, rep: str, label: str) -> _Entry:
    base = f"representations/{rep}"
    files = pkg.in_folder(f"{base}/data/")
    premis = _write_rep_premis(pkg, rep, files)
    mets = _mets_root(pkg, rep, label, f"{base}/METS.xml")
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
                                           f"{first:%Y-%m-%d} - {last:%Y-%m-%d}", "METS.xml")
    _mets_header(mets, pkg, full=True)
    dmd_ids = []
    for dc in [account_dc] + [c.dc for c in pkg.captures if c.dc]:
        dmd_ids.append(_xml_id("dmd", PurePosixPath(dc.path).stem))
        _md_ref(_el(mets, "mets:dmdSec", ID=dmd_ids[-1], CREATED=_iso(pkg.created), STATUS="CURRENT"), dc, "", "DC")
    amd = _el(mets, "mets:amdSec", ID="amd")
    md: list[tuple[str, _Entry, str, str | None, str | None]] = [("digiprov-premis", premis, "PREMIS", None, "3.0")]
    if pkg.tsa_ca is not None:
        md.append(("digiprov-tsa-ca", pkg.tsa_ca, "OTHER", "X.509 certificates (PEM): the TSA's CA", None))
    for c in pkg.captures:
        cdir = _capture_dir(c.record)
        for kind, entry, other in (("record", c.record_json, "somearkiv CaptureRecord (JSON)"),
                                   ("manifest", c.manifest, "somearkiv capture manifest (JSON)"),
                                   ("timestamp", c.token, "RFC 3161 TimeStampResp (DER)"),
                                   *((f"timestamp-data-{PurePosixPath(e.path).name}", e,
                                      _VALIDATION_DATA.get(e.mimetype, "validation data of the timestamp"))
                                     for e in c.validation_data)):
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
