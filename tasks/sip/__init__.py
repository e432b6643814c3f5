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

from tasks.sip.build import build_sip
from tasks.sip.model import (
    NS,
    SIP_PROFILE_URL,
    Fetch,
    SipInvalid,
    SipProfile,
    archive_fetch,
)
from tasks.sip.validate import validate_sip

__all__ = ["NS", "SIP_PROFILE_URL", "Fetch", "SipInvalid", "SipProfile", "archive_fetch", "build_sip", "validate_sip"]
