"""Change detection: two states of one profile compared element by element, scored and classified.

Per element: name, handle, bio and link as text (difflib's similarity, after the noise is taken out:
relative and absolute dates, and in the pinned post its counters); avatar and banner by perceptual
hash (dHash and pHash: both must move past ``image_hash_bits``) or mean colour; the pinned post
as text and presence; the page's layout by a visual similarity score with the noise masked
(dates, counters, ads, suggestions and the feed); followers by jumps, posting by stopping. Each
difference has a degree (0..1); the score is the sum of degree × weight (config/watch.yaml), and
the classification is *ingen*, *mindre* or *större ändring* by the thresholds.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from somearkiv.models import ChangeReport, ElementChange, Metrics, WatchElement
from tasks.watch.config import WatchConfig
from tasks.watch.extract import normalise
from tasks.watch.images import colour_distance, hamming, mask, similarity

__all__ = ["Side", "classify", "compare", "text_diff"]

Box = tuple[int, int, int, int]
TEXT_ELEMENTS = ("name", "handle", "bio", "link", "pinned")
IMAGE_ELEMENTS = ("avatar", "banner")


@dataclass
class Side:
    """One state of the profile: a watch, or the last snapshot."""

    id: str
    kind: str  # "watch" or "snapshot"
    at: dt.datetime
    elements: dict[str, WatchElement]
    metrics: Metrics | None = None
    screenshot: Path | None = None
    noise: list[Box] = field(default_factory=list)
    shot_height: int | None = None

    @classmethod
    def of_watch(cls, record, folder: Path) -> Side:
        """A filed or fresh WatchRecord with its local folder (elements.json holds the noise boxes)."""
        noise: list[Box] = []
        found = folder / "elements.json"
        if found.exists():
            noise = [tuple(n[:4]) for n in json.loads(found.read_text(encoding="utf-8")).get("noise", [])]
        shot = folder / "startpage.png"
        return cls(id=record.watch_id, kind="watch", at=record.started_at,
                   elements={e.element: e for e in record.elements}, metrics=record.metrics,
                   screenshot=shot if shot.exists() else None, noise=noise)


def classify(score: float, config: WatchConfig) -> str:
    if score >= config.thresholds.major:
        return "större ändring"
    if score >= config.thresholds.minor:
        return "mindre ändring"
    return "ingen ändring"


def _text_of(element: WatchElement | None) -> str:
    if element is None or not element.found:
        return ""
    if element.element == "link":
        return normalise("link", element.href or element.text)
    return normalise(element.element, element.text)


def _text_change(name: str, before: WatchElement | None, after: WatchElement | None,
                 config: WatchConfig, ignored: list[str]) -> ElementChange | None:
    old, new = _text_of(before), _text_of(after)
    weight = config.weight(name)
    raw_old = (before.text if before else None) or None
    raw_new = (after.text if after else None) or None
    if old == new:
        if (raw_old or "") != (raw_new or ""):
            ignored.append(f"{name}: only noise changed ({_short(raw_old)} → {_short(raw_new)})")
        return None
    if not old or not new:
        kind, degree = "presence", 1.0
        detail = "appeared" if new else "gone (not found on the page)"
    else:
        ratio = difflib.SequenceMatcher(None, old, new, autojunk=False).ratio()
        kind, degree = "text", min(1.0, (1 - ratio) / config.text_full_change)
        detail = f"{round((1 - ratio) * 100)} % different"
    return ElementChange(element=name, kind=kind, before=raw_old if name != "link" else (before.href if before else None),
                         after=raw_new if name != "link" else (after.href if after else None),
                         degree=round(degree, 3), weight=weight, score=round(degree * weight, 3), detail=detail)


def _image_change(name: str, before: WatchElement | None, after: WatchElement | None,
                  config: WatchConfig, ignored: list[str]) -> ElementChange | None:
    weight = config.weight(name)
    had, has = bool(before and before.found and before.dhash), bool(after and after.found and after.dhash)
    if not had and not has:
        return None
    if had != has:
        return ElementChange(element=name, kind="presence", before="shown" if had else None,
                             after="shown" if has else None, degree=1.0, weight=weight, score=weight,
                             detail="appeared" if has else "gone (not found on the page)")
    assert before is not None and after is not None
    d, p = hamming(before.dhash, after.dhash), hamming(before.phash, after.phash)
    colour = colour_distance(before.colour, after.colour) or 0.0
    detail = f"dHash {d}/64 bits, pHash {p}/64 bits, colour {colour:.0f}"
    other_shape = d is not None and p is not None and d > config.image_hash_bits and p > config.image_hash_bits
    other_colour = colour > config.image_colour_distance
    if not other_shape and not other_colour:
        if d or p or colour > 1:
            ignored.append(f"{name}: same image ({detail})")
        return None
    return ElementChange(element=name, kind="image", before=before.dhash, after=after.dhash, degree=1.0,
                         weight=weight, score=weight, detail=("another image: " if other_shape else
                                                              "another colour: ") + detail)


def _layout(before: Side, after: Side, config: WatchConfig,
            ignored: list[str]) -> tuple[ElementChange | None, float | None, list[Box]]:
    if before.screenshot is None or after.screenshot is None:
        return None, None, []
    noise = before.noise + after.noise
    with Image.open(before.screenshot) as a, Image.open(after.screenshot) as b:
        height = min(a.height, b.height, before.shot_height or a.height, after.shot_height or b.height)
        a_img = mask(a.crop((0, 0, a.width, height)), noise)
        b_img = mask(b.crop((0, 0, b.width, height)), noise)
    score, regions = similarity(a_img, b_img)
    if score >= config.layout_min_similarity:
        if regions:
            ignored.append(f"layout: {len(regions)} small region(s) differ, similarity {score:.3f}")
        return None, score, regions
    span = config.layout_min_similarity - config.layout_full_change
    degree = min(1.0, (config.layout_min_similarity - score) / span)
    weight = config.weight("layout")
    return (ElementChange(element="layout", kind="layout", before=None, after=None, degree=round(degree, 3),
                          weight=weight, score=round(degree * weight, 3),
                          detail=f"visual similarity {score:.3f} (noise masked), {len(regions)} region(s) changed"),
            score, regions)


def _metrics(before: Metrics | None, after: Metrics | None, config: WatchConfig,
             ignored: list[str]) -> list[ElementChange]:
    changes: list[ElementChange] = []
    if before is None or after is None:
        return changes
    old, new = before.followers.value, after.followers.value
    if old is not None and new is not None and old != new:
        delta = new - old
        if abs(delta) >= max(config.followers_jump_min, config.followers_jump * max(old, 1)):
            weight = config.weight("followers")
            changes.append(ElementChange(element="followers", kind="metric", before=str(old), after=str(new),
                                         degree=1.0, weight=weight, score=weight,
                                         detail=f"{delta:+d} ({delta / max(old, 1):+.0%}): a jump"))
        else:
            ignored.append(f"followers: {old} → {new} ({delta:+d}), a counter moving, not a jump")
    old_posts, new_posts = before.posts_last_month.value, after.posts_last_month.value
    if old_posts and new_posts == 0:
        weight = config.weight("posting")
        changes.append(ElementChange(element="posting", kind="metric", before=str(old_posts), after="0",
                                     degree=1.0, weight=weight, score=weight,
                                     detail="posting stopped: no written post in the last 30 days"))
    return changes


def compare(before: Side, after: Side, config: WatchConfig, *, watch_id: str,
            images: bool = True) -> ChangeReport:
    """What changed from *before* to *after*.

    images: compare avatar, banner and layout too (False against a snapshot whose page could not be
    rendered the same way: then its texts and numbers only)."""
    ignored: list[str] = []
    changes: list[ElementChange] = []
    for name in TEXT_ELEMENTS:
        change = _text_change(name, before.elements.get(name), after.elements.get(name), config, ignored)
        if change:
            changes.append(change)
    regions: list[Box] = []
    layout_score = None
    if images:
        for name in IMAGE_ELEMENTS:
            change = _image_change(name, before.elements.get(name), after.elements.get(name), config, ignored)
            if change:
                changes.append(change)
        layout, layout_score, regions = _layout(before, after, config, ignored)
        if layout:
            changes.append(layout)
    changes += _metrics(before.metrics, after.metrics, config, ignored)
    score = round(sum(c.score for c in changes), 3)
    return ChangeReport(watch_id=watch_id, baseline="watch" if before.kind == "watch" else "snapshot",
                        compared_with=before.id, compared_at=dt.datetime.now(dt.UTC), score=score,
                        classification=classify(score, config), changes=tuple(changes),
                        layout_similarity=layout_score, regions=tuple(regions), ignored=tuple(ignored))


def text_diff(before: str | None, after: str | None) -> str:
    """A word diff in markdown: ~~removed~~ **added**."""
    a, b = (before or "").split(), (after or "").split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(" ".join(a[i1:i2]))
            continue
        if i2 > i1:
            out.append("~~" + " ".join(a[i1:i2]) + "~~")
        if j2 > j1:
            out.append("**" + " ".join(b[j1:j2]) + "**")
    return " ".join(out)


def _short(text: str | None, n: int = 60) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[: n - 1] + "…"
