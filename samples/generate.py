"""Writes the bundled sample start pages (samples/pages/*) that the demo and the tests serve.

They imitate the start pages of a municipality's accounts on four platforms: name, follower
count, a feed of dated posts with images. Run it again after editing; the output is committed.
"""

from __future__ import annotations

import html
from pathlib import Path

PAGES = Path(__file__).parent / "pages"

PLATFORMS = {
    "facebook": dict(
        title="Perstorps kommun | Facebook", brand="facebook", colour="#1877f2", name="Perstorps kommun",
        handle="@perstorpskommun", counters=[("4 812", "följare"), ("4 530", "gillar")],
        about="Välkommen till Perstorps kommuns officiella sida. Vi svarar på frågor vardagar 8–16.",
    ),
    "instagram": dict(
        title="Perstorps kommun (@perstorpskommun) • Instagram", brand="Instagram", colour="#c13584",
        name="perstorpskommun", handle="Perstorps kommun",
        counters=[("312", "inlägg"), ("2 143", "följare"), ("187", "följer")],
        about="Bilder från Perstorp – en kommun i Skåne. #perstorp",
    ),
    "youtube": dict(
        title="Perstorps kommun - YouTube", brand="YouTube", colour="#ff0000", name="Perstorps kommun",
        handle="@perstorpskommun", counters=[("1,2 tn", "prenumeranter"), ("214", "videor")],
        about="Kommunfullmäktige direkt och filmer om livet i Perstorp.",
    ),
    "mastodon": dict(
        title="Perstorps kommun (@perstorp@mastodon.nu) - Mastodon", brand="Mastodon", colour="#6364ff",
        name="Perstorps kommun", handle="@perstorp@mastodon.nu",
        counters=[("97", "inlägg"), ("356", "följare"), ("12", "följer")],
        about="Officiellt konto för Perstorps kommun. Inlägg är allmänna handlingar.",
    ),
}

POSTS = [
    ("2026-11-20", "Nu är julbelysningen tänd på torget! Välkommen till julmarknaden på lördag."),
    ("2026-11-12", "Vägarbete på Storgatan vecka 47–48. Följ skyltningen för omledning."),
    ("2026-11-03", "Biblioteket har förlängda öppettider under höstlovet."),
    ("2026-10-24", "Kommunfullmäktige sammanträder den 30 oktober. Sändningen startar 18.30."),
    ("2026-10-10", "Ansök om föreningsbidrag senast den 31 oktober."),
    ("2026-09-28", "Tack alla som kom på skördefesten i Perstorp!"),
]

IMAGE_COLOURS = ["#7fb3d5", "#a9dfbf", "#f9e79f", "#f5b7b1", "#d7bde2", "#aed6f1"]


def _svg(colour: str, label: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="320" viewBox="0 0 600 320">'
        f'<rect width="600" height="320" fill="{colour}"/>'
        '<circle cx="480" cy="90" r="50" fill="#ffffff" opacity="0.6"/>'
        '<path d="M0 260 L160 150 L300 240 L420 170 L600 280 L600 320 L0 320 Z" fill="#2e4053" opacity="0.5"/>'
        f'<text x="30" y="60" font-family="sans-serif" font-size="32" fill="#1b2631">{html.escape(label)}</text>'
        "</svg>"
    )


def _page(slug: str, p: dict) -> str:
    counters = "".join(
        f'<li><strong class="count">{n}</strong> <span>{html.escape(label)}</span></li>' for n, label in p["counters"]
    )
    posts = "".join(
        f"""
      <article class="post">
        <header><span class="author">{html.escape(p['name'])}</span>
          <time datetime="{day}T10:00:00+01:00">{day}</time></header>
        <p>{html.escape(text)}</p>
        <img src="img/post{i}.svg" alt="Bild till inlägget {day}" width="600" height="320"
             {'loading="lazy"' if i >= 2 else ''}>
      </article>"""
        for i, (day, text) in enumerate(POSTS)
    )
    return f"""<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>{html.escape(p['title'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{html.escape(p['name'])}">
<meta property="og:type" content="profile">
<style>
  body {{ margin: 0; font-family: "DejaVu Sans", sans-serif; background: #f0f2f5; color: #1c1e21; }}
  .topbar {{ position: sticky; top: 0; background: {p['colour']}; color: #fff; padding: 12px 24px;
            font-size: 22px; font-weight: bold; z-index: 10; }}
  .profile {{ background: #fff; padding: 24px; display: flex; gap: 24px; align-items: center; }}
  .avatar {{ width: 120px; height: 120px; border-radius: 50%; background: {p['colour']}; }}
  .profile h1 {{ margin: 0 0 4px; }}
  .handle {{ color: #65676b; }}
  ul.counters {{ list-style: none; padding: 0; display: flex; gap: 20px; }}
  main {{ max-width: 680px; margin: 16px auto; }}
  .post {{ background: #fff; border-radius: 8px; padding: 16px; margin-bottom: 16px; }}
  .post header {{ display: flex; justify-content: space-between; color: #65676b; }}
  .post img {{ width: 100%; height: auto; display: block; }}
</style>
</head>
<body class="platform-{slug}">
  <div class="topbar">{html.escape(p['brand'])}</div>
  <section class="profile">
    <div class="avatar" role="img" aria-label="Profilbild"></div>
    <div>
      <h1>{html.escape(p['name'])}</h1>
      <div class="handle">{html.escape(p['handle'])}</div>
      <ul class="counters">{counters}</ul>
      <p class="about">{html.escape(p['about'])}</p>
    </div>
  </section>
  <main>{posts}
  </main>
</body>
</html>
"""


def main() -> None:
    for slug, p in PLATFORMS.items():
        folder = PAGES / slug
        (folder / "img").mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(_page(slug, p), encoding="utf-8")
        for i, (day, _text) in enumerate(POSTS):
            colour = IMAGE_COLOURS[i % len(IMAGE_COLOURS)]
            (folder / "img" / f"post{i}.svg").write_text(_svg(colour, f"{p['brand']} {day}"), encoding="utf-8")


if __name__ == "__main__":
    main()
