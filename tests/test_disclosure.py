"""Disclosure with masking (utlämnande med maskning): the masked words are in neither the pixels nor the
text of the copy, the copy is PDF/A-2b, it and the decision are filed under disclosures/ locked, ledgered
and audited, and the original capture is untouched.

The capture is built without a browser: page images with words drawn at known boxes (DejaVu Sans), the
word-box files the capture engine writes, and the archival PDF made from them (tasks.pdfa)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time

import pikepdf
import pikepdf.pdfa
import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from somearkiv.fixity import sha256_file
from somearkiv.models import ArchivedFile, DisclosureRecord, FileRole
from somearkiv.retention import records_lock
from storage import Archive
from storage.archive import capture_prefix
from tasks.disclosure import (
    MASK_COLOUR,
    DisclosureError,
    MaskLeak,
    find_occurrences,
    parse_region,
    prepare_disclosure,
    remove_workdir,
)
from tasks.pdfa import make_archival_pdf
from tasks.pdfcheck import check_pdf
from tasks.typeset import FONTS

from .factories import account, record

INK = (30, 30, 30)
PDFTOTEXT = shutil.which("pdftotext")
GROUND = "OSL 21 kap. 7 §"
DESKTOP = ["Välkommen till Perstorps kommun",
           "Kontakta Anna Andersson, tel. 070-123 45 67 om skolan",
           "Hälsningar ANNA ANDERSSON och Annan Annasson",
           "Ring 0701234567 eller maila anna.andersson@perstorp.se"]
MOBILE = ["Fråga Anna", "Andersson svarar"]  # the name over a line break
MASKS = ["anna andersson", "070-123 45 67"]
# which words each page's masks must hide (by text), and which must stay
HIDDEN = {1: {"Anna", "Andersson,", "070-123", "45", "67", "ANNA", "ANDERSSON", "0701234567",
              "anna.andersson@perstorp.se", "Perstorps"},
          2: {"Anna", "Andersson"}}


# -- the matcher (no server) ----------------------------------------------------------------------------


def test_a_mask_finds_consecutive_words_case_and_punctuation_aside():
    words = ["Kontakta", "Anna", "Andersson,", "tel.", "070-123", "45", "67", "eller", "ANNA", "ANDERSSON"]
    assert find_occurrences(words, "anna andersson") == [(1, 2), (8, 9)]
    assert find_occurrences(words, "070-123 45 67") == [(4, 5, 6)]
    assert find_occurrences(words, "0701234567") == [(4, 5, 6)]  # however the phone number is written
    assert find_occurrences(["ring", "070", "-", "123", "45", "67!"], "070-123 45 67") == [(1, 2, 3, 4, 5)]
    assert find_occurrences(["mejla", "anna.andersson@perstorp.se"], "Anna Andersson") == [(1,)]
    assert find_occurrences(["Perstorp", "s", "kommun"], "Perstorps") == [(0, 1)]  # one word in two text nodes


def test_a_mask_starts_and_ends_at_a_boundary():
    assert find_occurrences(["Annan", "Susanna", "Annasson", "anna-lena"], "Anna") == [(3,)]
    assert find_occurrences(["0701234567890"], "070 123 45 67") == []
    assert find_occurrences(["Åsa", "ÖBERG"], "åsa öberg") == [(0, 1)]
    with pytest.raises(DisclosureError):
        find_occurrences(["x"], " -- ")


def test_regions_are_page_and_pixels():
    spec = parse_region("2:10, 20,300,40")
    assert (spec.page, spec.x, spec.y, spec.width, spec.height) == (2, 10, 20, 300, 40)
    for bad in ("1:10,20,300", "0:1,1,1,1", "1:1,1,0,5", "a:1,2,3,4"):
        with pytest.raises(DisclosureError):
            parse_region(bad)


# -- a capture to disclose ------------------------------------------------------------------------------


def draw_page(path, width_css: int, lines: list[str], scale: float) -> list[list]:
    """A page image with *lines* drawn in INK, and the word boxes the browser would report (CSS px)."""
    font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), round(16 * scale))
    ascent, descent = font.getmetrics()
    image = Image.new("RGB", (round(width_css * scale), round((40 + 32 * len(lines)) * scale)), "white")
    draw = ImageDraw.Draw(image)
    words, y = [], 20.0
    for line in lines:
        x = 16.0
        for word in line.split(" "):
            draw.text((x * scale, y * scale), word, font=font, fill=INK)
            w = font.getlength(word) / scale
            words.append([word, round(x, 1), y, round(w, 1), round((ascent + descent) / scale, 1)])
            x += w + font.getlength(" ") / scale
        y += 32
    image.save(path)
    return words


@pytest.fixture(scope="module")
def capture(archive: Archive, tmp_path_factory):
    """A filed capture (bevaras: legal hold) with a desktop and a mobile page and their words."""
    folder = tmp_path_factory.mktemp("capture")
    desktop = draw_page(folder / "startpage.png", 640, DESKTOP, 1.0)
    mobile = draw_page(folder / "startpage-mobile.png", 240, MOBILE, 2.0)
    (folder / "words-desktop.json").write_text(json.dumps({"scale": 1, "words": desktop}), encoding="utf-8")
    (folder / "words-mobile.json").write_text(json.dumps({"scale": 2, "words": mobile}), encoding="utf-8")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=3)
    acc = account(id="utlamnande-test")
    draft = record(started_at=started, account=acc)
    make_archival_pdf(folder / "startpage.png", folder / "startpage.pdf", draft,
                      mobile=folder / "startpage-mobile.png",
                      words={"desktop": folder / "words-desktop.json", "mobile": folder / "words-mobile.json"})
    files = tuple(ArchivedFile(name=name, role=role, media_type=media, size=(folder / name).stat().st_size,
                               sha256=sha256_file(folder / name))
                  for name, role, media in [("startpage.pdf", FileRole.archival, "application/pdf"),
                                            ("startpage.png", FileRole.screenshot, "image/png"),
                                            ("startpage-mobile.png", FileRole.screenshot_mobile, "image/png"),
                                            ("words-desktop.json", FileRole.words, "application/json"),
                                            ("words-mobile.json", FileRole.words, "application/json")])
    filed = archive.file_capture(draft.model_copy(update={"files": files}), folder, records_lock(started))
    return filed, {1: desktop, 2: mobile}, folder


def versions_and_bytes(archive: Archive, capture_id: str) -> dict:
    """Every version under the capture's prefix, with the SHA-256 of its bytes."""
    listed = archive.client.list_object_versions(Bucket=archive.bucket, Prefix=capture_prefix(capture_id))
    assert not listed.get("DeleteMarkers")
    return {(v["Key"], v["VersionId"]): (v["Size"], v["ETag"],
                                         hashlib.sha256(archive.read(v["Key"], v["VersionId"])).hexdigest())
            for v in listed["Versions"]}


def page_images(path) -> list[Image.Image]:
    with pikepdf.open(path) as pdf:
        return [pikepdf.PdfImage(next(iter(page.images.values()))).as_pil_image().convert("RGB") for page in pdf.pages]


def pypdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def assert_nothing_masked_can_be_read(text: str) -> None:
    folded = text.casefold()
    assert not re.search(r"\banna\b", folded), "the name is still in the text"
    assert "andersson" not in folded
    assert "0701234567" not in re.sub(r"\D", "", folded) and "070" not in folded
    assert "perstorps" not in folded  # under the hand-given region
    for kept in ("välkommen", "kontakta", "annan", "annasson", "skolan", "maskerad kopia – utlämnad",
                 GROUND.casefold()):
        assert kept in folded, kept


def perstorps_region(words: list[list]) -> str:
    _, x, y, w, h = next(word for word in words if word[0] == "Perstorps")
    return f"1:{int(x) - 3},{int(y) - 3},{int(w) + 7},{int(h) + 7}"


# -- the whole disclosure, through the CLI ----------------------------------------------------------------


def test_disclose_burns_the_masks_into_the_pixels_drops_them_from_the_text_and_files_it(archive, capture,
                                                                                         tmp_path):
    from typer.testing import CliRunner

    from deployments.cli import app

    filed, words, folder = capture
    before = versions_and_bytes(archive, filed.capture_id)
    audit_before = len(archive.read_audit())
    out = tmp_path / "ut"
    args = ["disclose", filed.capture_id, "--ground", GROUND, "--by", "Arkivarie Åsa Öberg", "--out", str(out),
            "--region", perstorps_region(words[1])]
    for text in MASKS:
        args += ["--mask", text]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the secret is not echoed (logs); "070" alone turns up in the SHA-256 digests it prints now and then
    assert "andersson" not in result.output.lower() and "070-123" not in result.output and "123 45" not in result.output

    [record_path] = out.glob("*-disclosure.json")
    [pdf_path] = out.glob("*-maskerad.pdf")
    decision = DisclosureRecord.model_validate_json(record_path.read_text(encoding="utf-8"))
    assert decision.capture_id == filed.capture_id and decision.legal_ground == GROUND
    assert decision.decided_by == "Arkivarie Åsa Öberg"
    assert [(m.kind, m.text, m.matches) for m in decision.masks] == [
        ("text", "anna andersson", 4), ("text", "070-123 45 67", 2), ("region", None, 0)]
    assert decision.masked_copy.sha256 == sha256_file(pdf_path)
    assert {s.key.rsplit("/", 1)[-1] for s in decision.sources} == {
        "startpage.png", "startpage-mobile.png", "words-desktop.json", "words-mobile.json"}

    # a valid PDF/A-2b, both validators
    assert pikepdf.pdfa.validate_written(pdf_path, "2b").passed
    assert check_pdf(pdf_path).passed
    assert decision.pdfa.valid and decision.pdfa.pages == 2

    # the text: neither pypdf nor poppler reads a masked word; the rest and the stamp read
    assert_nothing_masked_can_be_read(pypdf_text(pdf_path))
    if PDFTOTEXT:
        assert_nothing_masked_can_be_read(subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(pdf_path), "-"],
                                                         capture_output=True, text=True, check=True).stdout)

    # the pixels: every masked word's whole box, with a margin, is the mask colour; nothing of its ink is left
    images = page_images(pdf_path)
    regions = [r for m in decision.masks for r in m.regions]
    for page in decision.pages:
        image, scale = images[page.page - 1], (1.0 if page.page == 1 else 2.0)
        with Image.open(folder / page.source) as original:
            assert image.size == (original.size[0], original.size[1] + page.margin_top)
            original = original.convert("RGB")
            mine = [r for r in regions if r.page == page.page]
            hidden = [w for w in words[page.page] if w[0] in HIDDEN[page.page]]
            assert len(hidden) == len(HIDDEN[page.page])
            for text, x, y, w, h in hidden:
                x0, y0, x1, y1 = x * scale, y * scale, (x + w) * scale, (y + h) * scale
                cover = [r for r in mine if r.x <= x0 - 2 and r.y <= y0 - 2 and r.x + r.width >= x1 + 2
                         and r.y + r.height >= y1 + 2]
                assert cover, f"no region covers {text!r} on page {page.page} with a margin"
                box = (int(x0) - 1, int(y0) - 1 + page.margin_top, int(x1) + 2, int(y1) + 2 + page.margin_top)
                inked = [p for p in image.crop(box).getdata() if p != MASK_COLOUR]
                assert not inked, f"{len(inked)} pixels of {text!r} are not the mask colour"
                assert INK in set(original.crop((box[0], box[1] - page.margin_top, box[2],
                                                 box[3] - page.margin_top)).getdata())  # there was ink
            for r in mine:  # every region is opaque, sampled on a grid and at its corners
                for px in {r.x, r.x + r.width - 1, *range(r.x, r.x + r.width, 3)}:
                    for py in {r.y, r.y + r.height - 1, *range(r.y, r.y + r.height, 3)}:
                        assert image.getpixel((px, py + page.margin_top)) == MASK_COLOUR
            # outside the masks, the page is the original, pixel for pixel
            copy = image.crop((0, page.margin_top, image.size[0], image.size[1]))
            draw_o, draw_c = ImageDraw.Draw(original), ImageDraw.Draw(copy)
            for r in mine:
                for d in (draw_o, draw_c):
                    d.rectangle([r.x, r.y, r.x + r.width - 1, r.y + r.height - 1], fill=(1, 2, 3))
            assert copy.tobytes() == original.tobytes()
            # the words that were not masked are still there, in the pixels
            kept = next(w for w in words[page.page] if w[0] in ("Välkommen", "svarar"))
            assert INK in set(copy.crop((int(kept[1] * scale), int(kept[2] * scale),
                                         int((kept[1] + kept[3]) * scale), int((kept[2] + kept[4]) * scale))).getdata())

    # filed: copy then record under disclosures/<capture-id>/<time>/, locked like a permanent record
    prefix = f"disclosures/{filed.capture_id}/"
    assert decision.record_key.startswith(prefix) and decision.masked_copy.key.startswith(prefix)
    assert decision.record_key in archive.disclosure_record_keys(filed.capture_id)
    head = archive.head(decision.masked_copy.key, decision.masked_copy.version_id)
    assert head.sha256 == decision.masked_copy.sha256 and head.legal_hold and head.lock_mode == "GOVERNANCE"
    assert archive.read(decision.masked_copy.key) == pdf_path.read_bytes()
    filed_decision = DisclosureRecord.model_validate_json(archive.read(decision.record_key))
    assert filed_decision == decision and archive.head(decision.record_key).legal_hold
    entry = archive.ledger.head()
    assert entry.kind == "disclosure" and entry.capture_id == filed.capture_id
    assert [o.key for o in entry.objects] == [decision.masked_copy.key, decision.record_key]
    assert entry.objects[0].sha256 == decision.masked_copy.sha256
    events = archive.read_audit()
    assert len(events) == audit_before + 1
    event = events[-1]
    assert event.event_type == "disclosure" and event.outcome == "success"
    assert "anna" not in event.model_dump_json().casefold()  # the audit trail names no masked text

    # the original: not one version added, removed or changed
    assert versions_and_bytes(archive, filed.capture_id) == before
    # and nobody may overwrite the filed copy
    with pytest.raises(Exception):
        archive.client.put_object(Bucket=archive.bucket, Key=decision.masked_copy.key, Body=b"x", IfNoneMatch="*",
                                  ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=dt.datetime(2100, 1, 1))


def test_a_mask_left_in_the_metadata_refuses_the_copy_and_files_nothing(archive, capture):
    filed, _, _ = capture
    keys = archive.disclosure_record_keys(filed.capture_id)
    # the municipality's name is in the copy's metadata (its creator): masking it cannot be honoured silently
    with pytest.raises(MaskLeak):
        prepare_disclosure(archive, filed.capture_id, ["Perstorps kommun"], [], GROUND)
    assert archive.disclosure_record_keys(filed.capture_id) == keys


def test_requests_that_cannot_be_carried_out_are_refused(archive, capture):
    filed, _, _ = capture
    for capture_id, masks, regions, ground in [
            ("utlamnande-test/1999-01-01T000000Z-manual", ["x"], [], GROUND),  # no such capture
            (filed.capture_id, [], [], GROUND),  # nothing to mask
            (filed.capture_id, ["Anna"], [], "  "),  # no legal ground
            (filed.capture_id, [], ["3:1,1,5,5"], GROUND),  # no page 3
            (filed.capture_id, [], ["1:5000,5000,5,5"], GROUND)]:  # outside the page
        with pytest.raises(DisclosureError):
            prepared = prepare_disclosure(archive, capture_id, masks, regions, ground)
            remove_workdir(prepared)


def test_unmatched_mask_is_filed_with_a_warning_and_exit_1(archive, capture, tmp_path):
    from typer.testing import CliRunner

    from deployments.cli import app

    filed, _, _ = capture
    result = CliRunner().invoke(app, ["disclose", filed.capture_id, "--ground", GROUND, "--by", "Arkivarie",
                                      "--out", str(tmp_path), "--mask", "Anna", "--mask", "Bertil Bengtsson"],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "--mask #2 found nowhere" in result.output
    [record_path] = tmp_path.glob("*-disclosure.json")
    decision = DisclosureRecord.model_validate_json(record_path.read_text(encoding="utf-8"))
    assert [m.matches for m in decision.masks] == [4, 0]


# -- the deployment: a preview for review, filed only when approved ---------------------------------------


def test_the_flow_shows_a_preview_and_files_only_after_approval(archive, capture, prefect_server):
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    from flows.disclosure import disclose_capture

    filed, _, _ = capture
    keys = set(archive.disclosure_record_keys(filed.capture_id))
    result: dict = {}

    def run() -> None:
        result["state"] = disclose_capture(filed.capture_id, GROUND, masks=["Anna Andersson"],
                                           requested_by="Registrator", approval_timeout_s=300, poll_interval_s=1,
                                           return_state=True)

    thread = threading.Thread(target=run)
    thread.start()
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 120
        paused = None
        while time.monotonic() < deadline and paused is None:
            runs = client.read_flow_runs()
            paused = next((r for r in runs if r.state and r.state.is_paused() and r.name and
                           r.flow_id and client.read_flow(r.flow_id).name == "disclose-capture"), None)
            time.sleep(1)
        assert paused is not None, "the run did not pause for the review"
        assert set(archive.disclosure_record_keys(filed.capture_id)) == keys  # nothing filed before approval
        artifacts = client.read_artifacts()
        preview = next(a for a in artifacts if a.key == "disclosure-preview" and a.flow_run_id == paused.id)
        links = re.findall(r"!\[sida \d\]\((\S+)\)", preview.data)
        assert len(links) == 2 and "Anna Andersson" in preview.data
        for link in links:  # a presigned link the reviewer's browser can open: the masked page
            response = httpx.get(link)
            assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
        resume_flow_run(paused.id, run_input={"answered_by": "Arkivarie Åsa Öberg", "decision": "approve",
                                              "comment": "sekretessprövat"})
    thread.join(120)
    state = result["state"]
    assert state.is_completed(), state.message
    new = set(archive.disclosure_record_keys(filed.capture_id)) - keys
    assert len(new) == 1
    decision = DisclosureRecord.model_validate_json(archive.read(new.pop()))
    assert decision.decided_by == "Arkivarie Åsa Öberg" and decision.prepared_by == "Registrator"
    assert decision.review is not None and decision.review.answer["decision"] == "approve"
    assert decision.flow_run_id == str(paused.id)
    for link in links:  # the review copies are gone
        assert httpx.get(link).status_code in (403, 404)
