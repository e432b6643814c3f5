"""The archival PDF/A: valid PDF/A-2b, faithful to the pixel, deterministic, within page limits."""

from __future__ import annotations

import hashlib
import json

import pikepdf
import pikepdf.pdfa
import pypdf
import pytest
from PIL import Image, ImageDraw
from prefect.logging import disable_run_logger

from somearkiv.models import ArchivedFile, Captured, FileRole
from tasks.pdfa import MAX_PAGE_SIDE_PT, PdfaConversionError, convert_to_pdfa, make_archival_pdf

from .factories import record


def screenshot(path, width=1366, height=2400, mode="RGB"):
    image = Image.new(mode, (width, height), "white")
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 97):
        draw.rectangle([40, y, width - 40, y + 60], fill=(y % 251, 90, 200 - y % 199))
    image.save(path)
    return path


def test_screenshot_becomes_valid_pdfa_2b_with_metadata(tmp_path):
    png = screenshot(tmp_path / "startpage.png")
    rec = record()
    info = make_archival_pdf(png, tmp_path / "startpage.pdf", rec)
    assert info.valid and info.conformance == "PDF/A-2b" and info.pages == 1
    assert pikepdf.pdfa.validate_written(tmp_path / "startpage.pdf", "2b").passed

    reader = pypdf.PdfReader(tmp_path / "startpage.pdf")  # an independent reader
    xmp = reader.xmp_metadata
    assert xmp.dc_identifier == rec.capture_id
    assert xmp.dc_source == "https://www.facebook.com/perstorpskommun"
    assert "Ögonblicksbild av Perstorps kommun" in xmp.dc_title["x-default"]
    assert "Perstorps kommun" in xmp.dc_creator
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    assert f"sha256:startpage.png:{digest}" in xmp.dc_subject
    assert "inför byte av profilbild" in xmp.dc_description["x-default"]
    assert reader.metadata.title == xmp.dc_title["x-default"]  # Info dictionary agrees with XMP
    with pikepdf.open(tmp_path / "startpage.pdf") as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert "/OutputIntents" in pdf.Root


def test_pixels_survive_and_output_is_deterministic(tmp_path):
    png = screenshot(tmp_path / "s.png")
    make_archival_pdf(png, tmp_path / "a.pdf", record())
    make_archival_pdf(png, tmp_path / "b.pdf", record())
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    with pikepdf.open(tmp_path / "a.pdf") as pdf:
        [image] = pdf.pages[0].images.values()
        assert pikepdf.PdfImage(image).as_pil_image().tobytes() == Image.open(png).convert("RGB").tobytes()
    assert (tmp_path / "a.pdf").stat().st_size < 1.1 * png.stat().st_size + 20_000


def test_tall_pages_keep_every_side_within_14400_pt(tmp_path):
    png = screenshot(tmp_path / "tall.png", width=1366, height=30000)
    make_archival_pdf(png, tmp_path / "tall.pdf", record())
    box = pypdf.PdfReader(tmp_path / "tall.pdf").pages[0].mediabox
    assert max(float(box.width), float(box.height)) <= MAX_PAGE_SIDE_PT
    assert pikepdf.pdfa.validate_written(tmp_path / "tall.pdf", "2b").passed


def test_transparent_screenshot_is_refused_not_silently_converted(tmp_path):
    png = screenshot(tmp_path / "alpha.png", mode="RGBA")
    with pytest.raises(PdfaConversionError, match="RGBA"):
        make_archival_pdf(png, tmp_path / "x.pdf", record())
    assert not (tmp_path / "x.pdf").exists()


def test_two_pages_with_a_searchable_unicode_text_layer(tmp_path):
    desktop = screenshot(tmp_path / "startpage.png")
    mobile = screenshot(tmp_path / "startpage-mobile.png", width=780, height=1600)
    words = [["Välkommen", 40, 10, 120, 20], ["till", 170, 10, 40, 20], ["Perstorps", 220, 10, 110, 20],
             ["kommun", 340, 10, 90, 20], ["4 812", 40, 2000, 60, 20], ["följare", 110, 2000, 80, 20]]
    (tmp_path / "words-desktop.json").write_text(json.dumps({"scale": 1, "words": words}))
    (tmp_path / "words-mobile.json").write_text(json.dumps({"scale": 2, "words": [["Åsbo", 10, 10, 50, 16]]}))
    words_files = {"desktop": tmp_path / "words-desktop.json", "mobile": tmp_path / "words-mobile.json"}
    info = make_archival_pdf(desktop, tmp_path / "a.pdf", record(), mobile=mobile, words=words_files)
    assert info.pages == 2 and info.text_layer == "unicode" and info.words == 7
    assert pikepdf.pdfa.validate_written(tmp_path / "a.pdf", "2b").passed
    reader = pypdf.PdfReader(tmp_path / "a.pdf")
    first = reader.pages[0].extract_text()
    assert "Välkommen till Perstorps kommun" in first and "följare" in first
    assert "Åsbo" in reader.pages[1].extract_text()
    with pikepdf.open(tmp_path / "a.pdf") as pdf:
        [image] = pdf.pages[1].images.values()
        assert pikepdf.PdfImage(image).as_pil_image().size == (780, 1600)
    make_archival_pdf(desktop, tmp_path / "b.pdf", record(), mobile=mobile, words=words_files)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_a_failed_conversion_is_recorded_and_the_rest_is_kept(tmp_path):
    png = screenshot(tmp_path / "startpage.png", mode="RGBA")
    (tmp_path / "page.html").write_text("<html></html>")
    files = tuple(ArchivedFile(name=p.name, role=r, media_type="x", size=p.stat().st_size,
                               sha256=hashlib.sha256(p.read_bytes()).hexdigest())
                  for p, r in ((png, FileRole.screenshot), (tmp_path / "page.html", FileRole.dom)))
    with disable_run_logger():
        converted, _ = convert_to_pdfa.fn(Captured(record(files=files), tmp_path))
    assert converted.pdfa.valid is False and converted.pdfa.conformance is None
    assert "RGBA" in converted.pdfa.findings[0]
    assert {f.name for f in converted.files} == {"startpage.png", "page.html"}
    assert not (tmp_path / "startpage.pdf").exists()


def test_a_pdf_whose_image_is_not_the_screenshot_is_caught(tmp_path):
    from tasks.pdfa import PageImage, _read_back

    png = screenshot(tmp_path / "startpage.png")
    make_archival_pdf(png, tmp_path / "a.pdf", record())
    _read_back(tmp_path / "a.pdf", [PageImage(png)], record().capture_id)  # its own screenshot: fine
    other = screenshot(tmp_path / "other.png")
    with Image.open(other) as image:
        image.putpixel((700, 1200), (1, 2, 3))  # one pixel
        image.save(other)
    with pytest.raises(PdfaConversionError, match="differs from other.png"):
        _read_back(tmp_path / "a.pdf", [PageImage(other)], record().capture_id)
