"""The weekly watch end to end: sample pages that change between watches (real Chromium, SeaweedFS, Prefect).

One account, `watch-kommun`, served at /watch/kommun/ in the version the test sets. The first watch
has nothing to compare with; a version that changes only in noise raises nothing; a new profile
picture is a major change: the watch before it becomes a permanent capture, a snapshot of the new
state is filed, the event is emitted and the review image is filed with the watch.
"""

from __future__ import annotations

import json

import pytest

from somearkiv.models import CaptureStatus, Trigger
from somearkiv.retention import read_retention_schedule
from somearkiv.settings import get_settings
from tasks.watch.capture import light_capture
from tasks.watch.config import read_watch_config
from tasks.watch.promote import PROMOTION_REASON

from .factories import account

ACCOUNT = "watch-kommun"


@pytest.fixture(scope="module")
def watch_register(sample_site, data_dir):
    path = data_dir / "watch-accounts.yaml"
    path.write_text(f"""register_version: 1
municipality: Perstorps kommun
accounts:
  - id: {ACCOUNT}
    platform: other
    handle: perstorpskommun
    name: Perstorps kommun
    url: {sample_site.url}watch/kommun/
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Bevakningens provsida.
    opened: 2020-01-01
""", encoding="utf-8")
    return path


@pytest.mark.browser
@pytest.mark.parametrize("kind, platform, rule", [("kommun", "other", "generic:"), ("mastodon", "mastodon", "mastodon:")])
def test_elements_are_found_by_platform_rules_and_the_fallback(sample_site, tmp_path, kind, platform, rule):
    sample_site.set_watch_version(kind, "v1")
    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    watch, folder = light_capture(account(id=f"x-{kind}", platform=platform, url=f"{sample_site.url}watch/{kind}/"),
                                  municipality="Perstorps kommun", config=read_watch_config(),
                                  retention_class="bevakning-90d", settings=settings)
    assert watch.status is CaptureStatus.captured
    found = {e.element: e for e in watch.elements}
    assert found["name"].text == "Perstorps kommun" and found["name"].rule.startswith(rule)
    assert found["handle"].text.startswith("@perstorpskommun")
    assert found["bio"].text.startswith("Välkommen till Perstorps kommuns officiella sida")
    assert found["link"].href == "https://www.perstorp.se/"
    assert "Viktigt: så når du kommunen" in found["pinned"].text
    for image in ("avatar", "banner"):
        assert found[image].dhash and found[image].phash and (folder / f"{image}.png").exists()
    assert watch.metrics.followers.value == 4812
    names = {f.name for f in watch.files}
    assert {"startpage.png", "page.html", "page-text.txt", "elements.json", "words-desktop.json"} <= names
    assert not names & {"page.pdf", "page.warc.gz", "startpage-mobile.png"}  # light: none of these
    noise = {n[4] for n in json.loads((folder / "elements.json").read_text())["noise"]}
    assert {"date", "counter", "ad", "rotating", "feed"} <= noise


def test_watch_noise_and_an_unannounced_major_change(prefect_server, archive, sample_site, watch_register,
                                                     monkeypatch):
    import flows.watch as watch_flow
    from somearkiv.runstate import run_result

    emitted = []
    real_emit = watch_flow.emit
    monkeypatch.setattr(watch_flow, "emit", lambda what, *a, **kw: (emitted.append((what, a, kw)),
                                                                      real_emit(what, *a, **kw)))

    def run(version: str):
        sample_site.set_watch_version("kommun", version)
        state = watch_flow.watch_accounts(account_ids=[ACCOUNT], register_path=str(watch_register), force=True,
                                          return_state=True)
        [outcome] = run_result(state)
        assert outcome.status == "watched", outcome
        return outcome

    first = run("v1")
    assert first.classification is None  # nothing to compare with yet
    noise = run("v1-noise")
    assert noise.classification == "ingen ändring" and noise.promoted_capture_id is None
    assert not emitted

    changed = run("v2-avatar")
    assert changed.classification == "större ändring" and changed.baseline == f"watch {noise.watch_id}"
    assert changed.announced is None

    # (1) the watch before the change is a permanent capture, ledgered, with the account's hold
    promoted = next(r for r in archive.list_captures(ACCOUNT) if r.capture_id == changed.promoted_capture_id)
    assert promoted.trigger is Trigger.change_detected and PROMOTION_REASON in promoted.reason
    assert noise.watch_id in promoted.reason and promoted.started_at == archive.read_watch(noise.watch_id).started_at
    assert promoted.retention_class == "bevaras" and promoted.lock.legal_hold
    assert archive.head(promoted.file("startpage.png").key).legal_hold
    assert promoted.file("startpage.png").sha256 == archive.read_watch(noise.watch_id).file("startpage.png").sha256
    assert promoted.pdfa is not None and promoted.pdfa.valid
    audit = [e for e in archive.read_audit() if e.account_id == ACCOUNT and PROMOTION_REASON in e.detail]
    assert audit and audit[-1].data["watch_id"] == noise.watch_id
    # the watch itself is untouched, short-lived and locked
    watch = archive.read_watch(noise.watch_id)
    info = archive.head(watch.file("startpage.png").key)
    assert info.lock_mode == "COMPLIANCE" and not info.legal_hold and watch.retention_class == "bevakning-90d"
    schedule = read_retention_schedule(get_settings().retention_config)
    assert watch.lock == schedule.get("bevakning-90d").lock_for(watch.started_at)

    # (2) a snapshot of the new state was filed at once
    snapshot = next(r for r in archive.list_captures(ACCOUNT) if r.capture_id == changed.snapshot_capture_id)
    assert snapshot.trigger is Trigger.change_detected and snapshot.started_at > promoted.started_at
    assert any(f.name == "startpage-mobile.png" for f in snapshot.files)  # a full capture

    # (3) the event, with the account as resource
    [(what, args, payload)] = emitted
    assert what == "major-change.detected" and args == (ACCOUNT,)
    assert payload["promoted_capture_id"] == promoted.capture_id and payload["changes"][0]["element"] == "avatar"

    # (4) the review: before and after side by side, filed with the watch; the change report beside it
    filed = archive.read_watch(changed.watch_id)
    assert changed.review_key == filed.file("review.png").key
    [report] = filed.changes
    assert report.classification == "större ändring" and [c.element for c in report.changes] == ["avatar"]

    # the next watch compares with the new state (the snapshot is newer than the last watch): nothing more
    after = run("v2-avatar")
    assert after.classification == "ingen ändring" and after.promoted_capture_id is None
    assert len(emitted) == 1


@pytest.fixture(scope="module")
def since_register(watch_register, data_dir):
    path = data_dir / "since-accounts.yaml"
    path.write_text(watch_register.read_text(encoding="utf-8").replace(f"id: {ACCOUNT}", "id: since-kommun"),
                    encoding="utf-8")
    return path


def test_each_snapshot_says_what_changed_from_the_elements_read_on_the_live_page(prefect_server, archive, sample_site,
                                                                                 since_register, monkeypatch):
    """Snapshots compare the elements each capture read on the live page (elements.json): no page is
    rendered again; the offline rendering kept for older captures finds the same elements."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    import tasks.watch.run as watch_run
    from flows.snapshot import snapshot_accounts
    from somearkiv.runstate import run_result
    from tasks.inactivity import is_inactive

    def run(version: str):
        sample_site.set_watch_version("kommun", version)
        state = snapshot_accounts(account_ids=["since-kommun"], register_path=str(since_register),
                                  trigger=Trigger.manual, reason="test", batch_size=0, return_state=True)
        summary = run_result(state)
        [outcome] = summary.outcomes
        assert outcome.status is CaptureStatus.captured, outcome
        # said as it was filed: the account's page in this run, with the change; inactivity as its history says
        with get_client(sync_client=True) as client:
            [card] = client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["capture-since-kommun"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[summary.flow_run_id])))
        assert outcome.change in card.data and outcome.capture_id in card.data
        assert outcome.inactive is is_inactive(archive.list_captures("since-kommun"), get_settings().inactive_after)
        return outcome

    first = run("v1")
    assert first.change == "första ögonblicksbilden / first snapshot" and first.follower_change is None
    rendered = watch_run._rendered_elements
    with monkeypatch.context() as patch:
        patch.setattr(watch_run, "_rendered_elements", lambda *a: pytest.fail("a snapshot was rendered again"))
        noise = run("v1-noise")
        assert noise.change.startswith("ingen ändring sedan") and noise.follower_change == 4836 - 4812
        changed = run("v2-bio")
    assert changed.change.startswith("större ändring sedan") and "bio:" in changed.change, changed.change
    assert changed.follower_change == 0

    [record] = [r for r in archive.list_captures("since-kommun") if r.capture_id == changed.capture_id]
    live = watch_run.snapshot_side(archive, record, get_settings(), screenshot=False)
    offline = watch_run.snapshot_side(archive, record, get_settings(), screenshot=False, rendered=True)
    assert live.screenshot is None and rendered is watch_run._rendered_elements
    for name in ("name", "handle", "bio"):
        assert live.elements[name].found and live.elements[name].text == offline.elements[name].text, name


def test_a_review_whose_history_cannot_be_read_still_makes_the_page_and_says_nothing_wrong(prefect_server, archive,
                                                                                          tmp_path, monkeypatch):
    """review_capture: S3 failing on the account's earlier records is said as "not compared" (never "first
    snapshot", never inactive), and the account's page is made all the same."""
    from prefect import flow, get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from somearkiv.models import LedgerObject
    from storage import Archive, ArchiveError
    from tasks.review import review_capture

    from .factories import record

    filed = (record(account=account(id="review-unread")), tmp_path)
    earlier = [LedgerObject(key="captures/review-unread/2026-01-01T040000Z-scheduled/record.json", version_id="v")]

    @flow(name="review-check")
    def review(found):
        return review_capture(filed, found)

    assert review([]).change == "första ögonblicksbilden / first snapshot"  # none before it

    def refused(self, objects):
        raise ArchiveError("S3 went away")

    monkeypatch.setattr(Archive, "read_records", refused)
    for found in (earlier, None):  # not read, or not found by recent-captures
        said = review(found)
        assert said.change.startswith("inte jämförd / not compared") and not said.inactive, said
        assert said.follower_change is None
    with get_client(sync_client=True) as client:
        cards = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["capture-review-unread"])))
    assert len(cards) == 3 and sum("inte jämförd / not compared" in c.data for c in cards) == 2
