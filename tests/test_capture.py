"""The capture engine against pages that reproduce the traps archivists meet (real Chromium)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import gzip
import hashlib
import json
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from playwright.async_api import Error as PlaywrightError
from warcio.archiveiterator import ArchiveIterator

from somearkiv.models import CaptureStatus, Trigger
from somearkiv.sessions import SessionError, session_store
from somearkiv.settings import get_settings
from tasks.archival_pdf import MAX_PAGE_SIDE_PT
from tasks.capture import CaptureError, PageUnavailableError, capture_account, warm_browser
from tasks.capture.browser import close_pool, find_browser, get_pool
from tasks.capture.claim import claim_capture, clean_stale_partials
from tasks.capture.consent import ConsentFinding
from tasks.capture.egress import EgressPolicy
from tasks.capture.state import PageShape, View
from tasks.capture.steps import still_since
from tasks.capture.warc import har_to_warc
from tasks.pdfa import make_archival_pdf

from .capture_support import capture
from .factories import account


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {c for _, c in image.convert("RGB").getcolors(maxcolors=10_000_000)}


def test_lazy_images_load_and_sticky_header_is_painted_once(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/lazy.html", tmp_path)
    assert record.status is CaptureStatus.captured
    with Image.open(folder / "startpage.png") as shot:
        rgb = shot.convert("RGB")
        native = rgb.crop((400, 2700, 900, 3000))  # the native loading=lazy image
        observed = rgb.crop((400, rgb.height - 330, 900, rgb.height - 60))  # the IntersectionObserver one
        assert (0x7F, 0xB3, 0xD5) in colours(native), "the loading=lazy image is missing"
        assert (0xF5, 0xB7, 0xB1) in colours(observed), "the data-src image is missing"
        header_rows = [y for y in range(0, rgb.height, 10) if rgb.getpixel((5, y)) == (0x18, 0x77, 0xF2)]
        assert header_rows and max(header_rows) < 60, "the sticky header repeats down the image"


def test_infinite_feed_is_bounded(sample_site, tmp_path):
    began = time.monotonic()
    record, folder = capture(sample_site.url + "traps/infinite.html", tmp_path, max_page_height=6000,
                             max_scroll_s=8)
    assert time.monotonic() - began < 40
    assert record.status is CaptureStatus.captured
    assert any("bounded" in n or "stopped" in n or "cut" in n for n in record.notes)
    with Image.open(folder / "startpage.png") as shot:
        assert shot.height <= 6000


@pytest.mark.parametrize("page, platform", [("consent-onetrust.html", "Onetrust"),
                                            ("consent-cookieyes.html", "cookieyes")])
def test_consent_platforms_are_refused_with_evidence_before(sample_site, tmp_path, page, platform):
    record, folder = capture(sample_site.url + "traps/" + page, tmp_path)
    assert record.status is CaptureStatus.captured
    consent = record.consent
    assert consent.found and consent.dismissed and consent.method == "autoconsent"
    assert consent.platform == platform and consent.rules.startswith("autoconsent ")
    banner = (0x2B, 0x2B, 0x2B)
    with Image.open(folder / consent.evidence) as before, Image.open(folder / "startpage.png") as after:
        assert banner in colours(before), "the evidence must show the popup"
        assert banner not in colours(after), "the archived screenshot must not show the popup"
    html = (folder / "page.html").read_text(encoding="utf-8")
    assert 'data-consent="rejected"' in html and "accepted" not in html.split("<body")[1].split(">")[0]
    assert any(f.name == consent.evidence and f.role.value == "evidence" for f in record.files)


def test_unknown_consent_dialog_gets_the_necessary_only_button(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/consent-generic.html", tmp_path)
    consent = record.consent
    assert consent.found and consent.dismissed and consent.method == "fallback"
    assert consent.action == "clicked 'Endast nödvändiga'"
    assert 'data-consent="rejected"' in (folder / "page.html").read_text(encoding="utf-8")
    assert (folder / consent.evidence).exists()
    assert record.views[0].settle.still_before_s == 0, "refusing changed the page: its quiet is counted afresh"


def test_the_consent_look_ends_early_only_when_nothing_is_loading(sample_site, tmp_path):
    """autoconsent found nothing, but the page is still loading (its consent script is slow): the look goes on,
    within its bound, and the dialog that comes is refused. On a page with nothing loading it ends early."""
    record, folder = capture(sample_site.url + "traps/consent-late.html?delay=1500", tmp_path / "late",
                             consent_look_s=3.0)
    assert record.consent.found and record.consent.dismissed, record.consent
    assert 'data-consent="rejected"' in (folder / "page.html").read_text(encoding="utf-8")
    record, _ = capture(sample_site.url + "mastodon/", tmp_path / "none", consent_look_s=3.0)
    assert not record.consent.found and record.timings["desktop.dismiss_consent"] < 2.0, record.timings


def test_autoconsent_looks_again_as_soon_as_the_page_is_still_and_after_half_a_second_when_it_changes(sample_site,
                                                                                                      tmp_path):
    """Its second pass comes once the page stayed still 0.25 s after the first (tasks.capture.consent._PATCHES),
    and after its own half second on a page that keeps changing (a clock drawn ten times a second)."""
    from tasks.capture.steps import dismiss_consent, navigate
    from tasks.capture.views import run_view

    s = get_settings()
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(tuple(s.allowed_hosts)))
    looked = {}
    for name in ("mastodon/", "traps/consent-timer.html?after=never", "traps/consent-timer.html?after=never&tick=100"):
        state = pool.run(lambda b, name=name: run_view(b, account(id="look", url=sample_site.url + name), View(),
                                                       tmp_path, pool.proxy, (navigate, dismiss_consent)), 60)
        looked[name] = (state.consent_watcher.second_pass_still, state.consent.found)
    assert looked == {"mastodon/": (True, False), "traps/consent-timer.html?after=never": (True, False),
                      "traps/consent-timer.html?after=never&tick=100": (False, False)}, looked


def test_the_quiet_since_the_page_landed_counts_only_for_the_same_unchanged_page():
    """settle counts the page's quiet from when it landed only when nothing says it changed since."""
    landed = PageShape(document=1, height=3042, items=60, at=100.0)

    def since(height=3042, items=60, documents=1, consent=None, shape=landed):
        state = SimpleNamespace(landed_shape=shape, watch=SimpleNamespace(documents=documents), consent=consent)
        return still_since(state, height, items, default=101.0)

    assert since() == 100.0
    assert since(height=3100) == 101.0, "it grew"
    assert since(items=61) == 101.0, "an element came or went"
    assert since(documents=2) == 101.0, "another document"
    assert since(shape=None) == 101.0, "not taken stock of"
    assert since(consent=ConsentFinding(found=True, dismissed=True)) == 101.0, "a consent dialog was refused"
    assert since(consent=ConsentFinding(found=False)) == 100.0


def test_no_consent_popup_is_recorded_as_none_found(sample_site, tmp_path):
    record, _ = capture(sample_site.url + "mastodon/", tmp_path)
    assert record.consent.found is False and record.consent.dismissed is False


@pytest.mark.parametrize("path, kind", [
    ("traps/login.html", "login"),
    ("traps/to-login", "login"),
    ("traps/botcheck.html", "bot-check"),
    ("traps/429", "rate-limit"),
    ("no-such-page/", "http-error"),
])
def test_walls_are_blocked_with_evidence_and_not_captured(sample_site, tmp_path, path, kind):
    record, folder = capture(sample_site.url + path, tmp_path)
    assert record.status is CaptureStatus.blocked
    assert record.wall.kind == kind and record.wall.reason
    assert record.wall.evidence == "wall.png" and (folder / "wall.png").exists()
    assert not (folder / "startpage.png").exists() and not (folder / "page.pdf").exists()


def test_views_run_side_by_side_and_a_wall_stops_the_other_view(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "instagram/", tmp_path, mobile_view=True)
    desktop, mobile = record.views
    assert desktop.name == "desktop" and mobile.name == "mobile"
    assert {f.name for f in record.files} >= {"startpage.png", "startpage-mobile.png", "elements.json"}
    assert {p.name for p in folder.iterdir()} == {f.name for f in record.files}  # nothing unrecorded

    record, folder = capture(sample_site.url + "traps/botcheck.html", tmp_path, mobile_view=True)
    assert record.status is CaptureStatus.blocked and [v.name for v in record.views] == ["desktop"]
    assert {p.name for p in folder.iterdir()} == {f.name for f in record.files}  # the mobile view's files are gone


def test_a_page_that_breaks_or_fakes_the_builtins_is_read_as_it_is(sample_site, tmp_path):
    """The page overwrites querySelectorAll, getBoundingClientRect, getComputedStyle, ... and makes innerText
    and textContent say it is a login wall: our reading scripts run in an isolated world, so they neither
    break nor believe it."""
    record, folder = capture(sample_site.url + "traps/broken-builtins.html", tmp_path, mobile_view=True)
    assert record.status is CaptureStatus.captured, (record.wall, record.notes)
    assert not any("could not be read" in n for n in record.notes), record.notes
    elements = json.loads((folder / "elements.json").read_text(encoding="utf-8"))["elements"]
    assert elements["name"]["text"] == "Perstorps kommun", elements
    assert "Välkommen till kommunens sida." in elements["bio"]["text"], elements
    words = " ".join(w[0] for w in json.loads((folder / "words-desktop.json").read_text(encoding="utf-8"))["words"])
    assert "Välkommen till kommunens sida." in words and "Logga in" not in words
    assert all(v.settle.outcome == "complete" for v in record.views)
    assert "Chrome/" in record.browser.user_agent and "Lögnaren" not in record.browser.user_agent


def test_redirect_to_another_site_is_blocked(sample_site, tmp_path):
    other = sample_site.url.replace("127.0.0.1", "localhost") + "facebook/"
    record, _ = capture(sample_site.url + f"traps/redirect?to={other}", tmp_path)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "other-site"


def test_server_errors_fail_for_a_retry(sample_site, tmp_path):
    with pytest.raises(CaptureError, match="HTTP 500"):
        capture(sample_site.url + "traps/500", tmp_path)


def test_a_page_that_never_loads_fails_within_the_limit(sample_site, tmp_path):
    began = time.monotonic()
    with pytest.raises(CaptureError, match="did not load within 3 s"):
        capture(sample_site.url + "traps/hang", tmp_path, navigation_timeout_s=3)
    assert time.monotonic() - began < 20
    assert not list(tmp_path.glob("captures/trap/*")), "no half-written capture is left behind"


def test_tall_page_is_complete_in_tiles_and_fits_pdfa(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/tall.html", tmp_path, tile_height=4096)
    assert record.views[0].tiles == 5 and record.views[0].page_height == 20060
    with Image.open(folder / "startpage.png") as shot:
        rgb = shot.convert("RGB")
        assert rgb.size == (1366, 20060)
        for i in range(20):  # every band where it belongs: no gap, no overlap at the tile seams
            for y in (60 + i * 1000 + 2, 60 + i * 1000 + 997):
                assert rgb.getpixel((600, y)) == (10 * i, 250 - 10 * i, 100), (i, y)
    info = make_archival_pdf(folder / "startpage.png", tmp_path / "tall.pdf", record)
    assert info.valid
    import pypdf

    box = pypdf.PdfReader(tmp_path / "tall.pdf").pages[0].mediabox
    assert max(float(box.width), float(box.height)) <= MAX_PAGE_SIDE_PT


def test_redirect_to_a_private_address_is_never_requested(sample_site, forbidden_site, tmp_path):
    target = forbidden_site.url + "admin"
    record, folder = capture(sample_site.url + f"traps/redirect?to={target}", tmp_path)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "unsafe-target"
    assert "127.0.0.2" in record.wall.reason and "loopback" in record.wall.reason
    assert any("127.0.0.2" in b.target for b in record.blocked_requests)
    assert forbidden_site.hits == []


def test_subresources_on_private_addresses_are_refused_and_recorded(sample_site, forbidden_site, tmp_path):
    src = forbidden_site.url + "secret.png"
    record, _ = capture(sample_site.url + f"traps/private-image?src={src}", tmp_path)
    assert record.status is CaptureStatus.captured
    assert [b.target for b in record.blocked_requests if "127.0.0.2" in b.target]
    assert forbidden_site.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:text/html,hi", "http://169.254.169.254/latest/",
                                 "http://10.0.0.1/", "http://192.168.1.1/", "http://[::1]/", "http://[fe80::1]/",
                                 "http://224.0.0.1/", "http://127.0.0.2/", "http://0.0.0.0/",
                                 "http://[::ffff:127.0.0.2]/", "gopher://example.org/"])
def test_egress_guard_refuses_non_public_targets(url):
    """The guard's decision, tested directly: no traffic is sent to these addresses."""
    decision = EgressPolicy(("127.0.0.1",)).check_url(url)
    assert not decision.allowed, decision


def test_egress_guard_allows_listed_hosts_and_public_addresses():
    policy = EgressPolicy(("127.0.0.1", "10.20.0.0/16"))
    assert policy.check_url("http://127.0.0.1:8791/").allowed
    assert policy.check_url("http://10.20.3.4/").allowed
    assert policy.decide("93.184.216.34", 443).allowed  # a public address literal: no lookup, no traffic
    assert not EgressPolicy().check_url("http://127.0.0.1/").allowed


def test_start_page_on_a_refused_address_is_not_retried(tmp_path):
    with pytest.raises(PageUnavailableError, match="egress guard"):
        capture("http://127.0.0.2:9/", tmp_path)


def test_saved_login_is_used_encrypted_and_never_written_back(sample_site, tmp_path):
    s = get_settings().model_copy(update={"data_dir": tmp_path / "data", "mobile_view": False,
                                          "session_key_file": tmp_path / "keys" / "session.key"})
    store = session_store(s, create_key=True)
    cookie = {"name": "sid", "value": "logged-in-123", "domain": "127.0.0.1", "path": "/", "expires": -1,
              "httpOnly": True, "secure": False, "sameSite": "Lax"}
    saved = store.save("trap", {"cookies": [cookie], "origins": []}, role="redaktör", saved_by="Kim")
    assert b"logged-in-123" not in saved.read_bytes(), "the session is encrypted at rest"
    assert saved.stat().st_mode & 0o777 == 0o600 and saved.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "keys" / "session.key").stat().st_mode & 0o777 == 0o600
    before = hashlib.sha256(saved.read_bytes()).hexdigest()
    record, folder = capture_account(account(id="trap", url=sample_site.url + "traps/cookie"),
                                     municipality="P", trigger=Trigger.manual, settings=s)
    assert "sid=logged-in-123" in (folder / "page.html").read_text(encoding="utf-8")
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == before, "the page's new cookie is not written back"
    assert record.session.role == "redaktör" and record.session.saved_by == "Kim"
    assert "logged-in-123" not in record.model_dump_json() and str(saved) not in record.model_dump_json()


def test_a_login_file_inside_the_data_dir_or_with_a_wrong_key_is_refused(tmp_path):
    inside = get_settings().model_copy(update={"data_dir": tmp_path, "session_key_file": tmp_path / "k"})
    with pytest.raises(SessionError, match="inside the data directory"):
        session_store(inside, create_key=True)
    s = get_settings().model_copy(update={"data_dir": tmp_path / "data", "session_key_file": tmp_path / "a.key"})
    session_store(s, create_key=True).save("trap", {"cookies": [], "origins": []}, role="redaktör", saved_by=None)
    other = s.model_copy(update={"session_key_file": tmp_path / "b.key"})
    with pytest.raises(SessionError, match="cannot be decrypted"):
        session_store(other, create_key=True).load("trap")
    with pytest.raises(SessionError, match="say as whom"):
        session_store(s).save("trap", {}, role=" ", saved_by=None)


def test_two_views_warc_and_provenance(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "youtube/", tmp_path, mobile_view=True)
    desktop, mobile = record.views
    assert (desktop.name, desktop.viewport_width, desktop.is_mobile) == ("desktop", 1366, False)
    assert (mobile.name, mobile.viewport_width, mobile.is_mobile) == ("mobile", 390, True)
    assert "Mobile" in mobile.user_agent and "Mobile" not in desktop.user_agent
    with Image.open(folder / "startpage-mobile.png") as shot:
        assert shot.width == int(390 * mobile.device_scale_factor)
    assert {"desktop.navigate", "desktop.settle", "desktop.screenshot", "mobile.screenshot"} <= set(record.timings)
    assert record.software["chromium"] == record.browser.version and "autoconsent" in record.software
    assert record.browser.locale == "sv-SE" and record.browser.timezone == "Europe/Stockholm"

    with gzip.open(folder / "page.warc.gz", "rb") as raw, open(folder / "page.warc.gz", "rb") as f:
        assert raw.read(8) == b"WARC/1.1"
        records = list(ArchiveIterator(f))
    responses = {r.rec_headers.get_header("WARC-Target-URI"): r for r in records if r.rec_type == "response"}
    assert sample_site.url + "youtube/" in responses
    assert any(u.endswith("img/post0.svg") for u in responses)
    assert sum(r.rec_type == "request" for r in records) == len(responses)


def test_warc_writing_leaves_no_open_temporary_files(tmp_path):
    """An unclosed temporary file per record (warcio buffers a payload of unknown length) is
    collected later, in whatever thread, as a ResourceWarning; one once failed a PDF/A validation."""
    body = "<html>hej</html>"
    entry = {"startedDateTime": "2026-11-29T10:00:00.000+00:00",
             "request": {"method": "GET", "url": "http://127.0.0.1/", "headers": [{"name": "Accept", "value": "*/*"}]},
             "response": {"status": 200, "statusText": "OK", "headers": [{"name": "Content-Type", "value": "text/html"}],
                          "content": {"text": body}}}
    (tmp_path / "page.har").write_text(json.dumps({"log": {"entries": [entry] * 3}}), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert har_to_warc(tmp_path / "page.har", tmp_path / "page.warc.gz", "test").responses == 3
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    with open(tmp_path / "page.warc.gz", "rb") as f:
        bodies = [r.content_stream().read() for r in ArchiveIterator(f) if r.rec_type == "response"]
    assert bodies == [body.encode()] * 3


def test_a_crashed_browser_is_started_again(sample_site, tmp_path):
    s = get_settings()
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(tuple(s.allowed_hosts)))
    capture(sample_site.url + "mastodon/", tmp_path)
    launches = pool.launches
    pool.run(lambda browser: browser.close(), 10)  # as if Chromium had died
    record, _ = capture(sample_site.url + "mastodon/", tmp_path)
    assert record.status is CaptureStatus.captured and pool.launches == launches + 1


def test_reading_scripts_run_only_in_a_world_of_their_own(sample_site):
    """A context id that names nothing any more, or another world (ids repeat across renderer processes):
    the read notices, makes a world of its own and reads the page; across a navigation to another site too."""
    from tasks.capture import isolated

    s = get_settings()
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(tuple(s.allowed_hosts)))
    other_site = sample_site.url.replace("127.0.0.1", "localhost")

    async def work(browser):
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(sample_site.url + "traps/broken-builtins.html")
            title = "() => document.title"
            first = await isolated.read(page, title)
            reader = isolated._readers[page]
            reader.context_id = 987654  # a context that does not exist
            gone = await isolated.read(page, title)
            tree = await reader.session.send("Page.getFrameTree")
            foreign = await reader.session.send("Page.createIsolatedWorld",
                                                {"frameId": tree["frameTree"]["frame"]["id"]})
            await reader.session.send("Runtime.evaluate", {"expression": "document.title = 'fel värld'",
                                                            "contextId": foreign["executionContextId"]})
            await page.evaluate("() => { document.title = 'Perstorps kommun'; }")
            reader.context_id = foreign["executionContextId"]  # a world that is not ours
            foreign_read = await isolated.read(page, "() => [document.title, typeof window.__somearkivReader]")
            await page.goto(other_site + "traps/broken-builtins.html")  # another site: another renderer process
            moved = await isolated.read(page, "() => [location.hostname, document.querySelectorAll('h1').length]")
            return first, gone, foreign_read, moved
        finally:
            await context.close()

    first, gone, foreign_read, moved = pool.run(work, 60)
    assert first.startswith("Perstorps kommun") and gone == first
    assert foreign_read == ["Perstorps kommun", "string"]  # read again in a world of ours
    assert moved == ["localhost", 1]


def test_a_closed_page_leaves_nothing_of_its_reader_behind(sample_site):
    """The reader's CDP session leads back to its page, so a weakly keyed table alone kept every page read,
    with its context, for the life of the worker: about 1 MB per capture over a round of 200 accounts."""
    import gc
    import weakref

    from tasks.capture import isolated

    s = get_settings()
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(tuple(s.allowed_hosts)))

    async def work(browser):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(sample_site.url + "traps/broken-builtins.html")
        title = await isolated.read(page, "() => document.title")
        was_kept = page in isolated._readers
        await context.close()
        return title, was_kept, weakref.ref(page), weakref.ref(context)

    title, was_kept, page, context = pool.run(work, 60)
    gc.collect()
    assert title.startswith("Perstorps kommun") and was_kept
    assert page() is None and context() is None


def test_the_changes_to_autoconsent_are_made_once_or_not_at_all():
    """Its second pass as soon as the page is still (tasks.capture.consent._PATCHES): an update of the vendored
    script that moved that code stops the capture with a reason, not a different look."""
    from tasks.capture.consent import _PATCHES, _VENDOR, _script, patched

    published = (_VENDOR / "autoconsent.playwright.js").read_text(encoding="utf-8")
    assert all(new in _script() and old not in _script() for old, new in _PATCHES)
    for old, _ in _PATCHES:
        for changed in (published.replace(old, ""), published.replace(old, old + "\n" + old)):
            with pytest.raises(RuntimeError, match="not there once"):
                patched(changed)


def test_autoconsent_runs_only_in_views_that_look_for_consent(sample_site, tmp_path):
    from tasks.capture.steps import dismiss_consent, navigate
    from tasks.capture.views import run_view

    s = get_settings()
    pool = get_pool(find_browser(s.browser_path), s.capture_concurrency, EgressPolicy(tuple(s.allowed_hosts)))
    seen = []

    async def note(state):
        seen.append(await state.page.evaluate("() => typeof window.autoconsentSendMessage"))

    for steps in ((navigate, note), (navigate, dismiss_consent, note)):
        pool.run(lambda b, steps=steps: run_view(b, account(id="ac", url=sample_site.url + "mastodon/"), View(),
                                                 tmp_path, pool.proxy, steps), 60)
    assert seen == ["undefined", "function"]


def test_the_driver_runs_with_small_young_generation(sample_site, tmp_path):
    """Playwright's node driver gets DRIVER_NODE_OPTIONS (unless the operator set NODE_OPTIONS)."""
    from pathlib import Path

    from tasks.capture.browser import DRIVER_NODE_OPTIONS

    capture(sample_site.url + "mastodon/", tmp_path)
    drivers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _driver_of_this_process(p)]
    assert drivers
    for proc in drivers:
        env = dict(line.split("=", 1) for line in (proc / "environ").read_bytes().decode().split("\0") if "=" in line)
        assert env.get("NODE_OPTIONS") == os.environ.get("NODE_OPTIONS", DRIVER_NODE_OPTIONS)
    assert os.environ.get("NODE_OPTIONS") != DRIVER_NODE_OPTIONS  # only the driver's environment has it


# Fifty messages the size of a screenshot, each alive half a second (so it outlives the young
# generation's collections, as a protocol message does) and garbage after: the driver's load in a round.
_DRIVER_GARBAGE = """
let max = 0, made = 0;
const ring = [];
const tick = setInterval(() => {
  ring.push(JSON.parse(JSON.stringify({ data: Buffer.alloc(2 ** 20, made).toString('base64'),
    items: Array.from({ length: 2000 }, (_, i) => ({ i, s: 'n' + i })) })));
  if (ring.length > 5) ring.shift();
  max = Math.max(max, process.memoryUsage().heapUsed);
  if (++made === 50) { clearInterval(tick); console.log(max); }
}, 100);
"""


def test_the_drivers_heap_stays_level_under_garbage(tmp_path):
    """driver_gc.js (in DRIVER_NODE_OPTIONS) collects once 16 MB of garbage has piled up: the heap of
    Playwright's own node stays under 50 MB under 75 MB of promoted garbage. Without it (the bad case)
    the same garbage piles up well past that before V8 collects by itself. V8's limits are set alike in
    both (from the machine's memory otherwise)."""
    import subprocess

    from playwright._impl._driver import compute_driver_executable

    from tasks.capture.browser import DRIVER_NODE_OPTIONS

    node, _ = compute_driver_executable()
    script = tmp_path / "garbage.js"
    script.write_text(_DRIVER_GARBAGE)

    def peak_heap_mb(node_options: str) -> float:
        env = {**os.environ, "NODE_OPTIONS": f"{node_options} --max-old-space-size=4096"}
        out = subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=60, check=True)
        return int(out.stdout.split()[-1]) / 2**20

    assert "--require" in DRIVER_NODE_OPTIONS
    level = peak_heap_mb(DRIVER_NODE_OPTIONS)
    assert level < 50
    assert peak_heap_mb("--max-semi-space-size=2") > 1.5 * level


def _driver_of_this_process(proc) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes()
        parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return False
    return b"run-driver" in cmdline and parent == os.getpid()


def _browser_command_lines() -> list[list[str]]:
    """The command lines of the Chromium browsers (not their helpers) started below this process."""
    from tests.processes import descendants

    found = []
    for pid in descendants(os.getpid()):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "--remote-debugging-pipe" in args and not any(a.startswith("--type=") for a in args):
            found.append(args)
    return found


def _disabled_features(args: list[str]) -> list[set[str]]:
    return [set(a.split("=", 1)[1].split(",")) for a in args if a.startswith("--disable-features=")]


def test_chromium_keeps_playwrights_disabled_features_beside_ours(sample_site):
    """Chromium keeps only the last --disable-features, and Playwright puts its own first: ours, the
    last, must carry Playwright's list too (http:// pages kept on HTTP, paint holding and third-party storage
    partitioning off, no calls to Google at start-up). Playwright's list is read from a bare launch."""
    from playwright.sync_api import sync_playwright

    from tasks.capture.browser import OWN_DISABLED_FEATURES, BrowserPool

    executable = find_browser(get_settings().browser_path)
    with sync_playwright() as p:
        bare = p.chromium.launch(executable_path=executable)
        try:
            playwrights = [args for args in _browser_command_lines()
                           if not any(a.startswith("--host-resolver-rules=") for a in args)]
        finally:
            bare.close()
    assert len(playwrights) == 1 and len(_disabled_features(playwrights[0])) == 1
    expected = _disabled_features(playwrights[0])[0] | set(OWN_DISABLED_FEATURES)
    assert "HttpsUpgrades" in expected

    pool = BrowserPool(executable, 1, EgressPolicy(("127.0.0.1",)))

    async def version(browser):
        return browser.version

    try:
        assert pool.run(version, 60)
        ours = [args for args in _browser_command_lines() if any(a.startswith("--host-resolver-rules=") for a in args)]
        assert ours
        for args in ours:
            in_effect = _disabled_features(args)[-1]  # Chromium's reading: the last switch only
            assert expected <= in_effect, f"turned back on: {sorted(expected - in_effect)}"
    finally:
        pool.close()


async def _omnibox_popups(browser, wait_s: float) -> list[str]:
    """The addresses of the address bar's WebUI popups a browser loads beside a page: looked for over
    *wait_s* seconds (a popup loaded late is seen too), returned as soon as there is one."""
    context = await browser.new_context()
    cdp = await browser.new_browser_cdp_session()
    try:
        await context.new_page()
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            targets = (await cdp.send("Target.getTargets"))["targetInfos"]
            found = [t["url"] for t in targets if t["url"].startswith("chrome://omnibox")]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.1)
    finally:
        await cdp.detach()
        await context.close()


@pytest.mark.browser
def test_no_address_bar_popup_is_loaded_beside_each_page():
    """Headless Chromium (the full browser) loads the address bar's popup, a WebUI page with a renderer
    of its own, in every window: ours does not (measured: about 70 % of the renderers' CPU per capture).
    A bare launch shows what the switch is for where the browser has that popup at all."""
    from playwright.async_api import async_playwright

    from tasks.capture.browser import BrowserPool

    executable = find_browser(get_settings().browser_path)

    async def bare_launch() -> list[str]:
        async with async_playwright() as p:
            bare = await p.chromium.launch(executable_path=executable)
            try:
                return await _omnibox_popups(bare, 5.0)
            finally:
                await bare.close()

    in_bare = asyncio.run(bare_launch())
    pool = BrowserPool(executable, 1, EgressPolicy(("127.0.0.1",)))
    try:
        ours = pool.run(lambda browser: _omnibox_popups(browser, 2.0), 60)
    finally:
        pool.close()
    assert ours == [], f"the address bar's popup is loaded (bare launch: {in_bare})"
    if find_browser(None):  # Debian's Chromium, which has it: the switch is what keeps it away
        assert in_bare, "Debian's Chromium no longer loads the popup: this test no longer shows anything"


def test_playwrights_list_is_read_from_its_driver_in_either_form(tmp_path, monkeypatch):
    """The list as a plain array (1.65's bundle) or as an arrow function (older drivers), comments
    dropped; a driver without it gives the known list of 1.65."""
    from tasks.capture import browser

    forms = {"lib/coreBundle.js": ('x = 1;\n    disabledFeatures = [\n      // See "https://x"\n      "A1",\n'
                                   '      "B2"\n    ].filter(Boolean);'),
             "lib/server/chromium/chromiumSwitches.js": 'const disabledFeatures = assistantMode => [\n  "C3",\n'
                                                        '  assistantMode ? "" : "D4",\n].filter(Boolean);'}
    monkeypatch.setattr(browser, "_DRIVER_PACKAGE", tmp_path)
    try:
        for name, source in forms.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(source, encoding="utf-8")
            browser.playwright_disabled_features.cache_clear()
            assert browser.playwright_disabled_features() == (("A1", "B2") if "core" in name else ("C3", "D4"))
            (tmp_path / name).unlink()
        browser.playwright_disabled_features.cache_clear()
        assert browser.playwright_disabled_features() == browser._PLAYWRIGHT_1_65_DISABLED_FEATURES
    finally:  # the made-up lists must not reach a browser launched later in this process
        monkeypatch.undo()
        browser.playwright_disabled_features.cache_clear()


def test_the_browser_and_its_driver_are_started_afresh_after_a_number_of_works(sample_site):
    """Recycling (browser.RECYCLE_AFTER): works running on the old browser end there, the next
    ones wait and get the new one; none fails."""
    import asyncio

    from tasks.capture.browser import BrowserPool

    pool = BrowserPool(find_browser(get_settings().browser_path), 2, EgressPolicy(("127.0.0.1",)), recycle_after=3)

    async def title(browser):
        page = await browser.new_page()
        try:
            await page.goto(sample_site.url + "mastodon/")
            await asyncio.sleep(0.3)
            return browser, await page.title()
        finally:
            await page.close()

    try:
        with ThreadPoolExecutor(2) as runner:
            done = list(runner.map(lambda _: pool.run(title, 60), range(7)))
        assert all(t.startswith("Perstorps kommun") for _, t in done)
        browsers = [b for b, _ in done]
        assert pool.launches == 3 and len({id(b) for b in browsers}) == 3  # 3 + 3 + 1 works
        assert sum(b.is_connected() for b in {id(b): b for b in browsers}.values()) == 1  # the old ones closed
        assert pool.browser_version
    finally:
        pool.close()


def test_a_warmed_pool_starts_its_browser_before_the_first_work_and_that_work_uses_it(sample_site, tmp_path):
    """warm (a round calls it as it begins) starts the browser without waiting; the first work finds it and
    counts as the browser's first (recycling counts works, not starts). A start that fails is not raised
    there: the first work meets it and says why."""
    from tasks.capture.browser import BrowserPool

    pool = BrowserPool(find_browser(get_settings().browser_path), 1, EgressPolicy(("127.0.0.1",)), recycle_after=2)
    try:
        pool.warm()
        deadline = time.monotonic() + 60
        while pool.launches == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.launches == 1 and pool.browser_version, "started before any work"
        pool.warm()  # running already: nothing more
        titles, launches = [], []
        for _ in range(3):
            titles.append(pool.run(lambda browser: _opened_title(browser, sample_site.url + "mastodon/"), 60))
            launches.append(pool.launches)
        assert all(t.startswith("Perstorps kommun") for t in titles)
        assert launches == [1, 1, 2], "recycled after two works: the warm start is not one of them"
    finally:
        pool.close()

    # nor does a round's call for it when no browser can be had: each capture then says why, as before
    warm_browser(get_settings().model_copy(update={"browser_path": str(tmp_path / "no-chromium")}))
    missing = BrowserPool(str(tmp_path / "no-chromium"), 1, EgressPolicy(("127.0.0.1",)))
    try:
        missing.warm()  # returns at once, raises nothing
        with pytest.raises(PlaywrightError, match="no-chromium"):
            missing.run(lambda browser: _opened_title(browser, sample_site.url + "mastodon/"), 60)
        assert missing.launches == 0
    finally:
        missing.close()


def test_the_browser_a_round_starts_early_keeps_files_to_this_service(sample_site, tmp_path):
    """A round starts the browser before the archive's preparation sets the umask, and a process keeps the
    umask it was started under: the driver (which writes the screenshots and the HAR), the browser and the
    egress guard are started under 077 whatever the flow's process had, and a capture's files are 0600."""
    from .processes import descendants

    close_pool()
    before = os.umask(0o022)  # a worker's flow-run process, started without UMask=0077
    try:
        warm_browser()
        started: dict[int, str] = {}
        deadline = time.monotonic() + 60
        while not any("chrom" in c and "--type=" not in c for c in started.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
            for pid in descendants(os.getpid()):
                try:
                    started[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
        ours = {pid: cmd for pid, cmd in started.items()
                if "chrom" in cmd or "playwright" in cmd or "egress" in cmd}
        assert any("chrom" in c for c in ours.values()) and any("playwright" in c for c in ours.values()), started
        for pid in ours:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # a helper that came and went
            assert "Umask:\t0077" in status, (ours[pid][:80], [ln for ln in status.splitlines() if "Umask" in ln])
        record, folder = capture(sample_site.url + "mastodon/", tmp_path)
        assert record.status is CaptureStatus.captured
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir() if p.is_file()}
        assert modes["startpage.png"] == "0o600" and set(modes.values()) == {"0o600"}, modes
    finally:
        os.umask(before)
        close_pool()


async def _opened_title(browser, url: str) -> str:
    page = await browser.new_page()
    try:
        await page.goto(url)
        return await page.title()
    finally:
        await page.close()


@pytest.mark.parametrize("pages", [2, 4])
def test_the_pages_open_at_once_stay_within_the_budget(sample_site, tmp_path, pages):
    """Two captures at once, two views each: with 4 pages all four views run side by side; with 2, a view
    waits for a free page and every capture is still whole."""
    import asyncio

    from tasks.capture.browser import BrowserPool
    from tasks.capture.steps import DESKTOP_STEPS, MOBILE_STEPS
    from tasks.capture.views import capture_views

    s = get_settings().model_copy(update={"data_dir": tmp_path})
    pool = BrowserPool(find_browser(s.browser_path), 2, EgressPolicy(("127.0.0.1",)), pages=pages)
    desktop = View.desktop(s)
    views = [(desktop, DESKTOP_STEPS), (desktop.as_mobile(s), MOBILE_STEPS)]
    most = [0]

    async def one(browser, i):
        async def count():
            while True:
                most[0] = max(most[0], len(browser.contexts))
                await asyncio.sleep(0.02)

        counting = asyncio.ensure_future(count())
        try:
            out = tmp_path / f"c{i}"
            out.mkdir()
            return await capture_views(browser, account(id=f"pages-{i}", url=sample_site.url + "mastodon/"), views,
                                       out, pool.proxy, None, pool.page_slots)
        finally:
            counting.cancel()

    try:
        with ThreadPoolExecutor(2) as runner:
            done = list(runner.map(lambda i: pool.run(lambda b: one(b, i), 120), range(2)))
        assert [[v.view.name for v in states] for states in done] == [["desktop", "mobile"]] * 2
        assert all(v.wall is None and v.settled.outcome == "complete" for states in done for v in states)
        assert most[0] == pages, most
    finally:
        pool.close()


def test_two_captures_of_one_account_in_one_second_claim_different_ids(tmp_path):
    """Capture ids are per second: the second claim takes the next second's id and deletes nothing."""
    captures, second = tmp_path / "captures", dt.datetime(2026, 3, 1, 9, 30, 15, tzinfo=dt.UTC)
    barrier = threading.Barrier(4)
    claims = []

    def claim() -> None:
        barrier.wait()
        claims.append(claim_capture(captures, "same", Trigger.scheduled, second))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert {c.capture_id: c.started for c in claims} == {
        f"same/2026-03-01T09301{s}Z-scheduled": second.replace(second=s + 10) for s in (5, 6, 7, 8)}
    for c in claims:
        (c.partial / "startpage.png").write_bytes(c.capture_id.encode())

    # an old working folder nobody holds goes; live claims stay, however old they look
    dead = captures / "same" / "2026-03-01T092000Z-scheduled.partial"
    dead.mkdir()
    for folder in [dead, *(c.partial for c in claims)]:
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    clean_stale_partials(captures / "same", 120)
    assert not dead.exists() and all(c.partial.is_dir() for c in claims)

    folders = [c.complete() for c in claims]
    assert all((f / "startpage.png").read_bytes() == c.capture_id.encode() for f, c in zip(folders, claims))
    assert sorted(p.name for p in (captures / "same").iterdir()) == sorted(f.name for f in folders)
    assert not [p for f in folders for p in f.iterdir() if p.name != "startpage.png"], "the claim's lock is gone"

    # a finished capture's id is not claimed again
    again = claim_capture(captures, "same", Trigger.scheduled, second)
    assert again.capture_id == "same/2026-03-01T093019Z-scheduled"
    again.abandon()
    assert not again.partial.exists() and all(f.is_dir() for f in folders)


def teardown_module():
    close_pool()
