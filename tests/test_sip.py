"""E-ARK SIP 2.1 export: build from capture records, validate, and catch what a damaged package looks like.

No S3: ``fetch`` copies from a temp folder laid out like the archive's keys. eark-validator's
schematron module downloads four vocabularies when imported; here it is served the copies that the
package itself ships, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import importlib.resources
import io
import shutil
import socket
import urllib.request
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.models import ArchivedFile, FileRole, PdfaInfo, Trigger
from storage.archive import capture_prefix
from tasks import sip
from tasks.sip import NS, SIP_PROFILE_URL, SipInvalid, SipProfile, build_sip, validate_sip
from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, record_json, timestamp_capture

from .factories import account, capture_files
from .tsa_double import TsaDouble

PACKAGE_ID = "urn:uuid:0f8c2b1e-5d4a-4c3b-9a2e-6f1d7c8b9a01"
CREATED = dt.datetime(2026, 7, 2, 8, 0, tzinfo=dt.UTC)
FIRST = dt.datetime(2026, 1, 1, 5, 0, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)

# What eark-validator 1.1.3's own CSIP/SIP 2.1 schematron gets wrong about packages that follow the
# published profiles (checked against E-ARK-CSIP.xml and E-ARK-SIP.xml shipped in the same package):
KNOWN_VALIDATOR_ISSUES = {
    "CSIP12", "CSIP13", "CSIP16",  # applied to every CREATOR agent, though SIP15-25 require CREATOR
    #                                ORGANIZATION (submitter) and CREATOR INDIVIDUAL (contact) agents
    "CSIP63",  # its test fails every fileGrp without @csip:CONTENTINFORMATIONTYPE (Documentation, Schemas)
    "CSIP103",  # demands a div LABEL="Representations", which CSIP101 wants only when there are no
    #             representation METS; CSIP105-112 put "Representations/<rep>" divs under the main div
    "SIP14",  # tests an unnamespaced @NOTETYPE; the profile and its examples use @csip:NOTETYPE
}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """A safety net: any connection away from this machine fails the test."""
    connect = socket.socket.connect

    def guarded(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"a test tried to reach {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def profile(**overrides) -> SipProfile:
    values = dict(archival_creator_name="Perstorps kommun", archival_creator_id="SE2120000571",
                  submitter_name="Perstorps kommun, kommunledningsförvaltningen", submitter_id="SE2120000571-KLF",
                  contact_name="Anna Arkivarie", contact_info="anna.arkivarie@perstorp.example, 0435-350 00",
                  archive_name="Perstorps kommuns e-arkiv", archive_id="SE2120000571-EARKIV",
                  submission_agreement="LÖ 2026:1", reference_code="SE/PK/KS/F1")
    return SipProfile(**{**values, **overrides})


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(out, format="PNG")
    return out.getvalue()


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def make_capture(src: Path, work: Path, started: dt.datetime, trigger: Trigger, *, filed: bool):
    """A capture made with the factories plus a few real small files, laid out under *src* by key."""
    base, folder = capture_files(work / started.strftime("%Y%m%d"), started, trigger=trigger)
    extra = {
        "startpage.pdf": (FileRole.archival, "application/pdf", _pdf(f"Perstorp {started:%Y-%m-%d}")),
        "startpage-mobile.png": (FileRole.screenshot_mobile, "image/png", _png((200, 30, 30))),
        "page.warc.gz": (FileRole.warc, "application/warc", gzip.compress(b"WARC/1.1\r\n\r\n", mtime=0)),
    }
    for name, (_, _, body) in extra.items():
        (folder / name).write_bytes(body)
    files = list(base.files) + [
        ArchivedFile(name=n, role=r, media_type=m, size=len(b), sha256=hashlib.sha256(b).hexdigest())
        for n, (r, m, b) in extra.items()]
    prefix = capture_prefix(base.capture_id)
    if filed:  # as Archive.file_capture leaves them: keys, versions, the record's own key
        files = [f.model_copy(update={"key": prefix + f.name, "version_id": f"v-{f.name}"}) for f in files]
    record = base.model_copy(update={
        "files": tuple(files), "pdfa": PdfaInfo(valid=True, validator="veraPDF 1.28", pages=1, text_layer="unicode"),
        "record_key": prefix + "record.json" if filed else None, "notes": ("page height bounded at 30000 px",)})
    (src / prefix).mkdir(parents=True, exist_ok=True)
    for f in record.files:
        shutil.copyfile(folder / f.name, src / prefix / f.name)
    if filed:
        (src / prefix / "record.json").write_bytes(record_json(record))
    return record


@pytest.fixture(scope="module")
def tsa():
    with TsaDouble() as double:
        yield double


@pytest.fixture
def archive_dir(tmp_path, tsa):
    """Two captures of one account: the first filed, with a timestamp; the second not filed, no timestamp."""
    src = tmp_path / "archive"
    first = make_capture(src, tmp_path / "work", FIRST, Trigger.scheduled, filed=True)
    second = make_capture(src, tmp_path / "work", SECOND, Trigger.before_change, filed=False)
    stamped = timestamp_capture(first, tsa.url, trusted_ca_pem=tsa.ca_pem)
    prefix = src / capture_prefix(first.capture_id)
    (prefix / MANIFEST_NAME).write_bytes(stamped.manifest)
    (prefix / TOKEN_NAME).write_bytes(stamped.token)
    return src, [second, first]  # out of order on purpose


def fetcher(src: Path):
    def fetch(key: str, dest: Path) -> None:
        if not (src / key).is_file():
            raise FileNotFoundError(key)
        shutil.copyfile(src / key, dest)
    return fetch


@pytest.fixture
def package(tmp_path, archive_dir, tsa) -> Path:
    src, records = archive_dir
    return build_sip(records, fetcher(src), tmp_path / "out", profile(), package_id=PACKAGE_ID, created=CREATED,
                     tsa_ca_pem=tsa.ca_pem)


def xpath(path: Path, expr: str):
    return etree.parse(str(path)).xpath(expr, namespaces=NS)


def test_builds_a_valid_package(package, archive_dir):
    assert package.name == "urn_uuid_0f8c2b1e-5d4a-4c3b-9a2e-6f1d7c8b9a01" and package.parent.name == "out"
    assert validate_sip(package) == []
    assert [p.name for p in package.parent.iterdir()] == [package.name]  # no partial folders left
    mets = package / "METS.xml"
    root = etree.parse(str(mets)).getroot()
    assert root.get("OBJID") == PACKAGE_ID and root.get("PROFILE") == SIP_PROFILE_URL
    assert root.get("TYPE") == "Websites" and root.get(f"{{{NS['csip']}}}CONTENTINFORMATIONTYPE") == "OTHER"
    assert xpath(mets, "string(mets:metsHdr/@csip:OAISPACKAGETYPE)") == "SIP"
    agents = {(a.get("ROLE"), a.get("TYPE")): (a.findtext("mets:name", namespaces=NS),
                                               a.findtext("mets:note", namespaces=NS))
              for a in xpath(mets, "mets:metsHdr/mets:agent")}
    assert agents[("CREATOR", "OTHER")] == ("somearkiv", __version__)
    assert agents[("ARCHIVIST", "ORGANIZATION")] == ("Perstorps kommun", "SE2120000571")
    assert agents[("CREATOR", "ORGANIZATION")][1] == "SE2120000571-KLF"
    assert agents[("PRESERVATION", "ORGANIZATION")][1] == "SE2120000571-EARKIV"
    assert xpath(mets, "mets:metsHdr/mets:altRecordID[@TYPE='SUBMISSIONAGREEMENT']/text()") == ["LÖ 2026:1"]
    assert xpath(mets, "mets:fileSec/mets:fileGrp/@USE") == ["Documentation", "Schemas", "Representations/rep1",
                                                              "Representations/rep2"]
    assert xpath(mets, "string(mets:structMap/@LABEL)") == "CSIP"
    for el in xpath(mets, "//mets:file | //mets:mdRef"):
        assert el.get("CHECKSUMTYPE") == "SHA-256" and el.get("SIZE") and el.get("MIMETYPE") and el.get("CREATED")
    rep1 = sorted(p.relative_to(package).as_posix() for p in (package / "representations/rep1/data").rglob("*.*"))
    assert rep1 == ["representations/rep1/data/2026-01-01T050000Z-scheduled/startpage.pdf",
                    "representations/rep1/data/2026-07-01T040000Z-before-change/startpage.pdf"]
    rep2 = {p.name for p in (package / "representations/rep2/data").rglob("*") if p.is_file()}
    assert rep2 == {"startpage.png", "startpage-mobile.png", "page.html", "page.warc.gz"}
    rep1_mets = package / "representations/rep1/METS.xml"
    assert xpath(rep1_mets, "string(/mets:mets/@OBJID)") == "rep1"
    assert set(xpath(rep1_mets, "//mets:file/@sip:FILEFORMATNAME")) == {"PDF/A"}
    timestamps = package / "metadata/preservation/timestamps/2026-01-01T050000Z-scheduled"
    assert {p.name for p in timestamps.iterdir()} == {MANIFEST_NAME, TOKEN_NAME}
    assert not (package / "metadata/preservation/timestamps/2026-07-01T040000Z-before-change").exists()
    readme = (package / "documentation/README.txt").read_text(encoding="utf-8")
    assert "inte att sidan såg ut så" in readme and PACKAGE_ID in readme


def test_premis_records_captures_fixity_timestamp_and_packing(package):
    premis = package / "metadata/preservation/premis.xml"
    events = {}
    for event in xpath(premis, "/premis:premis/premis:event"):
        events.setdefault(event.findtext("premis:eventType", namespaces=NS), []).append(event)
    assert set(events) == {"capture", "fixity check", "digital signature validation", "information package creation"}
    captures = sorted(events["capture"], key=lambda e: e.findtext("premis:eventDateTime", namespaces=NS))
    assert [e.findtext("premis:eventDateTime", namespaces=NS) for e in captures] == ["2026-01-01T05:00:00Z",
                                                                                      "2026-07-01T04:00:00Z"]
    detail = captures[1].findtext("premis:eventDetailInformation/premis:eventDetail", namespaces=NS)
    assert "trigger before-change (inför byte av profilbild)" in detail and "no RFC 3161 timestamp" in detail
    assert all(e.findtext("premis:eventOutcomeInformation/premis:eventOutcome", namespaces=NS) == "success"
               for e in events["capture"] + events["fixity check"] + events["digital signature validation"])
    assert len(events["fixity check"]) == 2 and len(events["digital signature validation"]) == 1
    signature = events["digital signature validation"][0]
    assert "valid: signed by a TSA under the trusted CA" in etree.tostring(signature, encoding="unicode")
    agents = {a.findtext("premis:agentName", namespaces=NS): a for a in xpath(premis, "premis:agent")}
    assert agents["somearkiv"].findtext("premis:agentType", namespaces=NS) == "software"
    assert agents["Perstorps kommun"].findtext("premis:agentType", namespaces=NS) == "organization"
    assert "chromium" in agents
    files = xpath(premis, "premis:object[@xsi:type='premis:file']")
    data = {p.relative_to(package).as_posix() for p in (package / "representations").glob("*/data/**/*") if p.is_file()}
    described = {o.findtext("premis:objectIdentifier/premis:objectIdentifierValue", namespaces=NS): o for o in files}
    assert data <= set(described)
    for path, obj in described.items():
        chars = "premis:objectCharacteristics"
        assert obj.findtext(f"{chars}/premis:fixity/premis:messageDigestAlgorithm", namespaces=NS) == "SHA-256"
        assert obj.findtext(f"{chars}/premis:fixity/premis:messageDigest", namespaces=NS) == sha256_file(package / path)
        assert int(obj.findtext(f"{chars}/premis:size", namespaces=NS)) == (package / path).stat().st_size
    pdf = described["representations/rep1/data/2026-01-01T050000Z-scheduled/startpage.pdf"]
    assert pdf.findtext(".//premis:formatRegistryKey", namespaces=NS) == "fmt/477"


def test_the_same_input_gives_the_same_package(tmp_path, archive_dir, package, tsa):
    src, records = archive_dir
    again = build_sip(records, fetcher(src), tmp_path / "again", profile(), package_id=PACKAGE_ID, created=CREATED,
                      tsa_ca_pem=tsa.ca_pem)
    digests = [{p.relative_to(root).as_posix(): sha256_file(p) for p in root.rglob("*") if p.is_file()}
               for root in (package, again)]
    assert digests[0] == digests[1]


def test_a_file_changed_after_the_build_is_reported(package):
    pdf = package / "representations/rep1/data/2026-07-01T040000Z-before-change/startpage.pdf"
    body = bytearray(pdf.read_bytes())
    body[len(body) // 2] ^= 0x20  # one byte, same size
    pdf.write_bytes(bytes(body))
    problems = validate_sip(package)
    assert any("checksum mismatch" in p and "startpage.pdf" in p and p.startswith("representations/rep1/METS.xml")
               for p in problems), problems
    assert any("fixity mismatch" in p and "startpage.pdf" in p for p in problems), problems


def test_a_missing_file_is_reported(package):
    (package / "representations/rep2/data/2026-01-01T050000Z-scheduled/page.html").unlink()
    problems = validate_sip(package)
    assert any("page.html does not exist" in p for p in problems), problems
    assert any("page.html is described but not in the package" in p for p in problems), problems


def test_an_unreferenced_file_is_reported(package):
    (package / "representations/rep1/data/notes.txt").write_text("left here by hand")
    (package / "documentation/extra.pdf").write_bytes(b"%PDF")
    problems = validate_sip(package)
    assert "representations/rep1/data/notes.txt: in the package but referenced from no METS" in problems
    assert "documentation/extra.pdf: in the package but referenced from no METS" in problems
    assert any("notes.txt has no PREMIS object" in p for p in problems)


def test_duplicate_ids_are_reported(package):
    mets = package / "METS.xml"
    mets.write_bytes(mets.read_bytes().replace(b'ID="div-documentation"', b'ID="div-metadata"'))
    problems = validate_sip(package)
    assert "ID 'div-metadata' is not unique: in METS.xml, METS.xml" in problems
    assert any(p.startswith("METS.xml: line") for p in problems)  # the XSD says so too


def test_a_broken_reference_outside_the_package_is_reported(package):
    mets = package / "METS.xml"
    mets.write_bytes(mets.read_bytes().replace(b'xlink:href="documentation/README.txt"', b'xlink:href="../README.txt"'))
    assert any("points outside the package" in p for p in validate_sip(package))


def test_fetched_bytes_that_differ_from_the_record_stop_the_export(tmp_path, archive_dir):
    src, records = archive_dir
    key = capture_prefix(records[0].capture_id) + "page.html"
    (src / key).write_bytes(b"<html>changed in the archive</html>")
    out = tmp_path / "out"
    with pytest.raises(SipInvalid) as caught:
        build_sip(records, fetcher(src), out, profile(), package_id=PACKAGE_ID)
    assert any("page.html" in p and "the capture record says" in p for p in caught.value.problems)
    assert list(out.iterdir()) == []


def test_a_tampered_timestamp_stops_the_export(tmp_path, archive_dir, tsa):
    src, records = archive_dir
    token = src / capture_prefix(records[1].capture_id) / TOKEN_NAME
    damaged = bytearray(token.read_bytes())
    damaged[-40] ^= 0x01  # inside the signature
    token.write_bytes(bytes(damaged))
    with pytest.raises(SipInvalid, match="timestamp does not verify"):
        build_sip(records, fetcher(src), tmp_path / "out", profile(), tsa_ca_pem=tsa.ca_pem)
    assert list((tmp_path / "out").iterdir()) == []


def test_its_own_invalid_output_is_removed(tmp_path, archive_dir, monkeypatch):
    src, records = archive_dir
    write_readme = sip.build._write_readme

    def readme_and_a_stray_file(pkg):
        write_readme(pkg)
        (pkg.root / "documentation" / "stray.txt").write_text("not in METS")

    monkeypatch.setattr(sip.build, "_write_readme", readme_and_a_stray_file)
    with pytest.raises(SipInvalid) as caught:
        build_sip(records, fetcher(src), tmp_path / "out", profile())
    assert caught.value.problems == ["documentation/stray.txt: in the package but referenced from no METS"]
    assert list((tmp_path / "out").iterdir()) == []


def test_zip_package(tmp_path, archive_dir):
    src, records = archive_dir
    path = build_sip(records, fetcher(src), tmp_path / "out", profile(), package_id=PACKAGE_ID, created=CREATED,
                     zip_package=True)
    assert path.name == "urn_uuid_0f8c2b1e-5d4a-4c3b-9a2e-6f1d7c8b9a01.zip"
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert names == sorted(names) and all(n.startswith("urn_uuid_0f8c2b1e-5d4a-4c3b-9a2e-6f1d7c8b9a01/") for n in names)
    assert validate_sip(path) == []
    with pytest.raises(FileExistsError):
        build_sip(records, fetcher(src), tmp_path / "out", profile(), package_id=PACKAGE_ID)


def test_refuses_what_is_not_one_account(tmp_path, archive_dir):
    src, records = archive_dir
    other = records[0].model_copy(update={"account": account(id="perstorp-x"), "capture_id": "perstorp-x/2026"})
    with pytest.raises(ValueError, match="one account"):
        build_sip([records[0], other], fetcher(src), tmp_path / "out", profile())
    with pytest.raises(ValueError, match="no captures"):
        build_sip([], fetcher(src), tmp_path / "out", profile())
    assert validate_sip(tmp_path / "nothing-here") == [f"{tmp_path / 'nothing-here'}: no package folder or ZIP"]
    (tmp_path / "empty").mkdir()
    assert "missing METS.xml" in validate_sip(tmp_path / "empty")


def test_archive_fetch_turns_a_missing_key_into_file_not_found(tmp_path):
    from storage import ObjectMissing

    class Archive:
        def download(self, key, dest):
            if key == "gone":
                raise ObjectMissing(key)
            if key == "broken":
                raise RuntimeError("S3 is down")
            Path(dest).write_bytes(b"ok")

    fetch = sip.archive_fetch(Archive())
    fetch("here", tmp_path / "here")
    assert (tmp_path / "here").read_bytes() == b"ok"
    with pytest.raises(FileNotFoundError):
        fetch("gone", tmp_path / "gone")
    with pytest.raises(RuntimeError):
        fetch("broken", tmp_path / "broken")


@pytest.fixture(scope="module")
def eark_validator():
    """eark-validator's PackageValidator, its vocabularies served from the copies it ships."""
    vocabularies = Path(str(importlib.resources.files("eark_validator"))) / "ipxml" / "resources" / "vocabs"

    def offline(url, *args, **kwargs):
        name = str(url).rsplit("/", 1)[-1]
        if str(url).startswith("https://earkcsip.dilcis.eu/schema/") and (vocabularies / name).is_file():
            return (vocabularies / name).open("rb")  # iterated line by line by eark-validator
        raise OSError(f"eark-validator tried to fetch {url}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(urllib.request, "urlopen", offline)
        from eark_validator.packages import PackageValidator
    return PackageValidator


def test_eark_validator_agrees_except_where_it_contradicts_the_profiles(package, eark_validator):
    report = eark_validator(package).validation_report
    assert report.structure.status.name == "WELLFORMED"
    assert [m.rule_id for m in report.structure.messages] == ["CSIPSTR3"]  # "MAY be zipped": info
    assert report.metadata.schema_results.status.name == "VALID", report.metadata.schema_results.messages
    errors = {m.rule_id for m in report.metadata.schematron_results.messages if m.severity.value == "Error"}
    assert errors <= KNOWN_VALIDATOR_ISSUES, errors - KNOWN_VALIDATOR_ISSUES
