"""``validate_sip``: structure, METS against its XSDs, references and checksums, PREMIS and Dublin Core."""

from __future__ import annotations

import datetime as dt
import functools
import re
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

from somearkiv.fixity import sha256_file
from tasks.sip.model import NS, SIP_PROFILE_URL, TSA_CA_NAME, SipInvalid, _q
from tasks.sip.schematron import schematron_problems

XML_NS = "http://www.w3.org/XML/1998/namespace"


class _Offline(etree.Resolver):
    """Schema imports by URL resolve to the file of that name in *folder* (the package's schemas/) or fail:
    never a download."""

    def __init__(self, folder: Path | None):
        super().__init__()
        self.folder = folder

    def resolve(self, url, pubid, context):
        if url and urlsplit(url).scheme in ("http", "https", "ftp"):
            local = self.folder / PurePosixPath(urlsplit(url).path).name if self.folder else None
            if local is not None and local.is_file():
                return self.resolve_filename(str(local), context)
            raise etree.XMLSchemaParseError(f"refusing to fetch {url}: no {PurePosixPath(urlsplit(url).path).name} "
                                            "in the package's schemas/")
        return None


def _parser(schemas: Path | None = None) -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_Offline(schemas))
    return parser


def _namespaces(tree: etree._ElementTree) -> set[str]:
    """Every namespace of an element or attribute in the document (xsi's is the validator's own)."""
    used = set()
    for el in tree.getroot().iter():
        if isinstance(el.tag, str):
            used.add(etree.QName(el).namespace or "")
            used.update(etree.QName(a).namespace or "" for a in el.attrib)
    return used - {"", NS["xsi"]}


class _PackageSchemas:
    """The XSDs in the package's own schemas/ folder, by target namespace: what the receiver has to validate
    with. Documents are validated against these (in memory: a wrapper importing the namespaces a document
    uses), never against copies outside the package or the network."""

    def __init__(self, root: Path):
        self.folder = root / "schemas"
        self.by_namespace: dict[str, Path] = {}
        self.problems: list[str] = []
        self._compiled: dict[frozenset[str], etree.XMLSchema | str] = {}
        for path in sorted(self.folder.glob("*.xsd")) if self.folder.is_dir() else []:
            try:
                namespace = etree.parse(str(path), _parser(self.folder)).getroot().get("targetNamespace") or ""
            except etree.XMLSyntaxError as exc:
                self.problems.append(f"schemas/{path.name}: not well-formed XML: {exc}")
                continue
            if namespace in self.by_namespace:
                self.problems.append(f"schemas/{path.name}: a second schema for {namespace} "
                                     f"(also schemas/{self.by_namespace[namespace].name})")
            self.by_namespace.setdefault(namespace, path)

    def check(self, root: Path, rel: str, tree: etree._ElementTree) -> list[str]:
        """The document *rel* against the package's schemas, and its xsi:schemaLocation pointing into them."""
        used = _namespaces(tree)
        missing = sorted(ns for ns in used if ns not in self.by_namespace and ns != XML_NS)
        problems = [f"{rel}: the package's schemas/ has no schema for {ns}, which it uses (CSIP113)" for ns in missing]
        problems += self._locations(root, rel, tree)
        if missing:
            return problems
        schema = self._schema(frozenset(ns for ns in used if ns in self.by_namespace))
        if isinstance(schema, str):
            return problems + [f"{rel}: the package's schemas do not compile: {schema}"]
        if not schema.validate(tree):
            problems += [f"{rel}: line {e.line}: {e.message}" for e in list(schema.error_log)[:20]]
        return problems

    def _schema(self, namespaces: frozenset[str]) -> etree.XMLSchema | str:
        if namespaces not in self._compiled:
            imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="{self.by_namespace[ns].name}"/>'
                              for ns in sorted(namespaces))
            wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
            try:
                doc = etree.fromstring(wrapper.encode(), _parser(self.folder), base_url=f"{self.folder}/wrapper.xsd")
                self._compiled[namespaces] = etree.XMLSchema(doc)
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
                self._compiled[namespaces] = str(exc)
        return self._compiled[namespaces]

    def _locations(self, root: Path, rel: str, tree: etree._ElementTree) -> list[str]:
        """Each xsi:schemaLocation pair names a schema inside the package with that target namespace."""
        pairs = (tree.getroot().get(_q("xsi:schemaLocation")) or "").split()
        problems = []
        for ns, location in zip(pairs[::2], pairs[1::2], strict=False):
            target = ((root / rel).parent / unquote(location)).resolve()
            if urlsplit(location).scheme or not target.is_relative_to(root.resolve()) or not target.is_file():
                problems.append(f"{rel}: xsi:schemaLocation {location!r} for {ns} is not a file in the package")
            elif ns not in self.by_namespace or self.by_namespace[ns].resolve() != target:
                problems.append(f"{rel}: xsi:schemaLocation {location!r} is not the package's schema for {ns}")
        return problems


def _parse(root: Path, rel: str, problems: list[str]) -> etree._ElementTree | None:
    try:
        return etree.parse(str(root / rel), _parser(None))
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


def _check_mets(root: Path, rel: str, referenced: set[str], ids: dict[str, list[str]], is_root: bool,
                schemas: _PackageSchemas) -> list[str]:
    problems: list[str] = []
    tree = _parse(root, rel, problems)
    if tree is None:
        return problems
    problems += schemas.check(root, rel, tree)
    mets = tree.getroot()
    folder = root.name if is_root else PurePosixPath(rel).parent.name
    if mets.get("OBJID") != folder:
        problems.append(f"{rel}: @OBJID {mets.get('OBJID')!r} is not the name of its folder {folder!r} (CSIP1)")
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
        if x("string(mets:structMap[@LABEL='CSIP']/mets:div/@LABEL)") != mets.get("OBJID"):
            problems.append(f"{rel}: the CSIP structMap's main div @LABEL is not the @OBJID (CSIP86)")
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


def _check_premis(root: Path, rel: str, data_dirs: list[str], whole_package: bool,
                  schemas: _PackageSchemas) -> list[str]:
    """PREMIS 3.0: against the package's PREMIS XSD, and by XPath for what an XSD cannot say (fixity against
    the files, events linked to defined agents and objects)."""
    problems: list[str] = []
    tree = _parse(root, rel, problems)
    if tree is None:
        return problems
    problems += schemas.check(root, rel, tree)
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


def _check_dublin_core(root: Path, schemas: _PackageSchemas) -> list[str]:
    problems: list[str] = []
    for path in sorted((root / "metadata" / "descriptive").glob("*.xml")):
        rel = path.relative_to(root).as_posix()
        tree = _parse(root, rel, problems)
        if tree is not None:
            problems += schemas.check(root, rel, tree)
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
    schemas = _PackageSchemas(root)
    problems += schemas.problems
    reps = sorted(p.parent.name for p in (root / "representations").glob("*/METS.xml"))
    problems += _check_mets(root, "METS.xml", referenced, ids, is_root=True, schemas=schemas)
    for rep in reps:
        problems += _check_mets(root, f"representations/{rep}/METS.xml", referenced, ids, is_root=False,
                                schemas=schemas)
    problems += [f"ID {id_!r} is not unique: in {', '.join(where)}" for id_, where in sorted(ids.items())
                 if len(where) > 1]
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    problems += [f"{path}: in the package but referenced from no METS" for path in sorted(on_disk - referenced)]
    if (root / "metadata/preservation/premis.xml").is_file():
        problems += _check_premis(root, "metadata/preservation/premis.xml",
                                  [f"representations/{rep}/data" for rep in reps], whole_package=True, schemas=schemas)
    for rep in reps:
        rel = f"representations/{rep}/metadata/preservation/premis.xml"
        if (root / rel).is_file():
            problems += _check_premis(root, rel, [f"representations/{rep}/data"], whole_package=False,
                                      schemas=schemas)
    problems += _check_dublin_core(root, schemas)
    problems += _check_timestamps(root)
    problems += schematron_problems(root / "METS.xml")
    return problems


def _check_timestamps(root: Path) -> list[str]:
    """Every token against its manifest and, when the package holds the TSA's CA, against that CA: offline,
    with only what is in the package. The validation data beside a token must be what its name says."""
    from cryptography import x509

    from tasks.timestamp import MANIFEST_NAME, TOKEN_NAME, verify_timestamp

    base = root / "metadata" / "preservation" / "timestamps"
    ca = (base / TSA_CA_NAME).read_bytes() if (base / TSA_CA_NAME).is_file() else None
    problems = []
    for token in sorted(base.glob(f"*/{TOKEN_NAME}")):
        rel = token.relative_to(root).as_posix()
        manifest = token.with_name(MANIFEST_NAME)
        if not manifest.is_file():
            problems.append(f"{rel}: no {MANIFEST_NAME} beside it")
            continue
        check = verify_timestamp(token.read_bytes(), manifest.read_bytes(), trusted_ca_pem=ca)
        if not check.valid and (ca is not None or not check.matches_manifest):
            problems.append(f"{rel}: the timestamp does not verify with what the package holds: {check.reason}")
        chain = token.with_name(TOKEN_NAME + ".chain.pem")
        if chain.is_file():
            try:
                x509.load_pem_x509_certificates(chain.read_bytes())
            except ValueError as exc:
                problems.append(f"{chain.relative_to(root).as_posix()}: not PEM certificates: {exc}")
    for orphan in sorted(base.glob(f"*/{TOKEN_NAME}.*")):
        if not orphan.with_name(TOKEN_NAME).is_file():
            problems.append(f"{orphan.relative_to(root).as_posix()}: validation data without its token")
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
