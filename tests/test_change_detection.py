"""Change detection without servers: hashes, noise, element comparison, score and classification."""

from __future__ import annotations

import datetime as dt

import pytest
from PIL import Image, ImageDraw

from somearkiv.models import Metrics, MetricValue, WatchElement
from tasks.watch.compare import Side, classify, compare, text_diff
from tasks.watch.config import WatchConfig, read_watch_config
from tasks.watch.extract import normalise, rules_for, strip_noise
from tasks.watch.images import colour_distance, dhash, hamming, mask, mean_colour, phash, similarity

NOW = dt.datetime(2026, 11, 30, 5, 30, tzinfo=dt.UTC)


def _logo(kind: str, size: int = 160) -> Image.Image:
    image = Image.new("RGB", (size, size), "#1f618d" if kind == "a" else "#1e8449")
    draw = ImageDraw.Draw(image)
    if kind == "a":
        draw.ellipse((size * .26, size * .2, size * .74, size * .68), fill="#f4d03f")
        draw.rectangle((size * .2, size * .74, size * .8, size * .85), fill="white")
    else:
        draw.polygon([(size / 2, size * .1), (size * .9, size * .9), (size * .1, size * .9)], fill="white")
    return image


def _element(name: str, image: Image.Image | None = None, **fields) -> WatchElement:
    if image is not None:
        fields.update(dhash=dhash(image), phash=phash(image), colour=mean_colour(image))
    return WatchElement(element=name, found=True, **fields)


def _metrics(followers: int | None, posts: int | None) -> Metrics:
    def value(v):
        return MetricValue(value=v, source="page", read_at=NOW)

    return Metrics(followers=value(followers), posts_last_month=value(posts), window_start=NOW - dt.timedelta(30),
                   window_end=NOW)


def _side(id_: str, *, name="Perstorps kommun", bio="Vi svarar vardagar 8–16.", pinned="Fäst 3 tim Viktigt om storm. 12 gillar",
          avatar="a", followers=4812, posts=5) -> Side:
    elements = {e.element: e for e in (
        _element("name", text=name), _element("handle", text="@perstorpskommun"), _element("bio", text=bio),
        _element("link", text="perstorp.se", href="https://www.perstorp.se/"),
        _element("avatar", _logo(avatar)), _element("pinned", text=pinned))}
    return Side(id=id_, kind="watch", at=NOW, elements=elements, metrics=_metrics(followers, posts))


CONFIG = read_watch_config()


def test_the_shipped_config_is_valid_and_weekly():
    assert CONFIG.every_days == 7 and CONFIG.retention_class == "bevakning-90d"
    assert CONFIG.due("x", None, NOW)
    assert not CONFIG.due("x", NOW - dt.timedelta(days=3), NOW)
    assert CONFIG.due("x", NOW - dt.timedelta(days=6, hours=13), NOW)  # a run that started a little late
    daily = WatchConfig(accounts={"busy": {"every_days": 1}, "off": {"enabled": False}})
    assert daily.due("busy", NOW - dt.timedelta(days=1), NOW) and not daily.due("off", None, NOW)
    with pytest.raises(ValueError):
        WatchConfig(thresholds={"minor": 0.6, "major": 0.5})


def test_perceptual_hashes_see_the_same_picture_and_another_one():
    a = _logo("a")
    scaled = a.resize((97, 97)).resize((160, 160))  # recompressed, rescaled
    assert hamming(dhash(a), dhash(scaled)) <= 4 and hamming(phash(a), phash(scaled)) <= 4
    b = _logo("b")
    assert hamming(dhash(a), dhash(b)) > CONFIG.image_hash_bits and hamming(phash(a), phash(b)) > CONFIG.image_hash_bits
    flat_blue, flat_red = Image.new("RGB", (50, 50), "blue"), Image.new("RGB", (50, 50), "red")
    assert colour_distance(mean_colour(flat_blue), mean_colour(flat_red)) > CONFIG.image_colour_distance


def test_visual_similarity_with_noise_masked():
    page = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(page).rectangle((10, 10, 100, 60), fill="navy")
    other = page.copy()
    ImageDraw.Draw(other).rectangle((300, 200, 380, 280), fill="orange")  # a new ad in the corner
    score, regions = similarity(page, other)
    assert score < 1 and regions and regions[0][0] >= 288
    masked, none = similarity(mask(page, [(290, 190, 100, 100)]), mask(other, [(290, 190, 100, 100)]))
    assert masked == 1.0 and none == []


@pytest.mark.parametrize("text, expected", [
    ("Fäst inlägg 3 tim Viktigt om storm", "Fäst inlägg Viktigt om storm"),
    ("för 2 dagar sedan: snöröjning", ": snöröjning"),
    ("igår Nu är julbelysningen tänd", "Nu är julbelysningen tänd"),
    ("5 hours ago Road works", "Road works"),
    ("12 nov. 2026 Bibliotek", "Bibliotek"),
])
def test_relative_and_absolute_dates_are_noise(text, expected):
    assert strip_noise(text) == expected


def test_normalised_elements():
    assert normalise("pinned", "3 tim Viktigt om storm. 12 gillar") == normalise("pinned", "5 tim Viktigt om storm. 15 gillar")
    assert normalise("link", "https://www.perstorp.se/") == "perstorp.se"
    assert normalise("bio", "Öppet 8–16") != normalise("bio", "Öppet 9–15")  # numbers in a bio are meaning


def test_noise_only_is_no_change():
    before = _side("w1")
    after = _side("w2", pinned="Fäst 5 tim Viktigt om storm. 15 gillar", followers=4836)
    report = compare(before, after, CONFIG, watch_id="w2")
    assert report.classification == "ingen ändring" and report.score == 0
    assert any("pinned: only noise" in i for i in report.ignored)
    assert any("followers" in i and "not a jump" in i for i in report.ignored)


@pytest.mark.parametrize("change, element", [
    ({"name": "Perstorp – Skånes gröna hjärta"}, "name"),
    ({"avatar": "b"}, "avatar"),
    ({"bio": "Nyheter om valet 2026 och kommunens nya organisation."}, "bio"),
    ({"pinned": "Fäst 1 tim Ny webbplats med alla e-tjänster."}, "pinned"),
])
def test_each_major_change_alone_is_major(change, element):
    report = compare(_side("w1"), _side("w2", **change), CONFIG, watch_id="w2")
    assert report.classification == "större ändring", report
    assert [c.element for c in report.changes] == [element]


def test_followers_jump_and_posting_stopped_are_minor_together():
    report = compare(_side("w1"), _side("w2", followers=2000, posts=0), CONFIG, watch_id="w2")
    assert {c.element for c in report.changes} == {"followers", "posting"}
    assert report.score == pytest.approx(CONFIG.weight("followers") + CONFIG.weight("posting"))
    assert report.classification == "mindre ändring"


def test_a_small_edit_of_the_bio_is_minor_and_thresholds_come_from_config():
    report = compare(_side("w1"), _side("w2", bio="Vi svarar vardagar 8–16!"), CONFIG, watch_id="w2")
    assert report.classification in ("ingen ändring", "mindre ändring") and report.score < CONFIG.thresholds.major
    strict = WatchConfig(thresholds={"minor": 0.01, "major": 0.02})
    assert classify(report.score, strict) == "större ändring"


def test_missing_element_is_a_presence_change():
    after = _side("w2")
    after.elements.pop("pinned")
    report = compare(_side("w1"), after, CONFIG, watch_id="w2")
    [change] = report.changes
    assert change.kind == "presence" and change.element == "pinned"


def test_rules_put_the_platform_first_and_fall_back_to_generic():
    rules = rules_for("mastodon")
    assert rules["bio"][0].startswith("mastodon|") and rules["bio"][-1].startswith("generic|meta:")
    assert all(r.startswith("generic|") for r in rules_for("other")["name"])


def test_text_diff_marks_removed_and_added_words():
    assert text_diff("Perstorps kommun", "Perstorp kommun") == "~~Perstorps~~ **Perstorp** kommun"


def test_weekly_watch_is_deployed_the_same_way_in_serve_and_prefect_yaml():
    import yaml

    from deployments.definitions import SERVE_SUFFIX, served_deployments
    from somearkiv.settings import PROJECT_ROOT, get_settings

    served = {d.name: d for d in served_deployments(get_settings())}["weekly-watch" + SERVE_SUFFIX]
    [schedule] = served.schedules
    declared = {d["name"]: d for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]}
    assert declared["weekly-watch"]["entrypoint"] == "flows/watch.py:watch_accounts"
    assert declared["weekly-watch"]["schedules"] == [{"cron": schedule.schedule.cron, "timezone": "Europe/Stockholm"}]
    assert schedule.schedule.cron == CONFIG.cron
