"""Hand-over to the e-archive: one E-ARK SIP 2.1 (CSIP 2.1) package per account and period.

Why E-ARK: the Swedish FGS Paketstruktur 2.0 builds on E-ARK CSIP, so a CSIP/SIP package is what a
Swedish e-archive (and most European ones) can take in without a custom import. The package:

    <package id>/                         (= mets/@OBJID; the id with anything but [A-Za-z0-9._-] made '_')
      METS.xml                            root METS: CSIP attributes, SIP/FGS agents, dmdSec/amdSec/fileSec/structMap
      metadata/descriptive/dc-*.xml       Dublin Core (oai_dc) for the account and for each capture
      metadata/preservation/premis.xml    PREMIS 3.0: objects (SHA-256, size, format), events, agents
      metadata/preservation/timestamps/tsa-ca.pem                                (the TSA's CA, when configured)
      metadata/preservation/timestamps/<capture>/manifest.json, manifest.tsr     (where a capture has them)
          manifest.tsr.chain.pem, .ocsp.der, .crl.der                            (the token's validation data, if filed)
      metadata/other/records/<capture>/record.json                               (the capture record)
      representations/rep1/               the preservation representation: the PDF/A-2b snapshots
        METS.xml, metadata/preservation/premis.xml, data/<capture>/startpage.pdf
      representations/rep2/               supporting files of the same captures: PNG, HTML, print PDF, WARC ...
      documentation/README.txt            what the package is, and what a timestamp does and does not prove
      schemas/                            every XSD its XML uses: METS, XLink, xml, DILCIS CSIP/SIP, PREMIS 3.0,
                                          Simple DC, oai_dc (tasks/sip/schemas/SOURCES.md)

Every file is fetched through the caller's ``fetch`` and checked against the SHA-256 of its capture
record before it goes in (the PREMIS "fixity check" events say so); the export task's ``fetch`` reads
each object by the version the custody ledger says was filed (``custody_versions``). ``build_sip``
validates what it made with ``validate_sip`` and leaves nothing behind if it is not valid.

``validate_sip`` uses only what is in the package, as a receiver would: the folder structure; every XML
document against the XSDs in the package's own ``schemas/`` (a namespace without a schema there is a
problem, CSIP113; imports by URL resolve to the file of that name there, never to the network), and its
xsi:schemaLocation pointing at them; @OBJID equal to the folder name (CSIP1); the CSIP attributes this
exporter relies on; every SIZE and SHA-256 in METS against the file; every file referenced and every
reference present; unique IDs; PREMIS fixity against the files and events linked to defined agents and
objects; every RFC 3161 token against its manifest and the CA in the package; and, where eark-validator
is installed, the E-ARK reference validator's CSIP/SIP schematron (``tasks.sip.schematron``, with its
known bugs documented there and in the README).
"""

from tasks.sip.build import build_sip
from tasks.sip.model import (
    NS,
    SIP_PROFILE_URL,
    Fetch,
    SipInvalid,
    SipProfile,
    archive_fetch,
    custody_versions,
    load_profile,
)
from tasks.sip.validate import validate_sip

__all__ = ["NS", "SIP_PROFILE_URL", "Fetch", "SipInvalid", "SipProfile", "archive_fetch", "build_sip",
           "custody_versions", "load_profile", "validate_sip"]
