"""Documentation, schemas and Dublin Core: the package's README, its XSDs and its descriptive metadata."""

from __future__ import annotations

import shutil

from somearkiv import __version__
from tasks.sip.model import (
    NS,
    PRESERVATION,
    SCHEMAS,
    SUPPORTING,
    TOKEN_COMPANIONS,
    TSA_CA_NAME,
    _capture_dir,
    _el,
    _Entry,
    _iso,
    _Package,
    _schema_dir,
    _schema_location,
    _write_xml,
)


def _copy_schemas(pkg: _Package) -> None:
    (pkg.root / "schemas").mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:  # every schema the package's XML uses (tasks/sip/schemas/SOURCES.md)
        shutil.copyfile(_schema_dir() / name, pkg.root / "schemas" / name)
        pkg.add(f"schemas/{name}", "application/xml")


def _write_readme(pkg: _Package) -> None:
    account, (first, last) = pkg.account, pkg.period
    timestamped = sum(1 for c in pkg.captures if c.token is not None)
    companions = ", ".join(f"manifest.tsr{suffix.format('N')}" for suffix in TOKEN_COMPANIONS) + ", seal.json"
    ca = TSA_CA_NAME
    ca_note = "" if pkg.tsa_ca else " (saknas i detta paket: arkivet hade ingen CA konfigurerad)"
    text = f"""Leveranspaket (E-ARK SIP 2.1 / CSIP 2.1) skapat av somearkiv {__version__}

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
  manifest.tsr (RFC 3161-tidsstämpel över manifestet), där sådana finns, och tidsstämpelns
  valideringsdata där arkivet har dem: {companions}.
- metadata/preservation/timestamps/{ca}: tidsstämpeltjänstens CA-certifikat{ca_note}.
- metadata/other/records/<fångst>/record.json: somearkivs post om fångsten.
- schemas/: alla XML-scheman som paketets XML-filer använder: METS 1.12 (mets.xsd), XLink, xml.xsd,
  DILCIS:s tilläggsscheman för CSIP och SIP, PREMIS 3.0 (premis-v3-0.xsd), Dublin Core
  (simpledc20021212.xsd) och oai_dc (oai_dc.xsd). Varje XML-fil pekar ut dem med relativa sökvägar i
  xsi:schemaLocation. Schemana är oförändrade; där ett schema importerar ett annat med en webbadress
  används filen med samma namn i schemas/, så att paketet kan valideras utan nätverk.

Vad en tidsstämpel visar
En tidsstämpel visar att exakt dessa byte fanns vid den tidpunkten, inte att sidan såg ut så.
Hur sidan såg ut när den fångades styrks av fångstens post (record.json) och händelserna i PREMIS.
Kontroll utan somearkiv, i metadata/preservation/timestamps/<fångst>/:
  openssl ts -verify -in manifest.tsr -data manifest.json -CAfile ../{ca}
(med -untrusted manifest.tsr.chain.pem om den finns), och därefter SHA-256 för varje fil mot manifest.json.
"""
    path = pkg.root / "documentation" / "README.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    pkg.add("documentation/README.txt", "text/plain")


def _dc(values: list[tuple[str, str]], pkg: _Package, rel: str) -> None:
    root = _el(None, "oai_dc:dc", xsi__schemaLocation=_schema_location(rel, (NS["oai_dc"], NS["dc"])))
    for name, value in values:
        _el(root, f"dc:{name}", value)
    _write_xml(root, pkg.root / rel)


def _write_dublin_core(pkg: _Package) -> _Entry:
    account, (first, last), profile = pkg.account, pkg.period, pkg.profile
    period = f"{_iso(first)}/{_iso(last)}"
    path = "metadata/descriptive/dc-account.xml"
    _dc([("title", f"{account.name} ({account.platform.value}: {account.handle})"),
         ("creator", profile.archival_creator_name), ("subject", "Sociala medier"),
         ("description", f"{account.purpose} Ansvarig: {account.department}, {account.responsible}."),
         ("publisher", pkg.captures[0].record.municipality), ("date", period), ("type", "Collection"),
         ("identifier", str(account.url)), ("identifier", account.id), ("language", profile.language),
         ("coverage", period), ("relation", pkg.package_id)], pkg, path)
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
             ("language", profile.language), ("relation", str(account.url))], pkg, path)
        capture.dc = pkg.add(path, "application/xml", record=record)
    return account_dc
