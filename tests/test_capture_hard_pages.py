"""The hard pages of real platforms (issue #14), in samples/pages/traps: real Chromium, only the page server allowed.

Consent in a cross-origin frame and on another host, a feed that loads slowly, a long page
that ends, navigation after load, browser error pages, local files, a sign-in overlay after
a scroll; every outcome with a complete record.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from deployments.sample_site import SampleSite
from somearkiv.models import CaptureStatus
from tasks.capture import CaptureError
from tasks.capture.browser import close_pool

from .capture_support import capture

pytestmark = pytest.mark.browser

PAGE_BACKGROUND = (0xF0, 0xF2, 0xF5)  # _base.css: what the page shows where no veil dims it


def pixel(path, xy):
    with Image.open(path) as image:
        return image.convert("RGB").getpixel(xy)


def test_consent_in_a_cross_origin_frame_is_refused_and_its_veil_is_gone(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/consent-iframe.html", tmp_path)
    assert record.status is CaptureStatus.captured
    consent = record.consent
    assert consent.found and consent.dismissed and "Avvisa alla" in consent.action
    assert consent.frame_url.startswith("http://localhost:"), "the dialog was in the other origin's frame"
    assert "/traps/consent-choice?choice=rejected" in sample_site.hits
    assert not any("choice=accepted" in hit for hit in sample_site.hits)
    assert pixel(folder / consent.evidence, (60, 450)) != PAGE_BACKGROUND, "the evidence shows the veil"
    assert pixel(folder / "startpage.png", (60, 450)) == PAGE_BACKGROUND, "the archived page has no veil"


@pytest.mark.parametrize("after_ms", [150, 350, 500])
@pytest.mark.parametrize("how", ["add", "reveal"])
def test_a_consent_dialog_shown_by_a_timer_is_refused_whenever_it_comes(sample_site, tmp_path, how, after_ms):
    """No request announces it: a dialog put in (or a hidden one shown by an attribute) a moment after the load.
    Early, the look sees the page change and goes on; later than the look, it is refused before the shot. (The
    page is done no sooner than its dwell, 1 s after it landed: a dialog that comes later is not waited for.)"""
    record, folder = capture(sample_site.url + f"traps/consent-timer.html?after={after_ms}&how={how}", tmp_path)
    assert record.consent.found and record.consent.dismissed, (record.consent, record.notes, record.timings,
                                                               record.views[0].settle)
    assert 'data-consent="rejected"' in (folder / "page.html").read_text(encoding="utf-8")
    assert (folder / record.consent.evidence).exists()
    assert pixel(folder / "startpage.png", (60, 890)) == PAGE_BACKGROUND, "the shot has no dialog over it"


def test_a_notice_that_can_only_be_accepted_is_left_as_it_is(sample_site, tmp_path):
    """A cookie notice whose one button accepts: found, and nothing clicked (autoconsent's heuristics would click
    "Accept all" on such a popup; they are told to act only on one with a button that refuses)."""
    record, folder = capture(sample_site.url + "traps/consent-accept-only.html", tmp_path)
    assert record.consent.found and not record.consent.dismissed, record.consent
    assert "left as it is" in (record.consent.action or ""), record.consent
    assert not any("choice=accepted" in hit for hit in sample_site.hits)
    assert 'data-consent="accepted"' not in (folder / "page.html").read_text(encoding="utf-8")


def test_consent_asked_on_another_host_is_refused_there_and_followed_back(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/roundtrip/", tmp_path)
    assert record.status is CaptureStatus.captured, record.wall
    assert record.page.final_url.startswith(sample_site.url + "traps/roundtrip/")
    assert record.page.title == "Perstorps kommun - YouTube"
    assert record.consent.host == "localhost" and record.consent.dismissed
    assert (folder / record.consent.evidence).exists()
    hosts = [h.url.split("/")[2].split(":")[0] for h in record.page.hops]
    assert hosts[0] == "127.0.0.1" and "localhost" in hosts and hosts[-1] == "127.0.0.1"
    assert any("choice=reject" in hit for hit in sample_site.hits)
    assert not any("choice=accept" in hit for hit in sample_site.hits)
    assert "refused" in (folder / "page.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("query", ["delay=2000&batches=3", "delay=1200&batches=3&render=300"])
def test_a_slow_feed_is_waited_for_in_every_view(sample_site, tmp_path, query):
    """Each batch takes longer than the (default) quiet period: the request in flight keeps the capture waiting;
    and a batch the page puts up a while after it came (render) is waited for too."""
    record, folder = capture(sample_site.url + "traps/slow-feed.html?" + query, tmp_path, mobile_view=True)
    assert record.status is CaptureStatus.captured
    for view in record.views:
        assert view.settle.outcome == "complete", view
        words = json.loads((folder / f"words-{view.name}.json").read_text(encoding="utf-8"))["words"]
        text = " ".join(w[0] for w in words)
        assert "Inlägg 30 i det långsamma flödet" in text and "Det fanns inga fler inlägg." in text, view.name


def test_a_page_that_pings_its_server_on_every_scroll_still_settles(sample_site, tmp_path):
    """The grace after a fetch ends (for an answer to be drawn) never keeps a still page from being done."""
    record, _ = capture(sample_site.url + "traps/pings.html", tmp_path)
    settle = record.views[0].settle
    assert settle.outcome == "complete" and settle.seconds < 6, settle


def test_posts_put_up_after_the_page_landed_without_a_request_are_waited_for(sample_site, tmp_path):
    """The quiet a page kept while consent was looked for counts only if it did not change since it landed.

    This page puts its posts up by itself 0.25 s after it loaded and more 0.4 s later, with nothing on
    the network to say it is not done: settling sees it changed and counts the quiet itself.
    """
    record, folder = capture(sample_site.url + "traps/late-render.html?after=250&more=400", tmp_path,
                             mobile_view=True)
    assert record.status is CaptureStatus.captured
    for view in record.views:
        assert view.settle.outcome == "complete" and view.settle.still_before_s == 0, view.settle
        words = json.loads((folder / f"words-{view.name}.json").read_text(encoding="utf-8"))["words"]
        text = " ".join(w[0] for w in words)
        assert "inlägg 24" in text and "Laddar" not in text, view.name


def test_a_still_page_counts_the_quiet_it_kept_while_consent_was_looked_for(sample_site, tmp_path):
    """A page that stayed the same since it landed need not be watched for the whole quiet period again;
    it still gets its nudge at the bottom (the scroll event a lazy loader listens for) before it is done."""
    record, _ = capture(sample_site.url + "facebook/", tmp_path, mobile_view=True)
    for view in record.views:
        settle = view.settle
        assert settle.outcome == "complete" and settle.still_before_s > 0 and settle.rounds >= 2, settle


def test_a_long_page_that_ends_is_taken_whole_and_an_endless_feed_is_bounded(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/tall-finite.html", tmp_path / "long")
    view = record.views[0]
    assert (view.settle.outcome, view.page_height, view.settle.grew) == ("complete", 60060, 0)
    assert not any("growing" in n or "cut" in n for n in record.notes), record.notes
    with Image.open(folder / "startpage.png") as shot:
        rgb = shot.convert("RGB")
        assert rgb.size == (1366, 60060)
        for i in range(60):  # every band where it belongs, across the tile seams
            for y in (60 + i * 1000 + 2, 60 + i * 1000 + 997):
                assert rgb.getpixel((600, y)) == (4 * i, 250 - 4 * i, (i * 37) % 256), (i, y)

    record, folder = capture(sample_site.url + "traps/infinite.html", tmp_path / "feed", max_page_height=6000,
                             mobile_view=True)
    # the phone's view too. The page has no <meta name=viewport>, so a phone lays it out 980 px wide, its window
    # 2121 px high (not 844), and shows all of it zoomed out. "Its bottom came near" is measured in that window
    # (it was not, and the feed was scrolled to the 100 000 px safety limit as a long page that ends), and the
    # shot is the whole width (it was the left 390 px of it, at two pixels to one)
    for view in record.views:
        assert (view.settle.outcome, view.settle.grew > 0) == ("height-limit", True), (view.name, view.settle)
    assert sum("kept growing" in n for n in record.notes) == 2, record.notes
    assert any("mobile: the page has no layout for a 390 px wide screen: laid out 980 px wide, shown zoomed out" in n
               for n in record.notes), record.notes
    with Image.open(folder / "startpage.png") as shot:
        assert shot.height == 6000
    with Image.open(folder / "startpage-mobile.png") as shot:
        assert shot.size == (980, 6000)  # one pixel per page pixel: all of the page, at the size it was laid out
        right = shot.convert("RGB").crop((490, 0, 980, 6000))
    assert right.getextrema() != ((255, 255), (255, 255), (255, 255)), "the right half of the page is in the shot"
    words = json.loads((folder / "words-mobile.json").read_text(encoding="utf-8"))
    assert words["scale"] == 1.0 and max(w[1] + w[3] for w in words["words"]) <= 980


def test_a_page_that_scrolls_in_a_pane_is_scrolled_there_and_shot_whole(sample_site, tmp_path):
    """An app's layout: the page is the window's height and does not scroll; its feed scrolls in a pane and
    loads more as the pane nears its end. Scrolling the page did nothing: the shot was the first screen."""
    record, folder = capture(sample_site.url + "traps/inner-scroll.html", tmp_path, mobile_view=True)
    assert record.status is CaptureStatus.captured
    for view in record.views:
        assert (view.settle.outcome, view.settle.grew > 0) == ("complete", True), (view.name, view.settle)
    assert sum("scrolls inside an element (main#feed)" in n for n in record.notes) == 2, record.notes
    for view in record.views:
        words = json.loads((folder / f"words-{view.name}.json").read_text(encoding="utf-8"))
        [last] = [w for w in words["words"] if w[0] == "sista)"]  # the 60th post, loaded by scrolling the pane
        with Image.open(folder / view.screenshot) as shot:
            assert shot.height == view.page_height * words["scale"] > 5000, (view.name, shot.size)
            x, y, w, h = (round(c * words["scale"]) for c in last[1:])
            drawn = shot.convert("L").crop((x, y, x + w, y + h))
            assert drawn.getextrema()[0] < 128, (view.name, last)  # its text is drawn where the words say
    html = (folder / "page.html").read_text(encoding="utf-8")
    assert "Inlägg nummer 60" in html and "!important" not in html  # the DOM as the page had it, not as unrolled


def test_a_page_locked_by_a_scrolling_overlay_is_shot_whole_once_it_is_closed(sample_site, tmp_path):
    """The overlay locks the page at the window's height and scrolls itself: its veil is not taken for the page's
    pane, and the page is measured again once the overlay is closed (it was shot as one window)."""
    record, folder = capture(sample_site.url + "traps/locked-by-overlay.html", tmp_path)
    assert record.status is CaptureStatus.captured
    assert any("sign-in overlay covered the page" in n for n in record.notes), record.notes
    assert not any("scrolls inside an element" in n for n in record.notes), record.notes
    with Image.open(folder / "startpage.png") as shot:
        assert shot.height == record.views[0].page_height > 1500, shot.size  # twelve posts, not one window
    words = json.loads((folder / "words-desktop.json").read_text(encoding="utf-8"))["words"]
    assert [w[0] for w in words].count("nummer") == 12


@pytest.mark.parametrize("page, lands_on, title", [
    ("traps/meta-refresh.html", "facebook/", "Perstorps kommun | Facebook"),
    ("traps/script-redirect.html", "instagram/", "Perstorps kommun (@perstorpskommun) • Instagram"),
])
def test_navigation_after_load_is_followed_to_the_page_in_the_shot(sample_site, tmp_path, page, lands_on, title):
    record, folder = capture(sample_site.url + page, tmp_path)
    assert record.status is CaptureStatus.captured
    assert (record.page.final_url, record.page.title) == (sample_site.url + lands_on, title)
    assert [h.kind for h in record.page.hops] == ["load", "navigation"]
    assert record.page.hops[-1].http_status == 200
    assert title.split(" ")[0] in (folder / "page.html").read_text(encoding="utf-8")
    html = (folder / "page.html").read_text(encoding="utf-8")
    assert "<title>" + title.replace("&", "&amp;") in html


def test_a_history_change_moves_the_final_url(sample_site, tmp_path):
    record, _ = capture(sample_site.url + "traps/history-change.html", tmp_path)
    assert record.page.final_url.endswith("/traps/history-change.html?tab=posts")
    assert record.page.hops[-1].kind == "history"


def test_a_late_navigation_to_an_internal_address_is_blocked_and_never_reached(sample_site, forbidden_site,
                                                                                 tmp_path):
    target = forbidden_site.url + "admin"
    record, folder = capture(sample_site.url + f"traps/script-redirect.html?to={target}", tmp_path)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "unsafe-target"
    assert "127.0.0.2" in record.wall.reason
    assert not forbidden_site.hits
    assert not (folder / "startpage.png").exists(), "a browser error page is never filed as the snapshot"
    assert record.page.final_url == sample_site.url + f"traps/script-redirect.html?to={target}"
    assert record.page.hops[-1].kind == "error"
    assert any("127.0.0.2" in b.target for b in record.blocked_requests)


def test_a_late_navigation_to_a_dead_server_fails_instead_of_filing_an_error_page(sample_site, tmp_path):
    with SampleSite() as gone:
        dead = gone.url + "weg"
    with pytest.raises(CaptureError, match="error page|HTTP 50"):
        capture(sample_site.url + f"traps/script-redirect.html?to={dead}", tmp_path)
    assert not list(tmp_path.glob("captures/trap/*")), "nothing half-made is left behind"


def test_refused_local_files_are_in_the_record(sample_site, tmp_path):
    record, _ = capture(sample_site.url + "traps/local-file.html", tmp_path / "img")
    assert record.status is CaptureStatus.captured
    assert [b.target for b in record.blocked_requests] == ["file:///etc/hostname"]

    record, _ = capture(sample_site.url + "traps/redirect?to=file:///etc/passwd", tmp_path / "redirect")
    assert record.status is CaptureStatus.blocked and record.wall.kind == "unsafe-target"
    assert "UNSAFE_REDIRECT" in record.wall.reason and record.blocked_requests


def test_a_sign_in_overlay_after_scrolling_is_closed_with_evidence(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "traps/login-overlay.html", tmp_path)
    assert record.status is CaptureStatus.captured
    assert (folder / "overlay-before.png").exists()
    assert any("sign-in overlay" in n and "Stäng" in n for n in record.notes)
    assert pixel(folder / "startpage.png", (60, 450)) == PAGE_BACKGROUND, "the archived page has no overlay"


def test_an_overlay_that_cannot_be_closed_is_a_login_wall_with_a_complete_record(sample_site, tmp_path):
    url = sample_site.url + "traps/login-overlay.html?closable=0"
    record, folder = capture(url, tmp_path)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "login"
    assert record.page.title.startswith("Perstorps kommun") and record.page.final_url == url
    names = {f.name: f.size for f in record.views[0].files}
    assert {"overlay-before.png", "wall.png", "wall.html"} <= set(names) and all(names.values())
    assert record.views[0].settle is not None


def test_a_login_wall_record_names_the_wall_and_its_title(sample_site, tmp_path):
    record, _ = capture(sample_site.url + "traps/to-login", tmp_path)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "login"
    assert record.page.final_url == sample_site.url + "accounts/login/?next=/perstorp"
    assert record.page.title == "Logga in | Plattformen"
    assert [h.kind for h in record.page.hops] == ["load", "redirect"]


def test_every_view_of_a_capture_names_its_screenshot_and_files(sample_site, tmp_path):
    record, folder = capture(sample_site.url + "facebook/", tmp_path, mobile_view=True)
    for view in record.views:
        assert view.screenshot and (folder / view.screenshot).exists()
        assert {f.name for f in view.files} >= {view.screenshot}
        assert all(f.size == (folder / f.name).stat().st_size for f in view.files)
        assert view.settle.outcome == "complete"


def teardown_module():
    close_pool()
