"""Disclosure with masking (utlämnande med maskning): a masked copy of a capture for a request under
offentlighetsprincipen, and the record of the decision.

What it does, from the filed capture (which is only read, never touched):

1. reads the capture's record by the version the custody ledger says was filed, and downloads the
   page images the archival PDF was made from (``startpage.png`` = page 1, ``startpage-mobile.png`` =
   page 2) and their word boxes (``words-desktop.json`` / ``words-mobile.json``), each checked against
   the SHA-256 it was filed with and the one in the record;
2. finds every occurrence of each mask text in the words the browser drew: case-insensitive, ignoring
   punctuation and spacing, over consecutive words (a name over two words, a phone number the page
   split into several), starting and ending at a word or punctuation boundary ("Anna" masks "Anna," and
   "anna@exempel.se" but not "Annan");
3. burns opaque boxes into the page images (the pixels are replaced; nothing is laid over them): each
   matched word's whole box with a margin, and every region given by hand;
4. leaves the masked words out of the text layer (and any word a region touches, or a box mostly covers);
5. adds a margin above each page with the stamp "Maskerad kopia – utlämnad <date>" and the legal ground,
   drawn in DejaVu Sans (the bundled font) and in the text layer, so it reads and extracts;
6. writes the copy as PDF/A-2b (tasks.archival_pdf.write_pdfa: validated by pikepdf, read back and compared pixel
   for pixel with the masked images; then tasks.pdfcheck), and checks that no mask text can be extracted
   from it (text layer and metadata) before anything is filed;
7. files the copy, then ``disclosure.json`` (a DisclosureRecord: the capture, the masks as regions per page,
   the legal ground, who decided and when, the copy's SHA-256), under
   ``disclosures/<capture-id>/<time>/``, locked, then a ``disclosure`` custody-ledger entry and audit event.

Mask texts are personal data or secret by definition: they are kept in the disclosure record (and shown
to the reviewer in the flow's preview), never in logs, events, object metadata, the copy's metadata or its
stamp.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pikepdf
import pypdf
from PIL import Image, ImageDraw, ImageFont
from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv import __version__
from somearkiv.fixity import sha256_file
from somearkiv.models import (
    ArchivedFile,
    AskRecord,
    CaptureRecord,
    DisclosureMask,
    DisclosurePage,
    DisclosureRecord,
    DisclosureRegion,
    FileRole,
    LedgerObject,
    ObjectLock,
    PdfaInfo,
)
from somearkiv.retention import cached_schedule, records_lock
from somearkiv.settings import Settings, get_settings
from storage import Archive
from storage.archive import Companion
from storage.errors import FixityError
from tasks.archival_pdf import PageImage, PdfaConversionError, write_pdfa
from tasks.pdfa import pdfa_info
from tasks.pdfcheck import check_pdf
from tasks.typeset import FONTS

__all__ = [
    "COPY_NAME",
    "DISCLOSURES_CLASS",
    "MASK_COLOUR",
    "RECORD_NAME",
    "DisclosureError",
    "MaskLeak",
    "Prepared",
    "RegionSpec",
    "disclosure_lock",
    "fetch_sources",
    "file_disclosure",
    "find_capture",
    "find_occurrences",
    "leaked_masks",
    "parse_region",
    "prepare_disclosure",
    "preview_images",
    "remove_workdir",
    "word_box",
]

COPY_NAME = "startpage-maskerad.pdf"
RECORD_NAME = "disclosure.json"
DISCLOSURES_CLASS = "disclosures"  # a retention class of this id in config/retention.yaml governs disclosures
MASK_COLOUR = (0, 0, 0)
STAMP_COLOUR = (150, 0, 0)
_STOCKHOLM = ZoneInfo("Europe/Stockholm")
_FONT = FONTS / "DejaVuSans.ttf"
_STAMP_PT = 13  # CSS px of the stamp's letters (times the page's scale in pixels)
_COVERED = 0.3  # a word this share of whose box lies under a mask box is left out of the text layer too
_PAGES = (("startpage.png", "words-desktop.json", FileRole.screenshot),
          ("startpage-mobile.png", "words-mobile.json", FileRole.screenshot_mobile))

Word = tuple[str, float, float, float, float]  # text, x, y, width, height in CSS px
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels (x1, y1 exclusive)


class DisclosureError(Exception):
    """The disclosure cannot be made as asked: an unknown capture, a bad mask or region, no word boxes, or
    a mask text that could still be read in the copy."""


class MaskLeak(DisclosureError):
    """A mask text can still be read in the finished copy (its text or metadata): nothing is filed."""


# -- what to mask ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSpec:
    """A region to mask given by hand: page (1 desktop, 2 mobile) and a box in that page image's pixels."""

    page: int
    x: int
    y: int
    width: int
    height: int


_REGION = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$")


def parse_region(text: str) -> RegionSpec:
    """``PAGE:x,y,w,h`` (pixels of the page image, as in the preview or the filed PNG) as a RegionSpec."""
    found = _REGION.match(text)
    if not found:
        raise DisclosureError(f"region {text!r} is not PAGE:x,y,w,h (e.g. 1:100,200,300,40: page 1, pixels)")
    page, x, y, w, h = (int(v) for v in found.groups())
    if page < 1 or w < 1 or h < 1:
        raise DisclosureError(f"region {text!r}: the page counts from 1 and the width and height must be positive")
    return RegionSpec(page, x, y, w, h)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def mask_key(text: str) -> str:
    """What a mask text is matched by: its letters and digits, folded (case, compatibility forms)."""
    return "".join(c for c in _fold(text) if c.isalnum())


def find_occurrences(words: Sequence[str], mask: str) -> list[tuple[int, ...]]:
    """Every occurrence of *mask* in *words* (in reading order), as the indices of the words it spans.

    Case-insensitive; punctuation and spaces are ignored on both sides, so "070-123 45 67" finds
    ["070-12345", "67"] and "Anna Andersson" finds ["Anna", "Andersson,"]. An occurrence starts and ends at
    a boundary (a word's edge, or punctuation inside it): "Anna" does not find "Annan" or "Susanna".
    """
    target = mask_key(mask)
    if not target:
        raise DisclosureError(f"the mask {mask!r} has no letters or digits to look for")
    chars: list[str] = []
    owner: list[int] = []
    starts: set[int] = set()
    ends: set[int] = set()
    for index, word in enumerate(words):
        inside = False
        for c in _fold(word):
            if c.isalnum():
                if not inside:
                    starts.add(len(chars))
                chars.append(c)
                owner.append(index)
                inside = True
            else:
                if inside:
                    ends.add(len(chars))
                inside = False
        if inside:
            ends.add(len(chars))
    stream = "".join(chars)
    found: list[tuple[int, ...]] = []
    at = stream.find(target)
    while at != -1:
        end = at + len(target)
        if at in starts and end in ends:
            span = tuple(range(owner[at], owner[end - 1] + 1))  # with punctuation-only words inside it
            if span not in found:
                found.append(span)
        at = stream.find(target, at + 1)
    return found


def word_box(word: Word, scale: float, size: tuple[int, int]) -> Box:
    """The pixels a matched word is masked with: its whole box, with a margin of a fifth of its height
    (at least 2 px) on every side for antialiasing, overhangs and rounding; clipped to the image."""
    _, x, y, w, h = word
    pad = max(2.0, 0.2 * h * scale)
    return (max(0, math.floor(x * scale - pad)), max(0, math.floor(y * scale - pad)),
            min(size[0], math.ceil((x + w) * scale + pad)), min(size[1], math.ceil((y + h) * scale + pad)))


def _pixels(word: Word, scale: float) -> tuple[float, float, float, float]:
    _, x, y, w, h = word
    return x * scale, y * scale, (x + w) * scale, (y + h) * scale


def _overlap(a: tuple[float, float, float, float], b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


# -- the capture's originals ----------------------------------------------------------------------------


def find_capture(archive: Archive, capture_id: str) -> CaptureRecord:
    """The filed record of *capture_id*, read by the version the custody ledger names."""
    if "/" not in capture_id.strip("/"):
        raise DisclosureError(f"{capture_id!r} is not a capture id (<account>/<time>-<trigger>; "
                              "`somearkiv captures` lists them)")
    found = [r for r in archive.captures_named(capture_id.strip("/")) if r.capture_id == capture_id.strip("/")]
    if not found:
        raise DisclosureError(f"no filed capture {capture_id!r} (`somearkiv captures` lists them)")
    return found[-1]


def fetch_sources(archive: Archive, record: CaptureRecord, dest: Path) -> dict[str, tuple[Path, LedgerObject]]:
    """Download the page images and word boxes the archival PDF was made from, each by its filed version,
    checked against the SHA-256 it was filed with and the one in the capture record."""
    wanted = {name for png, words, _ in _PAGES for name in (png, words)}
    out: dict[str, tuple[Path, LedgerObject]] = {}
    for f in record.files:
        if f.name not in wanted:
            continue
        if not f.key:
            raise DisclosureError(f"{record.capture_id}: {f.name} has no key in the record: not filed")
        path = dest / f.name
        info = archive.download(f.key, path, f.version_id)
        if info.sha256 != f.sha256 or sha256_file(path) != f.sha256:
            raise FixityError(f"{f.key}: its bytes are not the ones the capture record names (sha256 {f.sha256})")
        out[f.name] = (path, LedgerObject(key=f.key, version_id=f.version_id or info.version_id, size=info.size,
                                          sha256=f.sha256))
    if "startpage.png" not in out:
        raise DisclosureError(f"{record.capture_id} has no filed startpage.png to make a masked copy from")
    return out


# -- the masked pages -----------------------------------------------------------------------------------


@dataclass
class _Page:
    number: int
    source: str
    png: Path
    words: list[Word]
    scale: float
    has_words: bool


def _stamp_font(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONT), max(6, round(size)))


def _stamp(image: Image.Image, lines: list[str], scale: float) -> tuple[Image.Image, int, list[Word]]:
    """*image* below a white margin holding *lines* (DejaVu Sans, dark red), and the stamp's words (CSS px,
    for the text layer) with the margin's height in pixels."""
    width = image.size[0]
    pad = round(6 * scale)
    font = _stamp_font(_STAMP_PT * scale)
    while font.size > 6 and max(font.getlength(line) for line in lines) > width - 2 * pad:
        font = _stamp_font(font.size - 1)
    ascent, descent = font.getmetrics()
    line_height = ascent + descent
    band = 2 * pad + len(lines) * line_height
    page = Image.new(image.mode, (width, image.size[1] + band), "white")
    page.paste(image, (0, band))
    draw = ImageDraw.Draw(page)
    colour = STAMP_COLOUR if image.mode == "RGB" else 60
    rule = max(1, round(scale))  # a grey rule at the margin's foot, inside the margin: the page is not touched
    draw.rectangle([0, band - rule, width - 1, band - 1], fill=(128, 128, 128) if image.mode == "RGB" else 128)
    words: list[Word] = []
    for number, line in enumerate(lines):
        top = pad + number * line_height
        draw.text((pad, top), line, font=font, fill=colour)
        for found in re.finditer(r"\S+", line):
            x = pad + font.getlength(line[:found.start()])
            w = font.getlength(found.group())
            words.append((found.group(), x / scale, top / scale, w / scale, line_height / scale))
    return page, band, words


def _mask_page(page: _Page, texts: Sequence[str], regions: Sequence[RegionSpec], lines: list[str],
               out: Path) -> tuple[list[tuple[int, list[DisclosureRegion]]], list[DisclosureRegion], DisclosurePage,
                                   PageImage]:
    """Burn the masks into one page image, stamp it, and keep the words nobody masked.

    Returns, per mask text, its occurrences on the page and the regions masked for them; the hand-given
    regions; the page's account; and the page ready for the PDF (the masked, stamped PNG written to
    *out*, with its words)."""
    with Image.open(page.png) as opened:
        image = opened.convert("RGB") if opened.mode not in ("RGB", "L") else opened.copy()
    size = image.size
    removed: set[int] = set()
    covered: list[Box] = []
    per_text: list[tuple[int, list[DisclosureRegion]]] = []
    for text in texts:
        regions_for: list[DisclosureRegion] = []
        spans = find_occurrences([w[0] for w in page.words], text)
        for span in spans:
            for index in span:
                removed.add(index)
                x0, y0, x1, y1 = word_box(page.words[index], page.scale, size)
                if x1 > x0 and y1 > y0:
                    covered.append((x0, y0, x1, y1))
                    regions_for.append(DisclosureRegion(page=page.number, x=x0, y=y0, width=x1 - x0, height=y1 - y0))
        per_text.append((len(spans), regions_for))
    given: list[DisclosureRegion] = []
    for spec in regions:
        x0, y0 = min(spec.x, size[0]), min(spec.y, size[1])
        x1, y1 = min(spec.x + spec.width, size[0]), min(spec.y + spec.height, size[1])
        if x1 <= x0 or y1 <= y0:
            raise DisclosureError(f"region {spec.page}:{spec.x},{spec.y},{spec.width},{spec.height} lies outside "
                                  f"page {page.number} ({size[0]}×{size[1]} px)")
        given.append(DisclosureRegion(page=page.number, x=x0, y=y0, width=x1 - x0, height=y1 - y0))
        for index, word in enumerate(page.words):  # a region hides whatever it touches from the text too
            if _overlap(_pixels(word, page.scale), (x0, y0, x1, y1)) > 0:
                removed.add(index)
        covered.append((x0, y0, x1, y1))
    for index, word in enumerate(page.words):  # a word mostly under a box is not left readable as text
        area = word[3] * word[4] * page.scale * page.scale
        if index not in removed and area > 0 and max(
                (_overlap(_pixels(word, page.scale), box) for box in covered), default=0) > _COVERED * area:
            removed.add(index)
    draw = ImageDraw.Draw(image)
    fill = MASK_COLOUR if image.mode == "RGB" else 0
    for x0, y0, x1, y1 in covered:
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=fill)
    stamped, band, stamp_words = _stamp(image, lines, page.scale)
    stamped.save(out, "PNG", compress_level=6)
    kept = [(t, x, y + band / page.scale, w, h) for i, (t, x, y, w, h) in enumerate(page.words) if i not in removed]
    info = DisclosurePage(page=page.number, source=page.source, width=size[0], height=size[1], margin_top=band,
                          words_kept=len(kept), words_removed=len(removed))
    return per_text, given, info, PageImage(out, tuple(stamp_words + kept), page.scale)


# -- the copy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A masked copy made and checked, not yet filed (the flow shows it for review first)."""

    capture_id: str
    account_id: str
    municipality: str
    made_at: dt.datetime
    disclosed_on: dt.date
    stamp: str
    legal_ground: str
    pdf: Path
    previews: tuple[Path, ...]
    sources: tuple[LedgerObject, ...]
    masks: tuple[DisclosureMask, ...]
    pages: tuple[DisclosurePage, ...]
    pdfa: PdfaInfo
    workdir: Path
    notes: tuple[str, ...] = field(default=())

    @property
    def unmatched(self) -> list[int]:
        """The positions (from 1) of mask texts that were found nowhere."""
        return [n for n, m in enumerate(self.masks, 1) if m.kind == "text" and m.matches == 0]


def _xmp(record: CaptureRecord, prepared_stamp: str, ground: str, when: dt.datetime, sources: dict,
         digests: dict[str, str], regions: int) -> dict[str, object]:
    account = record.account
    local = record.started_at.astimezone(_STOCKHOLM)
    original = next((f.key for f in record.files if f.role is FileRole.archival and f.key), None) or \
        sources["startpage.png"][1].key
    stamp = when.astimezone(dt.UTC).isoformat(timespec="seconds")
    return {
        "dc:title": f"Maskerad kopia av ögonblicksbild {record.capture_id}",
        "dc:creator": [record.municipality, account.department],
        "dc:description": (f"{prepared_stamp}. Kopia för utlämnande enligt offentlighetsprincipen av "
                           f"ögonblicksbilden {record.capture_id} ({account.platform.value}), tagen "
                           f"{local:%Y-%m-%d %H:%M} (Europe/Stockholm). Maskerat enligt {ground}: {regions} "
                           f"område(n), svärtade i bilden och borttagna ur textlagret. Originalet är oförändrat: "
                           f"{original}."),
        "dc:source": original,
        "dc:identifier": f"{record.capture_id}/maskerad/{when.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}",
        "dc:publisher": [record.municipality],
        "dc:subject": ["maskerad kopia", f"capture:{record.capture_id}", f"account:{account.id}",
                       f"legal-ground:{ground}", *(f"sha256:{n}:{d}" for n, d in digests.items())],
        "dc:type": ["Image"],
        "dc:language": ["sv"],
        "xmp:CreateDate": stamp,
        "xmp:ModifyDate": stamp,
        "xmp:MetadataDate": stamp,
        "xmp:CreatorTool": f"somearkiv {__version__}",
        "pdf:Keywords": "maskerad kopia; utlämnande; allmän handling",
    }


def leaked_masks(pdf: Path, texts: Sequence[str]) -> list[int]:
    """The positions (from 1) of mask texts that can still be found in *pdf*: in the text any extractor
    reads (pypdf, every page) or in its metadata (XMP, document info)."""
    reader = pypdf.PdfReader(pdf)
    words = " ".join(page.extract_text() or "" for page in reader.pages).split()
    with pikepdf.open(pdf) as opened:
        meta = str(opened.open_metadata())
        info = " ".join(str(v) for v in opened.docinfo.values())
    meta_words = re.split(r"[\s<>]+", f"{meta} {info}")
    return [n for n, text in enumerate(texts, 1)
            if find_occurrences(words, text) or find_occurrences(meta_words, text)]


def prepare_disclosure(archive: Archive, capture_id: str, masks: Sequence[str], regions: Sequence[str | RegionSpec],
                       ground: str, when: dt.datetime | None = None, workdir: Path | None = None) -> Prepared:
    """Make the masked copy of *capture_id* in *workdir* (a new temporary folder by default) and check it.

    Nothing is filed. Raises DisclosureError when the request cannot be carried out as asked."""
    ground = " ".join((ground or "").split())
    if not ground:
        raise DisclosureError("the legal ground (--ground, e.g. 'OSL 21 kap. 7 §') is required: it is the decision's "
                              "reason and is stamped on the copy")
    texts = [" ".join(m.split()) for m in masks if m and m.strip()]
    for text in texts:
        if not mask_key(text):
            raise DisclosureError(f"the mask {text!r} has no letters or digits to look for")
    specs = [r if isinstance(r, RegionSpec) else parse_region(r) for r in regions]
    if not texts and not specs:
        raise DisclosureError("nothing to mask: give --mask TEXT or --region PAGE:x,y,w,h")
    when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    record = find_capture(archive, capture_id)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="disclosure-", dir=_workroot(get_settings())))
    sources = fetch_sources(archive, record, workdir / "original")
    pages: list[_Page] = []
    for number, (png_name, words_name, _) in enumerate(_PAGES, 1):
        if png_name not in sources:
            continue
        words, scale, has_words = [], 1.0, words_name in sources
        if has_words:
            data = json.loads(sources[words_name][0].read_text(encoding="utf-8"))
            words, scale = [tuple(w) for w in data.get("words", [])], float(data.get("scale", 1.0))
        pages.append(_Page(len(pages) + 1, png_name, sources[png_name][0], words, scale, has_words))
    notes = []
    for spec in specs:
        if spec.page > len(pages):
            raise DisclosureError(f"region on page {spec.page}: the capture has {len(pages)} page(s) "
                                  "(1 the desktop view" + (", 2 the mobile view)" if len(pages) > 1 else ")"))
    if texts and not any(p.has_words for p in pages):
        raise DisclosureError(f"{record.capture_id} has no word boxes (words-*.json), so texts cannot be found: "
                              "give the areas with --region PAGE:x,y,w,h")
    notes += [f"page {p.number} ({p.source}) has no word boxes: mask texts were not looked for on it"
              for p in pages if texts and not p.has_words]
    disclosed_on = when.astimezone(_STOCKHOLM).date()
    stamp = f"Maskerad kopia – utlämnad {disclosed_on:%Y-%m-%d}"
    lines = [stamp, f"Maskerat enligt {ground}"]
    per_text: list[list[DisclosureRegion]] = [[] for _ in texts]
    matches = [0] * len(texts)
    given: list[DisclosureRegion] = []
    infos: list[DisclosurePage] = []
    images: list[PageImage] = []
    for page in pages:
        found, hand, info, image = _mask_page(page, texts, [s for s in specs if s.page == page.number], lines,
                                              workdir / f"maskerad-sida-{page.number}.png")
        for n, (count, regions_for) in enumerate(found):
            per_text[n] += regions_for
            matches[n] += count
        given += hand
        infos.append(info)
        images.append(image)
    mask_models = [DisclosureMask(kind="text", text=t, matches=matches[n], regions=tuple(per_text[n]))
                   for n, t in enumerate(texts)]
    mask_models += [DisclosureMask(kind="region", regions=(r,)) for r in given]
    regions_total = sum(len(m.regions) for m in mask_models)
    digests = {p.png.name: sha256_file(p.png) for p in images}
    out = workdir / COPY_NAME
    try:
        info = pdfa_info(write_pdfa(images, out, _xmp(record, stamp, ground, when, sources, digests, regions_total)))
        second = check_pdf(out)
        if not second.passed:
            raise PdfaConversionError("second validation failed: " + "; ".join(
                f"{f.rule} {f.where}: {f.message}" for f in second.findings[:10]))
    except PdfaConversionError:
        out.unlink(missing_ok=True)
        raise
    info = info.model_copy(update={"validator": f"{info.validator} + {second.validator}"})
    leaks = leaked_masks(out, texts)
    if leaks:
        out.unlink(missing_ok=True)
        raise MaskLeak(f"mask(s) {', '.join(map(str, leaks))} can still be read in the copy (text or "
                              "metadata, e.g. the account's own name): nothing was filed")
    return Prepared(
        capture_id=record.capture_id, account_id=record.account.id, municipality=record.municipality, made_at=when,
        disclosed_on=disclosed_on, stamp=stamp, legal_ground=ground, pdf=out,
        previews=tuple(p.png for p in images), sources=tuple(obj for _, obj in sources.values()),
        masks=tuple(mask_models), pages=tuple(infos), pdfa=info, workdir=workdir, notes=tuple(notes))


def _workroot(settings: Settings) -> Path:
    root = Path(settings.data_dir) / "work"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


# -- filing ---------------------------------------------------------------------------------------------


def disclosure_lock(now: dt.datetime, settings: Settings | None = None) -> ObjectLock:
    """The lock a disclosure is filed with: the retention class ``disclosures`` when the archive's retention
    config has one (its IHP row), else the archive's permanent-records lock (like the gallringsprotokoll).

    The decision to disclose with masking is a decision of the authority that can be appealed, and the copy
    is what shows what was handed out: both are kept with the decision, whatever the capture's own class."""
    settings = settings or get_settings()
    path = Path(settings.retention_config)
    schedule = cached_schedule(str(path), path.stat().st_mtime)
    if DISCLOSURES_CLASS in schedule.ids:
        return schedule.get(DISCLOSURES_CLASS).lock_for(now)
    return records_lock(now)


def file_disclosure(archive: Archive, prepared: Prepared, decided_by: str, *, decided_at: dt.datetime | None = None,
                    prepared_by: str | None = None, review: AskRecord | None = None,
                    flow_run_id: str | None = None, announce: bool = True) -> DisclosureRecord:
    """File the masked copy and the decision's record under ``disclosures/<capture-id>/<time>/`` (locked,
    never over anything), then a ``disclosure`` ledger entry and audit event. The capture is not touched.

    announce: also emit the audit event as the Prefect event ``somearkiv.disclosure`` (False: only file it,
    for a command with no Prefect server to send it to)."""

    decided_by = " ".join((decided_by or "").split())
    if not decided_by:
        raise DisclosureError("who decides (--by) is required: it is kept in the decision's record")
    decided_at = (decided_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    while archive.exists(Archive.disclosure_prefix(prepared.capture_id, decided_at) + COPY_NAME):
        decided_at += dt.timedelta(seconds=1)  # another disclosure of this capture in the same second
    lock = disclosure_lock(decided_at)
    body = prepared.pdf.read_bytes()
    prefix = Archive.disclosure_prefix(prepared.capture_id, decided_at)
    made: list[DisclosureRecord] = []

    def record(filed: list[LedgerObject]) -> Companion:
        copy = filed[0]
        result = DisclosureRecord(
            disclosure_id=prefix.removeprefix(Archive.DISCLOSURES_PREFIX).rstrip("/"),
            capture_id=prepared.capture_id, account_id=prepared.account_id, municipality=prepared.municipality,
            sources=prepared.sources, masks=prepared.masks, pages=prepared.pages,
            legal_ground=prepared.legal_ground, decided_by=decided_by, decided_at=decided_at,
            disclosed_on=prepared.disclosed_on, stamp=prepared.stamp, prepared_by=prepared_by or None,
            masked_copy=ArchivedFile(name=COPY_NAME, role=FileRole.archival, media_type="application/pdf",
                                     size=copy.size or len(body), sha256=copy.sha256 or "", key=copy.key,
                                     version_id=copy.version_id),
            pdfa=prepared.pdfa, review=review, lock=lock, software={"somearkiv": __version__},
            flow_run_id=flow_run_id, notes=prepared.notes, filed_at=dt.datetime.now(dt.UTC), bucket=archive.bucket,
            record_key=prefix + RECORD_NAME,
        )
        made.append(result)
        return Companion(RECORD_NAME, result.model_dump_json(indent=2).encode(), "application/json")

    regions = sum(len(m.regions) for m in prepared.masks)
    filed = archive.file_disclosure(
        prepared.capture_id, prepared.account_id, decided_at, [Companion(COPY_NAME, body, "application/pdf")],
        record, lock, person=decided_by,
        detail=f"masked copy disclosed under {prepared.legal_ground} ({regions} regions)")
    final = made[-1]
    _audit(archive, announce, f"masked copy of {prepared.capture_id} disclosed (utlämnad) under "
                              f"{prepared.legal_ground}: {regions} regions masked; the original is unchanged",
           account_id=prepared.account_id, person=decided_by,
           objects=[f"{o.key}?versionId={o.version_id}" for o in filed],
           data={"capture_id": prepared.capture_id, "disclosure_id": final.disclosure_id,
                 "legal_ground": prepared.legal_ground, "masks": len(prepared.masks), "regions": regions,
                 "sha256": final.masked_copy.sha256, "record_key": final.record_key})
    return final


def _audit(archive: Archive, announce: bool, detail: str, *, account_id: str, person: str, objects: list[str],
           data: dict) -> None:
    """The disclosure's audit event (tasks.audit), filed always; emitted as a Prefect event when *announce*."""
    if announce:
        from tasks.audit import record_event

        record_event(archive, "disclosure", "success", detail, account_id=account_id, objects=objects,
                     person=person, data=data)
        return
    import uuid

    from somearkiv.models import AuditEvent

    now = dt.datetime.now(dt.UTC)
    archive.file_audit(AuditEvent(event_id=str(uuid.uuid4()), event_type="disclosure", event_datetime=now,
                                  outcome="success", detail=detail, account_id=account_id, objects=tuple(objects),
                                  agents=(f"software:somearkiv/{__version__}", f"person:{person}"), data=data),
                       records_lock(now))


def preview_images(prepared: Prepared, width: int = 1000) -> list[Path]:
    """Smaller copies of the masked pages (made from the masked pixels, so they hide what the copy hides)
    for a person to look at before approving."""
    out = []
    for number, png in enumerate(prepared.previews, 1):
        with Image.open(png) as image:
            if image.size[0] > width:
                image = image.resize((width, max(1, round(image.size[1] * width / image.size[0]))),
                                     Image.Resampling.LANCZOS)
            path = prepared.workdir / f"forhandsvisning-sida-{number}.png"
            image.save(path, "PNG")
        out.append(path)
    return out


def remove_workdir(prepared: Prepared) -> None:
    """Delete the local working folder (the downloaded originals and the masked pages)."""
    shutil.rmtree(prepared.workdir, ignore_errors=True)


# -- as Prefect tasks (flows/disclosure.py) -------------------------------------------------------------


@task(name="prepare-disclosure", cache_policy=NO_CACHE)
def prepare_disclosure_task(capture_id: str, masks: list[str], regions: list[str], ground: str,
                            when: dt.datetime | None = None) -> Prepared:
    """Task: download the originals, make the masked copy, validate it; nothing is filed."""
    return prepare_disclosure(Archive.connected(get_settings()), capture_id, masks, regions, ground, when)


@task(name="file-disclosure", cache_policy=NO_CACHE)
def file_disclosure_task(prepared: Prepared, decided_by: str, prepared_by: str | None, review: AskRecord | None,
                         flow_run_id: str | None) -> DisclosureRecord:
    """Task: file the approved masked copy and its record, ledger and audit it."""
    return file_disclosure(Archive.connected(get_settings()), prepared, decided_by, prepared_by=prepared_by,
                           review=review, flow_run_id=flow_run_id)
