"""Documents that read: the PDFs the archive typesets itself (the gallringsprotokoll) and the
invisible text layer of the archival PDF extract as the words a person sees, and stay PDF/A-2b."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess

import pikepdf
import pikepdf.pdfa
import pypdf
from PIL import Image, ImageFont

from somearkiv.models import DecisionRef
from tasks.archival_pdf import _joined, _same_line
from tasks.disposal import Candidate, Disposal, DisposedObject, SkippedObject, _protocol_paragraphs
from tasks.pdfa import make_archival_pdf
from tasks.pdfcheck import check_pdf
from tasks.typeset import FONTS, Para, write_document

from .factories import record

NOW = dt.datetime(2026, 9, 1, 8, 30, tzinfo=dt.UTC)
XMP = {"dc:title": "Gallringsprotokoll 2026-09-01 08:30 UTC", "dc:identifier": "gallringsprotokoll/x.pdf",
       "dc:language": ["sv"], "xmp:CreateDate": NOW.isoformat()}
PDFTOTEXT = shutil.which("pdftotext")


def digest(n: int) -> str:
    return hashlib.sha256(f"version {n}".encode()).hexdigest()


def protocol(versions: int = 3):
    decision = DecisionRef(body="Kommunstyrelsen", date=dt.date(2024, 3, 5), paragraph="§ 13")
    capture = "gallra-a/2026-01-01T040000Z-manual"
    keys = [f"captures/{capture}/{name}" for name in ("startpage.pdf", "startpage.png", "page.warc.gz")]
    disposed = tuple(DisposedObject(capture_id=capture, key=keys[n % 3], version_id=f"v{n:04d}-3f1c2b7e-aa11-4c55",
                                    size=1_234_567 + n, sha256=digest(n), deleted_at=NOW, verified_gone=True)
                     for n in range(versions))
    candidate = Candidate(capture_id=capture, account_id="gallra-a", captured_at=NOW, retention_class="kort",
                          class_name="Kortlivad information", decision=decision, retain_until=NOW,
                          objects=())
    skipped = (SkippedObject(capture_id="gallra-b/2026-01-02T040000Z-manual", key="captures/gallra-b/record.json",
                             version_id="v9",
                             reason="bevarandeåtgärd (hold) lagd efter granskningen – ärende 2026/17"),)
    disposal = Disposal(disposed=disposed, skipped=skipped, local_copies_removed=("/srv/a",),
                        metrics_report="reports/metrics/2026-09-01T083000Z-after-disposal.csv")
    review = {"answered_by": "Arkivarie Åsa Öberg", "answered_at": "2026-08-30T10:00:00+00:00",
              "answer": {"comment": "Enligt gallringsbeslut KS § 13 – inga invändningar från förvaltningen"}}
    return _protocol_paragraphs([candidate], disposal, review, "Perstorps kommun", NOW)


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def poppler_text(path, *args) -> str:
    return subprocess.run([PDFTOTEXT, "-enc", "UTF-8", *args, str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def words_of(text: str) -> list[str]:
    return text.split()


def assert_valid_pdfa(path) -> None:
    assert pikepdf.pdfa.validate_written(path, "2b").passed
    report = check_pdf(path)
    assert report.passed, report.findings
    with pikepdf.open(path) as pdf:
        fonts = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and o.get("/Subtype") == "/Type0"]
        assert fonts and all("/FontFile2" in f.DescendantFonts[0].FontDescriptor for f in fonts)  # embedded TTF
        assert all("/ToUnicode" in f for f in fonts)


def test_the_protocol_reads_with_swedish_letters_full_hashes_and_whole_lines(tmp_path):
    out = tmp_path / "protocol.pdf"
    assert write_document(protocol(), out, XMP) == 1
    assert_valid_pdfa(out)
    texts = [pdf_text(out)] + ([poppler_text(out)] if PDFTOTEXT else [])
    for text in texts:
        flat = " ".join(text.split())  # wherever a paragraph wrapped
        assert "Gallringsprotokoll – Perstorps kommun" in text
        assert "Godkänt av / approved by: Arkivarie Åsa Öberg" in text
        assert "beslut Kommunstyrelsen 2024-03-05 § 13, frist till 2026-09-01" in flat
        assert "Kortlivad information" in flat and "Ny mätvärdesrapport" in flat
        for n in range(3):
            assert f"sha256 {digest(n)}" in text.splitlines()  # all 64 hex characters, on a line of its own
        assert [line.endswith("raderad och kontrollerad") for line in text.splitlines()].count(True) == 3
        # paragraphs wider than the page wrap, and lose nothing at the right edge
        assert "version v9: bevarandeåtgärd (hold) lagd efter granskningen – ärende 2026/17" in flat
        assert "Enligt gallringsbeslut KS § 13 – inga invändningar från förvaltningen" in flat
    assert pypdf.PdfReader(out).xmp_metadata.dc_identifier == XMP["dc:identifier"]


def test_nothing_is_cut_at_the_right_edge(tmp_path):
    words = [f"ord{n}–åäö" for n in range(200)] + ["slutord"]
    long_key = "captures/" + "x" * 150 + "/startpage.pdf"  # wider than the page, no space to wrap at
    write_document([Para("Rubrik", "title"), Para(" ".join(words)), Para(long_key, "detail")], tmp_path / "a.pdf", XMP)
    text = pdf_text(tmp_path / "a.pdf")
    assert words_of(text)[1:len(words) + 1] == words
    assert long_key in text.replace("\n", "")  # broken between characters, never truncated
    if PDFTOTEXT:
        width = float(pypdf.PdfReader(tmp_path / "a.pdf").pages[0].mediabox.width)
        right = [float(x) for x in re.findall(r'xMax="([\d.]+)"', poppler_text(tmp_path / "a.pdf", "-bbox"))]
        assert right and max(right) <= width - 50  # inside the right margin


def test_long_documents_go_on_over_pages_that_say_which_of_how_many_they_are(tmp_path):
    out = tmp_path / "long.pdf"
    pages = write_document(protocol(versions=120), out, XMP)
    assert pages > 2 and pages == len(pypdf.PdfReader(out).pages)
    assert_valid_pdfa(out)
    last = pypdf.PdfReader(out).pages[-1].extract_text()
    assert f"sida {pages} av {pages}" in last and f"sha256 {digest(119)}" in last
    assert pdf_text(out).count("raderad och kontrollerad") == 120
    write_document(protocol(versions=120), tmp_path / "again.pdf", XMP)
    assert out.read_bytes() == (tmp_path / "again.pdf").read_bytes()  # no clock, no randomness


def test_a_character_the_font_lacks_is_marked_not_dropped(tmp_path):
    write_document([Para("Kommentar: 中 ok")], tmp_path / "a.pdf", XMP)
    assert "Kommentar: \N{REPLACEMENT CHARACTER} ok" in pdf_text(tmp_path / "a.pdf")


def test_the_font_is_bundled_with_its_licence():
    assert (FONTS / "DejaVuSans.ttf").is_file() and (FONTS / "DejaVuSans-Bold.ttf").is_file()
    assert "Bitstream" in (FONTS / "LICENSE").read_text()


# -- the invisible text layer of the archival PDF ----------------------------------------------

LINES = ["Välkommen till Perstorps kommuns officiella sida på Facebook. Här informerar vi om",
         "det som händer i kommunen – evenemang, störningar och nyheter. Följ oss gärna!",
         "Öppet måndag–fredag 08.00–16.00, § 13 gäller. Tel 0435-350 00"]


def browser_words(lines, size=16, line_height=19, left=40.0, top=100.0):
    """Word boxes as the capture's script measures them: one box per word, a space's width apart."""
    font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), size)
    space, words = font.getlength(" "), []
    for row, line in enumerate(lines):
        x = left
        for word in line.split(" "):
            width = font.getlength(word)
            words.append([word, round(x, 1), top + row * line_height, round(width, 1), round(size * 1.15, 1)])
            x += width + space
    return words


def archival_pdf(tmp_path, words, scale=1):
    png = tmp_path / "startpage.png"
    Image.new("RGB", (1366, 700), "white").save(png)
    (tmp_path / "words.json").write_text(json.dumps({"scale": scale, "words": words}, ensure_ascii=False))
    info = make_archival_pdf(png, tmp_path / "startpage.pdf", record(), words={"desktop": tmp_path / "words.json"})
    assert info.valid and info.text_layer == "unicode"
    return tmp_path / "startpage.pdf"


def test_the_text_layer_has_spaces_between_words_and_line_ends_between_lines(tmp_path):
    out = archival_pdf(tmp_path, browser_words(LINES))
    assert pdf_text(out).splitlines() == LINES
    if PDFTOTEXT:
        assert poppler_text(out).strip().splitlines() == LINES
    assert_valid_pdfa(out)


def test_the_text_layer_at_device_scale_two(tmp_path):
    out = archival_pdf(tmp_path, browser_words(LINES[:2], size=8, line_height=10, left=20, top=30), scale=2)
    assert pdf_text(out).splitlines() == LINES[:2]


def test_words_split_over_text_nodes_stay_whole_and_columns_stay_apart(tmp_path):
    # "Perstorp<b>s</b>": two boxes that touch are one word; a wide gap (a column) is one space
    words = [["Perstorp", 40, 100, 70, 18.4], ["s", 110, 100, 8, 18.4], ["kommun", 124, 100, 60, 18.4],
             ["Kontakt", 600, 100, 60, 18.4]]
    out = archival_pdf(tmp_path, words)
    assert pdf_text(out).strip() == "Perstorps kommun Kontakt"
    if PDFTOTEXT:
        assert " ".join(poppler_text(out).split()) == "Perstorps kommun Kontakt"


def test_touching_words_are_joined_and_lines_told_apart():
    words = [("Perstorp", 10.0, 100.0, 70.0, 20.0), ("s", 80.5, 100.0, 8.0, 20.0), ("kommun", 94.0, 100.0, 60.0, 20.0)]
    assert _joined(words) == [("Perstorps", 10.0, 100.0, 78.5, 20.0), words[2]]
    assert _same_line(words[0], ("x", 0.0, 108.0, 5.0, 20.0))  # overlapping more than half: the same line
    assert not _same_line(words[0], ("x", 0.0, 117.0, 5.0, 20.0))  # a tight line-height: the next line


def test_file_protocol_files_the_typeset_pdf(tmp_path, monkeypatch):
    import tasks.disposal as disposal_module
    from storage import Archive

    filed = {}

    class Shelf:
        protocol_keys = staticmethod(Archive.protocol_keys)

        def file_document(self, key, body, media_type, lock):
            filed[key] = body

    monkeypatch.setattr(disposal_module, "_archive", lambda role="pipeline": Shelf())
    monkeypatch.setattr(disposal_module, "records_lock", lambda now: None)
    monkeypatch.setattr(disposal_module, "record_event", lambda *args, **kwargs: None)
    gone = DisposedObject(capture_id="a/1", key="captures/a/1/startpage.pdf", version_id="v1", size=10,
                          sha256=digest(1), deleted_at=NOW, verified_gone=True)
    candidate = Candidate(capture_id="a/1", account_id="a", captured_at=NOW, retention_class="kort", class_name="K",
                          decision=DecisionRef(body="KS", date=dt.date(2024, 3, 5), paragraph="§ 13"),
                          retain_until=NOW, objects=())
    keys = disposal_module.file_protocol.fn([candidate], Disposal(disposed=(gone,)), {"answered_by": "Åsa"})
    (tmp_path / "p.pdf").write_bytes(filed[keys["pdf"]])
    assert_valid_pdfa(tmp_path / "p.pdf")
    text = pdf_text(tmp_path / "p.pdf")
    assert f"sha256 {digest(1)}" in text and "Godkänt av / approved by: Åsa" in text
    assert pypdf.PdfReader(tmp_path / "p.pdf").xmp_metadata.dc_identifier == keys["pdf"]
