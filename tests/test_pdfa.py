"""The archival PDF/A: valid PDF/A-2b, faithful to the pixel, deterministic, within page limits."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pypdf
import pytest
from PIL import Image, ImageDraw
from prefect.logging import disable_run_logger

from somearkiv.models import ArchivedFile, Captured, FileRole
from somearkiv.settings import get_settings
from tasks.archival_pdf import MAX_PAGE_SIDE_PT, PdfaConversionError
from tasks.pdfa import CONVERTER, convert_to_pdfa, make_archival_pdf, warm_converter

from .factories import png_in_chunks, record


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
    from tasks.archival_pdf import PageImage, _read_back

    png = screenshot(tmp_path / "startpage.png")
    make_archival_pdf(png, tmp_path / "a.pdf", record())
    _read_back(tmp_path / "a.pdf", [PageImage(png)], record().capture_id)  # its own screenshot: fine
    other = screenshot(tmp_path / "other.png")
    with Image.open(other) as image:
        image.putpixel((700, 1200), (1, 2, 3))  # one pixel
        image.save(other)
    with pytest.raises(PdfaConversionError, match="differs from other.png"):
        _read_back(tmp_path / "a.pdf", [PageImage(other)], record().capture_id)


def _capture_folder(folder, mode="RGB"):
    """A captured record in *folder*: a desktop and a mobile screenshot and a print PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    desktop = screenshot(folder / "startpage.png", mode=mode)
    mobile = screenshot(folder / "startpage-mobile.png", width=780, height=1600)
    printed = folder / "page.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(printed, deterministic_id=True)
    files = tuple(ArchivedFile(name=p.name, role=r, media_type="x", size=p.stat().st_size,
                               sha256=hashlib.sha256(p.read_bytes()).hexdigest())
                  for p, r in ((desktop, FileRole.screenshot), (mobile, FileRole.screenshot_mobile),
                               (printed, FileRole.print_pdf)))
    return Captured(record(files=files), folder)


def _converted_with(monkeypatch, processes, captured):
    monkeypatch.setenv("SOMEARKIV_PDFA_PROCESSES", str(processes))
    get_settings.cache_clear()
    try:
        with disable_run_logger():
            return convert_to_pdfa.fn(captured)
    finally:
        get_settings.cache_clear()


def test_the_conversion_runs_in_a_lean_worker_process_without_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-converter")
    monkeypatch.setenv("SOMEARKIV_TSA_PASSWORD", "not-for-the-converter")
    CONVERTER.close()  # a worker started now, with these variables in this process's environment
    converted, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "w"))
    assert converted.pdfa.valid and converted.pdfa.pages == 2
    assert "pikepdf" in converted.pdfa.validator and "somearkiv pdfcheck" in converted.pdfa.validator
    assert {f.name for f in converted.files} >= {"startpage.pdf", "page-pdfa.pdf"}
    [pid] = CONVERTER.pids()
    assert pid != os.getpid()
    assert b"tasks.pdfa_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    # at the flow's priority, not below it: with the browser keeping the cores busy, nice 10 held every
    # conversion (and so every filing) back to the round's end (README, Benchmarks)
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"not-for-the-converter" not in environ and b"SOMEARKIV_" not in environ and b"PREFECT_" not in environ
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "pikepdf" in maps and "pydantic_core" not in maps  # the PDF libraries, not the flow's


def test_a_warmed_worker_does_the_first_conversion_and_a_second_starts_only_for_a_second_at_once(
        tmp_path, monkeypatch):
    """warm_converter starts the worker before any conversion (a round calls it as its first page
    loads); the conversions after it use that worker while one at a time is asked of them."""
    monkeypatch.setenv("SOMEARKIV_PDFA_PROCESSES", "2")
    get_settings.cache_clear()
    CONVERTER.close()
    try:
        warm_converter()
        [warmed] = CONVERTER.pids()  # started, not yet asked anything
        assert warmed != os.getpid()
        warm_converter()  # warm already: no second process
        assert CONVERTER.pids() == [warmed]
    finally:
        get_settings.cache_clear()
    for name in ("a", "b"):
        converted, _ = _converted_with(monkeypatch, 2, _capture_folder(tmp_path / name))
        assert converted.pdfa.valid
        assert CONVERTER.pids() == [warmed]
    monkeypatch.setenv("SOMEARKIV_PDFA_PROCESSES", "0")
    get_settings.cache_clear()
    try:
        CONVERTER.close()
        warm_converter()  # conversions in the flow's process: no worker to start
        assert CONVERTER.pids() == []
    finally:
        get_settings.cache_clear()


def test_the_worker_writes_the_same_bytes_as_the_flows_own_process(tmp_path, monkeypatch):
    in_worker, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "w"))
    here, _ = _converted_with(monkeypatch, 0, _capture_folder(tmp_path / "h"))
    assert in_worker.pdfa == here.pdfa
    assert (tmp_path / "w" / "startpage.pdf").read_bytes() == (tmp_path / "h" / "startpage.pdf").read_bytes()
    assert [f.name for f in in_worker.files] == [f.name for f in here.files] and in_worker.notes == here.notes


def test_a_failure_in_the_worker_is_recorded_and_the_worker_goes_on(tmp_path, monkeypatch):
    failed, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "bad", mode="RGBA"))
    assert failed.pdfa.valid is False and "RGBA" in failed.pdfa.findings[0]
    assert not (tmp_path / "bad" / "startpage.pdf").exists()
    assert "page-pdfa.pdf" in {f.name for f in failed.files}  # the print PDF's copy is still made
    pids = CONVERTER.pids()
    good, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "good"))
    assert good.pdfa.valid and CONVERTER.pids() == pids


def test_a_worker_killed_mid_conversion_fails_that_capture_only_and_is_replaced(tmp_path, monkeypatch):
    _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "first"))
    [pid] = CONVERTER.pids()
    os.kill(pid, signal.SIGSTOP)  # it takes the next job from its pipe but cannot answer
    result, captured = [], _capture_folder(tmp_path / "killed")
    thread = threading.Thread(target=lambda: result.append(_converted_with(monkeypatch, 1, captured)))
    thread.start()
    time.sleep(1.0)  # the job is in the stopped worker's pipe (writing it takes a few ms)
    for half_written in ("startpage.pdf", "page-pdfa.pdf"):  # as if it had been killed while saving
        (tmp_path / "killed" / half_written).write_bytes(b"%PDF-1.7\n% cut short")
    os.kill(pid, signal.SIGKILL)
    thread.join(30)
    [(killed, folder)] = result
    assert killed.pdfa.valid is False and "ended before answering" in killed.pdfa.findings[0]
    assert not (folder / "startpage.pdf").exists() and not (folder / "page-pdfa.pdf").exists()
    assert {f.name for f in killed.files} == {"startpage.png", "startpage-mobile.png", "page.pdf"}
    assert any("did not finish" in note for note in killed.notes)
    after, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "after"))
    assert after.pdfa.valid and CONVERTER.pids() and CONVERTER.pids() != [pid]


def test_the_capture_flows_process_does_not_load_the_pdf_libraries():
    """They are the worker's: the process that holds the browser keeps their ~70 MB out."""
    code = ("import sys, flows.snapshot, flows.watch; "
            "print(sorted(m for m in ('pikepdf', 'lxml', 'fpdf', 'img2pdf', 'pypdf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_a_conversion_past_the_workers_memory_ceiling_fails_alone(tmp_path, monkeypatch):
    """A page of photos (random pixels: PNG cannot compress them) needs memory by the size of its
    data; under a ceiling lower than that it fails with a finding naming the setting, and the
    worker converts the next capture. The same page converts under the default ceiling."""
    folder = tmp_path / "photos"
    captured = _capture_folder(folder)
    Image.frombytes("RGB", (1366, 4000), os.urandom(1366 * 4000 * 3)).save(folder / "startpage.png", compress_level=1)
    files = tuple(f.model_copy(update={"size": (folder / f.name).stat().st_size}) for f in captured.record.files)
    captured = Captured(captured.record.model_copy(update={"files": files}), folder)
    monkeypatch.setenv("SOMEARKIV_PDFA_MEMORY_MB", "64")
    starved, _ = _converted_with(monkeypatch, 1, captured)
    assert starved.pdfa.valid is False
    [finding] = starved.pdfa.findings
    assert "needed more than 64 MB" in finding and "SOMEARKIV_PDFA_MEMORY_MB" in finding
    assert not (folder / "startpage.pdf").exists()
    assert _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "next"))[0].pdfa.valid
    monkeypatch.delenv("SOMEARKIV_PDFA_MEMORY_MB")
    fed, _ = _converted_with(monkeypatch, 1, captured)
    assert fed.pdfa.valid and (folder / "startpage.pdf").stat().st_size > 15 << 20


def test_a_screenshot_in_many_small_chunks_is_embedded_as_it_is(tmp_path):
    """Chromium writes its PNGs in 4 KB IDAT chunks; one_idat joins them (img2pdf alone takes time by
    the square of their number) without touching the compressed data."""
    from tasks.archival_pdf import _png_chunks, one_idat

    png = tmp_path / "startpage.png"
    Image.frombytes("RGB", (1366, 600), os.urandom(1366 * 600 * 3)).save(png, compress_level=1)
    png_in_chunks(png, 4096)
    kinds = [kind for kind, _ in _png_chunks(png.read_bytes())]
    assert kinds.count(b"IDAT") > 500
    joined = one_idat(png.read_bytes())
    assert [kind for kind, _ in _png_chunks(joined)] == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(png) as before, Image.open(io.BytesIO(joined)) as after:
        assert after.tobytes() == before.tobytes()
    assert one_idat(joined) == joined and one_idat(b"not a png") == b"not a png"
    info = make_archival_pdf(png, tmp_path / "startpage.pdf", record())
    assert info.valid  # read back: the embedded stream is the PNG's own data, byte for byte
    with pikepdf.open(tmp_path / "startpage.pdf") as pdf:
        [image] = pdf.pages[0].images.values()
        assert image.read_raw_bytes() == b"".join(body for kind, body in _png_chunks(png.read_bytes())
                                                  if kind == b"IDAT")


def test_a_worker_that_cannot_start_fails_the_conversion_not_the_capture(tmp_path, monkeypatch):
    CONVERTER.close()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    converted, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "c"))
    assert converted.pdfa.valid is False and "could not be started" in converted.pdfa.findings[0]
    assert {f.name for f in converted.files} == {"startpage.png", "startpage-mobile.png", "page.pdf"}
    monkeypatch.undo()
    assert _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "d"))[0].pdfa.valid


def test_a_conversion_past_its_time_limit_is_stopped_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("SOMEARKIV_PDFA_TIMEOUT_S", "2")
    _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "first"))  # within the limit
    [pid] = CONVERTER.pids()
    os.kill(pid, signal.SIGSTOP)  # a conversion that never finishes
    stuck, _ = _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "stuck"))
    assert stuck.pdfa.valid is False and "did not finish within 2 s" in stuck.pdfa.findings[0]
    assert {f.name for f in stuck.files} == {"startpage.png", "startpage-mobile.png", "page.pdf"}
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert _converted_with(monkeypatch, 1, _capture_folder(tmp_path / "next"))[0].pdfa.valid
    assert CONVERTER.pids() != [pid]


def test_the_cli_summary_points_to_an_archival_pdf_only_where_there_is_one(tmp_path, capsys, monkeypatch):
    from deployments import cli
    from somearkiv.models import AccountOutcome, CaptureStatus, Platform, SnapshotSummary, Trigger

    monkeypatch.setattr(cli, "_archive", lambda: None)  # the summary prints the flow's own keys then
    outcome = dict(platform=Platform.facebook, status=CaptureStatus.captured, object_keys=("captures/x/record.json",))
    cli._print_summary(SnapshotSummary(trigger=Trigger.manual, bucket="b", outcomes=(
        AccountOutcome(account_id="good", capture_id="good/1", local_folder=str(tmp_path / "good"), pdfa="PDF/A-2B",
                       **outcome),
        AccountOutcome(account_id="bad", capture_id="bad/1", local_folder=str(tmp_path / "bad"), pdfa="failed",
                       **outcome))), None)
    out = capsys.readouterr().out
    assert f"local PDF/A copy: {tmp_path / 'good' / 'startpage.pdf'}" in out
    assert str(tmp_path / "bad" / "startpage.pdf") not in out
    assert "no archival PDF: the PDF/A conversion failed" in out
