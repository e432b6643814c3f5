"""The E-ARK reference validator's schematron rules (``eark-validator``, CSIP and SIP 2.1), run offline.

``eark-validator`` runs its schematron on the root METS only, after filling in four vocabulary tests it
downloads from earkcsip.dilcis.eu when imported. Here the same rule files are run with lxml, the vocabulary
tests filled in from the copies the package ships (no network, and nothing of eark-validator is imported).
Where ``eark-validator`` is not installed, this check is skipped (``schematron_findings`` says so).

Every ERROR it reports is a problem, except the findings listed in ``KNOWN_VALIDATOR_BUGS``: rules whose test
contradicts the published CSIP/SIP 2.1 profiles, each recognised by what the failing element is (not just
by rule id), so a real error under the same rule id still counts. README ("E-ARK SIP export") documents them
with their upstream references.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from lxml.isoschematron import Schematron

from tasks.sip.model import NS

__all__ = ["KNOWN_VALIDATOR_BUGS", "Finding", "schematron_findings", "schematron_problems"]

SPEC_VERSION = "V2.1.0"
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_LOCK = threading.Lock()  # a compiled Schematron keeps its last report: one validation at a time
_VOCABULARY_TESTS = {  # placeholder in the rule files -> vocabulary file shipped with eark-validator
    "@TYPE_vocabulary_test": ("@TYPE", "CSIPVocabularyContentCategory.xml"),
    "@csip:CONTENTINFORMATIONTYPE_vocabulary_test": ("@csip:CONTENTINFORMATIONTYPE",
                                                     "CSIPVocabularyContentInformationType.xml"),
    "@csip:OAISPACKAGETYPE_vocabulary_test": ("@csip:OAISPACKAGETYPE", "CSIPVocabularyOAISPackageType.xml"),
    "@STATUS_vocabulary_test": ("@STATUS", "CSIPVocabularyStatus.xml"),
}


@dataclass(frozen=True)
class Finding:
    rule: str  # CSIP63, SIP14 ...
    role: str  # ERROR, WARN ...
    location: str
    message: str
    known_bug: str | None = None  # why this finding is the validator's error, not the package's


def _attr(el: etree._Element, name: str) -> str | None:
    prefix, _, local = name.rpartition(":")
    return el.get(f"{{{NS[prefix]}}}{local}" if prefix else name)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _sip_agent(el: etree._Element) -> bool:
    """A SIP submitting (SIP15-20) or contact (SIP21-25) agent: ROLE=CREATOR, TYPE ORGANIZATION/INDIVIDUAL."""
    return _local(el) == "agent" and el.get("ROLE") == "CREATOR" and el.get("TYPE") in ("ORGANIZATION", "INDIVIDUAL")


def _creator_note(el: etree._Element) -> bool:
    """A note of a CREATOR agent as the profiles want it: the software's csip:NOTETYPE='SOFTWARE VERSION'
    (CSIP16), the submitter's csip:NOTETYPE='IDENTIFICATIONCODE' (SIP20), the contact's untyped details (SIP25)."""
    agent = el.getparent()
    return (_local(el) == "note" and agent is not None and agent.get("ROLE") == "CREATOR"
            and (_attr(el, "csip:NOTETYPE") in ("SOFTWARE VERSION", "IDENTIFICATIONCODE")
                 or agent.get("TYPE") == "INDIVIDUAL"))


def _group_without_type(el: etree._Element) -> bool:
    return _local(el) == "fileGrp" and _attr(el, "csip:CONTENTINFORMATIONTYPE") is None


def _divided_by_representation_mets(el: etree._Element) -> bool:
    """The main div has one div per representation METS (CSIP105-112), which is when CSIP101-104 do not apply."""
    return _local(el) == "div" and bool(el.xpath("mets:div[starts-with(@LABEL, 'Representations/')]/mets:mptr",
                                                namespaces=NS))


# rule id -> (why it is the validator's bug, how to recognise the element it wrongly fails)
KNOWN_VALIDATOR_BUGS: dict[str, tuple[str, Callable[[etree._Element], bool]]] = {
    "CSIP12": ("eark-validator applies CSIP12-16 (the software agent: TYPE=OTHER, OTHERTYPE=SOFTWARE, SOFTWARE "
               "VERSION note) to every CREATOR agent, but SIP15-25 require CREATOR agents of TYPE ORGANIZATION "
               "(submitter) and INDIVIDUAL (contact); CSIP10 allows agents beside the software one "
               "(DILCISBoard/E-ARK-CSIP#646)", _sip_agent),
    "CSIP13": ("as CSIP12", _sip_agent),
    "CSIP16": ("as CSIP12", _sip_agent),
    "CSIP63": ("the rule's test `(@csip:CONTENTINFORMATIONTYPE = 'OTHER' and @csip:OTHERCONTENTINFORMATIONTYPE) "
               "or (@csip:CONTENTINFORMATIONTYPE != 'OTHER' and not(@csip:CONTENTINFORMATIONTYPE))` is false for "
               "every fileGrp without the (optional, CSIP62) attribute, e.g. Documentation and Schemas; the "
               "official E-ARK example minimal_IP_with_schemas fails it too (DILCISBoard/E-ARK-CSIP#268 on what "
               "the attribute is for)", _group_without_type),
    "CSIP103": ("asserted unconditionally, but a div LABEL='Representations' is only wanted when no representation "
                "has its own METS (CSIP101); with representation METS, CSIP105-112 put 'Representations/<rep>' "
                "divs under the main div (DILCISBoard/E-ARK-CSIP#749, #698)", _divided_by_representation_mets),
    "SIP14": ("tests an unnamespaced @NOTETYPE='IDENTIFICATIONCODE' on every CREATOR agent's note, so it also fails "
              "the software agent's note that CSIP16 requires to be csip:NOTETYPE='SOFTWARE VERSION'; SIP14 of the "
              "profile is about the ARCHIVIST agent's csip:NOTETYPE", _creator_note),
}


def _resources() -> Path | None:
    if importlib.util.find_spec("eark_validator") is None:
        return None
    return Path(str(importlib.resources.files("eark_validator"))) / "ipxml" / "resources"


def _terms(path: Path) -> list[str]:
    tree = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    return [t.text.strip() for t in tree.iter() if isinstance(t.tag, str) and etree.QName(t).localname == "Term"
            and t.text]


def _test(attribute: str, values: list[str]) -> str:
    return " or ".join(f"({attribute} = '{v}')" for v in values if "'" not in v) or "false()"


@functools.lru_cache(maxsize=1)
def _rulesets() -> tuple[tuple[str, Schematron], ...]:
    """(name, compiled rules) for every CSIP and SIP rule file of eark-validator, vocabularies filled in."""
    resources = _resources()
    if resources is None:
        return ()
    vocabs = resources / "vocabs"
    tests = {name: _test(attribute, _terms(vocabs / file)) for name, (attribute, file) in _VOCABULARY_TESTS.items()}
    iana = (vocabs / "IANA.txt").read_text(encoding="utf-8").split()
    tests["@MIMETYPE_IANA_test"] = _test("@MIMETYPE", iana)
    compiled = []
    for spec in ("CSIP", "SIP"):
        for path in sorted((resources / "schematron" / SPEC_VERSION / spec).glob("mets_*_rules.xml")):
            text = path.read_text(encoding="utf-8")
            for name, test in tests.items():
                text = text.replace(name, test)
            compiled.append((f"{spec}/{path.name}", Schematron(etree.fromstring(text.encode()), store_report=True)))
    return tuple(compiled)


def schematron_findings(mets: Path) -> list[Finding] | None:
    """Every failed assertion of the reference validator's rules on *mets* (None: eark-validator is not
    installed, nothing was checked)."""
    rulesets = _rulesets()
    if not rulesets:
        return None
    tree = etree.parse(str(mets), etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False))
    findings = []
    reports = []
    with _LOCK:
        for _name, rules in rulesets:
            rules.validate(tree)
            reports.append(rules.validation_report)
    for report in reports:
        for failed in report.getroot().iter(f"{_SVRL}failed-assert"):
            rule, location = failed.get("id") or "?", failed.get("location") or ""
            message = " ".join(failed.findtext(f"{_SVRL}text", "").split())
            bug = KNOWN_VALIDATOR_BUGS.get(rule)
            known = None
            if bug is not None:
                try:
                    nodes = tree.xpath(location)
                except etree.XPathError:
                    nodes = []
                if nodes and all(isinstance(n, etree._Element) and bug[1](n) for n in nodes):
                    known = bug[0]
            findings.append(Finding(rule, (failed.get("role") or "ERROR").upper(), location, message, known))
    return findings


def schematron_problems(mets: Path) -> list[str]:
    """The reference validator's errors on the root METS that are not one of its known bugs."""
    if not mets.is_file():
        return []
    findings = schematron_findings(mets)
    return [f"{mets.name}: E-ARK validator rule {f.rule} fails at {f.location}: {f.message}" for f in findings or []
            if f.role == "ERROR" and f.known_bug is None]
