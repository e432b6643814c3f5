"""What a person looks at after a change: before and after side by side, the text diff, the numbers."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from somearkiv.models import ChangeReport, WatchOutcome
from tasks.watch.compare import Side, text_diff

__all__ = ["REVIEW_NAME", "review_image", "review_markdown", "summary_markdown", "watch_artifact_key"]

REVIEW_NAME = "review.png"
_RED, _ORANGE = (220, 30, 30), (245, 140, 0)


def watch_artifact_key(account_id: str) -> str:
    return "watch-" + re.sub(r"[^a-z0-9-]", "-", account_id.lower())


def _font(size: int):
    """The project's bundled DejaVu Sans (å, ä, ö), else PIL's own."""
    path = Path(__file__).resolve().parents[1] / "vendor" / "fonts" / "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default()


def review_image(before: Side, after: Side, report: ChangeReport, out: Path, max_height: int = 1600) -> Path | None:
    """Before (left) and after (right) at half size, changed regions in red, changed elements in orange."""
    if before.screenshot is None or after.screenshot is None:
        return None
    scale, label = 0.5, 36
    changed = {c.element for c in report.changes}
    with Image.open(before.screenshot) as a, Image.open(after.screenshot) as b:
        height = min(max(a.height, b.height), max_height)
        width = max(a.width, b.width)
        sheet = Image.new("RGB", (int(width * scale) * 2 + 12, int(height * scale) + label), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        font = _font(16)
        for index, (image, side, title) in enumerate(((a, before, "Före / Before"), (b, after, "Efter / After"))):
            left = index * (int(width * scale) + 12)
            shot = image.convert("RGB").crop((0, 0, image.width, min(image.height, height)))
            shot = shot.resize((int(shot.width * scale), int(shot.height * scale)))
            sheet.paste(shot, (left, label))
            draw.text((left + 4, 8), f"{title}: {side.id} ({side.at:%Y-%m-%d %H:%M} UTC)", fill=(0, 0, 0), font=font)
            for x, y, w, h in report.regions:
                draw.rectangle((left + x * scale, label + y * scale, left + (x + w) * scale, label + (y + h) * scale),
                               outline=_RED, width=2)
            for name, element in side.elements.items():
                if name in changed and element.box:
                    x, y, w, h = element.box
                    draw.rectangle((left + x * scale - 3, label + y * scale - 3, left + (x + w) * scale + 3,
                                    label + (y + h) * scale + 3), outline=_ORANGE, width=3)
    sheet.save(out, format="PNG", optimize=True)
    return out


def _cell(text: str | None) -> str:
    return (text or "—").replace("|", "\\|").replace("\n", " ")[:300]


def review_markdown(account_name: str, outcome: WatchOutcome, report: ChangeReport, before: Side, after: Side,
                    image_url: str | None) -> str:
    """The review artifact: headline, the picture, each change with its diff, the numbers, the noise ignored."""
    lines = [f"# {report.classification.capitalize()} – {account_name}",
             "",
             f"Bevakning / watch **{report.watch_id}** jämförd med / compared with {report.baseline} "
             f"**{report.compared_with}**: poäng / score **{report.score}** ({report.classification}).", ""]
    if outcome.announced:
        lines.append(f"Ändringen var anmäld / announced: {outcome.announced}.")
    if outcome.promoted_capture_id:
        lines.append(f"Senaste tillstånd före ändringen bevaras som / the last state before it is kept as "
                     f"**{outcome.promoted_capture_id}**.")
    if outcome.snapshot_capture_id:
        lines.append(f"Ögonblicksbild av det nya tillståndet / snapshot of the new state: "
                     f"**{outcome.snapshot_capture_id}**.")
    if image_url:
        lines += ["", f"![Före och efter / before and after]({image_url})", "",
                  "Röda rutor: ändrade områden; orange: ändrade element. / Red: changed regions; orange: changed "
                  "elements."]
    lines += ["", "| Element | Före / Before | Efter / After | Skillnad / Diff | Poäng / Score |",
              "|---|---|---|---|---|"]
    for c in report.changes:
        diff = text_diff(c.before, c.after) if c.kind == "text" else c.detail
        lines.append(f"| {c.element} | {_cell(c.before)} | {_cell(c.after)} | {_cell(diff)} | "
                     f"{c.score} ({c.degree} × {c.weight}) |")
    lines += ["", "| Mått / Metric | Före / Before | Efter / After |", "|---|---|---|"]
    for name in ("followers", "posts_last_month"):
        old = getattr(before.metrics, name).value if before.metrics else None
        new = getattr(after.metrics, name).value if after.metrics else None
        lines.append(f"| {name} | {old if old is not None else 'okänt'} | {new if new is not None else 'okänt'} |")
    if report.ignored:
        lines += ["", "Brus som inte räknades / noise not counted:", ""] + [f"- {_cell(i)}" for i in report.ignored]
    return "\n".join(lines)


def summary_markdown(outcomes: list[WatchOutcome]) -> str:
    major = [o for o in outcomes if o.classification == "större ändring"]
    head = (f"{len(major)} större ändring(ar) av {len(outcomes)} konton" if major
            else f"Inga större ändringar ({len(outcomes)} konton)")
    lines = [f"# Veckobevakning / weekly watch: {head}", "",
             "| Konto / Account | Status | Ändring / Change | Poäng / Score | Jämfört med / Baseline | Åtgärd / Action |",
             "|---|---|---|---|---|---|"]
    order = {"större ändring": 0, "mindre ändring": 1, None: 2, "ingen ändring": 3}
    for o in sorted(outcomes, key=lambda o: (o.status != "failed", order.get(o.classification, 2), o.account_id)):
        action = "; ".join(x for x in (
            f"anmäld: {o.announced}" if o.announced else "",
            f"bevarad: {o.promoted_capture_id}" if o.promoted_capture_id else "",
            f"ögonblicksbild: {o.snapshot_capture_id}" if o.snapshot_capture_id else "",
            o.error or "") if x) or "—"
        lines.append(f"| {o.account_id} | {o.status} | {o.classification or '—'} | "
                     f"{'—' if o.score is None else o.score} | {o.baseline or '—'} | {_cell(action)} |")
    return "\n".join(lines)
