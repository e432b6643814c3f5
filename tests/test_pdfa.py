"""The archival PDF/A: valid PDF/A-2b, faithful to the pixel, deterministic, within page limits."""

from __future__ import annotations

import pikepdf
import pikepdf.pdfa
import pypdf
import pytest
from PIL import Image, ImageDraw

from tasks.pdfa import MAX_PAGE_SIDE_PT, PdfaConversionError, make_archival_pdf

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
    assert any(s.startswith("png-sha256:") for s in xmp.dc_subject)
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
